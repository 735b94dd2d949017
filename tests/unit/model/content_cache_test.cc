#include "asanafs/model/content_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace asanafs::model {
namespace {

namespace fs = std::filesystem;

class ContentCacheTest : public testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/unit_model_cc.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    root_ = tmpl;
    dir_ = root_ + "/cache";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::unique_ptr<ContentCache> OpenOrDie() {
    auto r = ContentCache::Open(dir_);
    EXPECT_TRUE(r.has_value()) << (r.has_value() ? "" : r.error().message);
    return r.has_value() ? std::move(r).value() : nullptr;
  }

  static void WriteAll(int fd, const std::string& data) {
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  }

  static std::string ReadAll(int fd) {
    std::string out;
    char buf[4096];
    off_t off = 0;
    for (;;) {
      const ssize_t n = ::pread(fd, buf, sizeof(buf), off);
      if (n <= 0) {
        EXPECT_EQ(n, 0) << std::strerror(errno);
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
      off += n;
    }
  }

  // Fills and commits `gid` with `data`; returns the fd CommitFill gave back.
  static UniqueFd Put(ContentCache& cache, const std::string& gid, const std::string& data) {
    auto fill = cache.BeginFill(gid);
    EXPECT_TRUE(fill.has_value());
    if (!fill.has_value()) {
      return UniqueFd();
    }
    WriteAll(fill->fd(), data);
    auto fd = cache.CommitFill(std::move(fill).value());
    EXPECT_TRUE(fd.has_value()) << (fd.has_value() ? "" : fd.error().message);
    return fd.has_value() ? std::move(fd).value() : UniqueFd();
  }

  size_t CountEntries(const std::string& sub) const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_ + "/" + sub)) {
      ++n;
    }
    return n;
  }

  std::string root_;
  std::string dir_;
};

TEST_F(ContentCacheTest, OpenCreatesNestedPrivateDir) {
  dir_ = root_ + "/a/b/cache";
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  struct stat st;
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat((root_ + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_TRUE(fs::exists(dir_ + "/lock"));
  EXPECT_EQ(cache->UsedBytes(), 0u);
  EXPECT_EQ(cache->dir(), dir_);
}

TEST_F(ContentCacheTest, OpenLeavesExistingDirModeAlone) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0750), 0);
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  struct stat st;
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
}

TEST_F(ContentCacheTest, MissFillHit) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  EXPECT_FALSE(cache->OpenCached("1234", 5).has_value());

  UniqueFd committed = Put(*cache, "1234", "hello");
  ASSERT_TRUE(committed.valid());
  EXPECT_EQ(ReadAll(committed.get()), "hello");
  EXPECT_EQ(cache->UsedBytes(), 5u);

  auto hit = cache->OpenCached("1234", 5);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(ReadAll(hit->get()), "hello");
  EXPECT_FALSE(cache->OpenCached("9999", 5).has_value());
  EXPECT_EQ(CountEntries("tmp"), 0u);
}

TEST_F(ContentCacheTest, ReturnedFdsAreReadOnly) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  UniqueFd committed = Put(*cache, "1", "abc");
  ASSERT_TRUE(committed.valid());
  EXPECT_EQ(::pwrite(committed.get(), "x", 1, 0), -1);
  EXPECT_EQ(errno, EBADF);
  auto hit = cache->OpenCached("1", 3);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(::pwrite(hit->get(), "x", 1, 0), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(ReadAll(hit->get()), "abc");
}

TEST_F(ContentCacheTest, EmptyContentIsCacheable) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  Put(*cache, "77", "");
  auto hit = cache->OpenCached("77", 0);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(ReadAll(hit->get()), "");
  EXPECT_FALSE(cache->OpenCached("77", 1).has_value());
}

TEST_F(ContentCacheTest, WrongSizeIsDiscarded) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  Put(*cache, "42", "torn");
  EXPECT_EQ(cache->UsedBytes(), 4u);
  EXPECT_FALSE(cache->OpenCached("42", 10).has_value());
  EXPECT_FALSE(fs::exists(dir_ + "/content/42"));
  EXPECT_EQ(cache->UsedBytes(), 0u);
  // Gone for good, even at the size it used to have.
  EXPECT_FALSE(cache->OpenCached("42", 4).has_value());
}

TEST_F(ContentCacheTest, TruncatedFileOnDiskIsDiscarded) {
  // What a torn file would look like after a crash on a filesystem that lost
  // data despite the rename.
  {
    auto cache = OpenOrDie();
    ASSERT_NE(cache, nullptr);
    Put(*cache, "5", "0123456789");
  }
  ASSERT_EQ(::truncate((dir_ + "/content/5").c_str(), 3), 0);
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->UsedBytes(), 3u);
  EXPECT_FALSE(cache->OpenCached("5", 10).has_value());
  EXPECT_EQ(cache->UsedBytes(), 0u);
  EXPECT_FALSE(fs::exists(dir_ + "/content/5"));
}

TEST_F(ContentCacheTest, UncommittedFillIsInvisibleAndDiscarded) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  {
    auto fill = cache->BeginFill("8");
    ASSERT_TRUE(fill.has_value());
    EXPECT_EQ(fill->gid(), "8");
    WriteAll(fill->fd(), "partial");
    // Readable through the fill's own fd while downloading.
    EXPECT_EQ(ReadAll(fill->fd()), "partial");
    EXPECT_FALSE(cache->OpenCached("8", 7).has_value());
    EXPECT_FALSE(fs::exists(dir_ + "/content/8"));
    EXPECT_EQ(CountEntries("tmp"), 1u);
    EXPECT_EQ(cache->UsedBytes(), 0u);
  }
  EXPECT_EQ(CountEntries("tmp"), 0u);
  EXPECT_FALSE(cache->OpenCached("8", 7).has_value());
}

TEST_F(ContentCacheTest, MovedFillKeepsOwnershipAndMovedFromCannotCommit) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  auto fill = cache->BeginFill("3");
  ASSERT_TRUE(fill.has_value());
  Fill a = std::move(fill).value();
  Fill b = std::move(a);
  WriteAll(b.fd(), "xy");
  auto bad = cache->CommitFill(std::move(a));  // NOLINT(bugprone-use-after-move): on purpose
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(CountEntries("tmp"), 1u);  // b's temp file survived a's destruction
  auto ok = cache->CommitFill(std::move(b));
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(cache->OpenCached("3", 2).has_value());
  EXPECT_EQ(CountEntries("tmp"), 0u);
}

TEST_F(ContentCacheTest, MoveAssignDiscardsTheOverwrittenFill) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  auto f1 = cache->BeginFill("1");
  auto f2 = cache->BeginFill("2");
  ASSERT_TRUE(f1.has_value() && f2.has_value());
  EXPECT_EQ(CountEntries("tmp"), 2u);
  Fill a = std::move(f1).value();
  a = std::move(f2).value();
  EXPECT_EQ(CountEntries("tmp"), 1u);
  EXPECT_EQ(a.gid(), "2");
}

TEST_F(ContentCacheTest, RecommitReplacesAndAccountsOnce) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  Put(*cache, "10", "first version");
  Put(*cache, "10", "v2");
  EXPECT_EQ(cache->UsedBytes(), 2u);
  auto hit = cache->OpenCached("10", 2);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(ReadAll(hit->get()), "v2");
}

TEST_F(ContentCacheTest, OpenFdSurvivesReplacement) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  Put(*cache, "10", "old");
  auto hit = cache->OpenCached("10", 3);
  ASSERT_TRUE(hit.has_value());
  Put(*cache, "10", "new!");
  EXPECT_EQ(ReadAll(hit->get()), "old");
}

TEST_F(ContentCacheTest, PersistsAcrossReopenWithUsedBytes) {
  {
    auto cache = OpenOrDie();
    ASSERT_NE(cache, nullptr);
    Put(*cache, "1", std::string(1000, 'a'));
    Put(*cache, "2", std::string(24, 'b'));
  }
  // A stray file that is not a gid does not count.
  ASSERT_EQ(::close(::open((dir_ + "/content/notes.txt").c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->UsedBytes(), 1024u);
  auto hit = cache->OpenCached("1", 1000);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(ReadAll(hit->get()), std::string(1000, 'a'));
}

TEST_F(ContentCacheTest, SecondOpenInSameProcessIsBusy) {
  auto first = OpenOrDie();
  ASSERT_NE(first, nullptr);
  auto second = ContentCache::Open(dir_);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kBusy);
  EXPECT_NE(second.error().message.find(dir_), std::string::npos) << second.error().message;
  EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.error().message;
  first.reset();
  auto third = ContentCache::Open(dir_);
  EXPECT_TRUE(third.has_value());
}

TEST_F(ContentCacheTest, OpenFromAnotherProcessIsBusy) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto r = ContentCache::Open(dir_);
    ::_exit(!r.has_value() && r.error().code == ErrorCode::kBusy ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child could open a locked cache dir";
}

TEST_F(ContentCacheTest, LockIsReleasedWhenHolderProcessDies) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(ready[0]);
    auto r = ContentCache::Open(dir_);
    const char ok = r.has_value() ? 'y' : 'n';
    (void)!::write(ready[1], &ok, 1);
    ::pause();  // hold the lock until killed
    ::_exit(0);
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(ok, 'y');
  auto busy = ContentCache::Open(dir_);
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code, ErrorCode::kBusy);
  EXPECT_NE(busy.error().message.find("pid " + std::to_string(pid)), std::string::npos)
      << busy.error().message;
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  auto after = ContentCache::Open(dir_);
  EXPECT_TRUE(after.has_value());
}

TEST_F(ContentCacheTest, CrashMidFillLeavesNothingVisibleAndIsCleanedUp) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto r = ContentCache::Open(dir_);
    if (!r.has_value()) {
      ::_exit(2);
    }
    auto fill = (*r)->BeginFill("6");
    if (!fill.has_value()) {
      ::_exit(3);
    }
    const std::string data(5000, 'p');
    if (::write(fill->fd(), data.data(), data.size()) != 5000) {
      ::_exit(4);
    }
    ::_exit(0);  // no destructors run: as if the process crashed
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(CountEntries("tmp"), 1u);  // the crash left a temp file
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(CountEntries("tmp"), 0u);
  EXPECT_EQ(CountEntries("content"), 0u);
  EXPECT_FALSE(cache->OpenCached("6", 5000).has_value());
  EXPECT_EQ(cache->UsedBytes(), 0u);
}

TEST_F(ContentCacheTest, LeftoverTempFilesAreCleaned) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((dir_ + "/tmp").c_str(), 0700), 0);
  for (const char* name : {"1.99.0.part", "garbage", ".hidden"}) {
    const std::string p = dir_ + "/tmp/" + name;
    ASSERT_EQ(::close(::open(p.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  }
  // Something next to the cache subdirs is left alone.
  const std::string mine = dir_ + "/unrelated.txt";
  ASSERT_EQ(::close(::open(mine.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(CountEntries("tmp"), 0u);
  EXPECT_TRUE(fs::exists(mine));
}

TEST_F(ContentCacheTest, BadGidsAreRejected) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  const std::vector<std::string> bad = {"",
                                        "abc",
                                        "12/3",
                                        "../1",
                                        "..",
                                        "-1",
                                        " 1",
                                        "1 ",
                                        "1.5",
                                        "0x10",
                                        std::string(31, '1'),
                                        std::string("1\0"
                                                    "2",
                                                    3),
                                        "\xEF\xBC\x91"};  // fullwidth digit one
  for (const auto& gid : bad) {
    SCOPED_TRACE("gid '" + gid + "'");
    EXPECT_FALSE(IsValidGid(gid));
    auto fill = cache->BeginFill(gid);
    ASSERT_FALSE(fill.has_value());
    EXPECT_EQ(fill.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(cache->OpenCached(gid, 0).has_value());
  }
  EXPECT_EQ(CountEntries("tmp"), 0u);
  EXPECT_EQ(CountEntries("content"), 0u);
  for (const auto& gid : {std::string("0"), std::string("1"), std::string(30, '9')}) {
    EXPECT_TRUE(IsValidGid(gid)) << gid;
    Put(*cache, gid, "ok");
    EXPECT_TRUE(cache->OpenCached(gid, 2).has_value()) << gid;
  }
}

TEST_F(ContentCacheTest, OpenOnAFileIsAnIoErrorWithErrno) {
  ASSERT_EQ(::close(::open(dir_.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  auto r = ContentCache::Open(dir_);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_EQ(r.error().sys_errno, ENOTDIR);
  EXPECT_NE(r.error().message.find(dir_), std::string::npos) << r.error().message;
}

TEST_F(ContentCacheTest, OpenBelowAFileIsAnIoErrorNamingTheOperation) {
  const std::string file = root_ + "/plainfile";
  ASSERT_EQ(::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  dir_ = file + "/cache";
  auto r = ContentCache::Open(dir_);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_EQ(r.error().sys_errno, ENOTDIR);
  EXPECT_NE(r.error().message.find("mkdir"), std::string::npos) << r.error().message;
}

TEST_F(ContentCacheTest, EmptyDirIsInvalid) {
  auto r = ContentCache::Open("");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ContentCacheTest, ConcurrentFillsAccountCorrectly) {
  auto cache = OpenOrDie();
  ASSERT_NE(cache, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Every thread also rewrites a shared gid, so replacements race.
        const std::string gid = i % 5 == 0 ? "500" : std::to_string(1000 + t * 100 + i);
        auto fill = cache->BeginFill(gid);
        ASSERT_TRUE(fill.has_value());
        const std::string data(gid == "500" ? 50 : 10, 'c');
        ASSERT_EQ(::pwrite(fill->fd(), data.data(), data.size(), 0),
                  static_cast<ssize_t>(data.size()));
        ASSERT_TRUE(cache->CommitFill(std::move(fill).value()).has_value());
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  const uint64_t distinct = kThreads * (kPerThread - kPerThread / 5);
  EXPECT_EQ(cache->UsedBytes(), distinct * 10 + 50);
  EXPECT_EQ(CountEntries("content"), distinct + 1);
  EXPECT_EQ(CountEntries("tmp"), 0u);
}

}  // namespace
}  // namespace asanafs::model

namespace asanafs::model {
namespace {

class ContentCacheLimitTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/unit_model_limit.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    cache_ = std::move(ContentCache::Open(dir_ + "/cache").value());
  }
  void TearDown() override {
    cache_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Put(const std::string& gid, size_t bytes) {
    auto fill = cache_->BeginFill(gid);
    ASSERT_TRUE(fill.has_value());
    std::string data(bytes, 'x');
    ASSERT_EQ(::pwrite(fill->fd(), data.data(), data.size(), 0), static_cast<ssize_t>(bytes));
    ASSERT_TRUE(cache_->CommitFill(std::move(fill).value()).has_value());
  }
  // Makes `gid` look used `age_s` seconds ago.
  void Age(const std::string& gid, int age_s) {
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= age_s;
    ts[1] = ts[0];
    ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ + "/cache/content/" + gid).c_str(), ts, 0), 0);
  }
  bool Has(const std::string& gid, uint64_t size) {
    return cache_->OpenCached(gid, size).has_value();
  }
  std::string dir_;
  std::unique_ptr<ContentCache> cache_;
};

TEST_F(ContentCacheLimitTest, EvictsLeastRecentlyUsedButNeverInUse) {
  Put("1", 400);
  Put("2", 400);
  Put("3", 400);
  Age("1", 300);  // oldest, but pinned below
  Age("2", 200);
  Age("3", 100);
  cache_->SetLimit(1000, [](const std::string& gid) { return gid == "1"; });
  EXPECT_LE(cache_->UsedBytes(), 900u);
  EXPECT_TRUE(Has("1", 400));   // in use: kept although least recently used
  EXPECT_FALSE(Has("2", 400));  // the least recently used one not in use
  EXPECT_TRUE(Has("3", 400));
  Put("4", 400);  // over the cap again: 3 goes unless used recently
  EXPECT_LE(cache_->UsedBytes(), 900u);
  EXPECT_TRUE(Has("4", 400));
}

TEST_F(ContentCacheLimitTest, NoLimitKeepsEverything) {
  Put("1", 1000);
  Put("2", 1000);
  cache_->SetLimit(0, nullptr);
  EXPECT_EQ(cache_->UsedBytes(), 2000u);
  EXPECT_EQ(cache_->EvictTo(1000), 1000u);
  EXPECT_EQ(cache_->UsedBytes(), 1000u);
}

}  // namespace
}  // namespace asanafs::model
