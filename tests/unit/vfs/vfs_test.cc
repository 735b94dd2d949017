// Tests of vfs::Vfs against the in-memory FakeAsana: the tree, names, request
// budgets, caching and the read path, with no kernel and no network.
#include "asanafs/vfs/vfs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <thread>

#include "asanafs/vfs/errno.h"
#include "fake_asana.h"

namespace asanafs::vfs {
namespace {

using asanafs::testing::FakeAsana;
using std::chrono::seconds;

class FakeClock : public Clock {
 public:
  SteadyTime SteadyNow() const override { return steady_; }
  SystemTime SystemNow() const override { return SystemTime(seconds(1700000000)); }
  void SleepFor(std::chrono::milliseconds d) override { steady_ += d; }
  void Advance(seconds d) { steady_ += d; }

 private:
  SteadyTime steady_{seconds(1000)};
};

asana::TimePoint At(int64_t unix_seconds) { return asana::TimePoint(seconds(unix_seconds)); }

class CollectingFiller : public DirFiller {
 public:
  explicit CollectingFiller(size_t capacity = 1000) : capacity_(capacity) {}
  bool Add(std::string_view name, const struct stat& st, off_t next_offset) override {
    if (names.size() >= capacity_) {
      return false;
    }
    names.emplace_back(name);
    modes.push_back(st.st_mode);
    last_offset = next_offset;
    return true;
  }
  std::vector<std::string> names;
  std::vector<mode_t> modes;
  off_t last_offset = 0;

 private:
  size_t capacity_;
};

class VfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vfs_test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto cache = model::ContentCache::Open(dir_ + "/cache");
    ASSERT_TRUE(cache.has_value()) << cache.error().message;
    cache_ = std::move(*cache);

    api_.AddWorkspace("10", "Acme");
    api_.AddProject("10", {"20", "Launch/2024", At(1600000000), std::nullopt});
    api_.AddTask("20", {"30", "Design", At(1600000100), At(1650000000), ""});
    api_.AddTask("20", {"31", "Design", At(1600000200), At(1650000000), ""});
    api_.AddSubtask("30", {"40", "Sub", At(1600000300), At(1650000001), ""});
    asana::Attachment a;
    a.gid = "50";
    a.name = "spec.pdf";
    a.created_at = At(1600000400);
    api_.AddAttachment("30", a, "PDF-CONTENT-1");
    a.gid = "51";
    a.created_at = At(1600000500);
    api_.AddAttachment("30", a, "PDF-CONTENT-2 newer");
    asana::Attachment link;
    link.gid = "52";
    link.name = "Drive doc";
    link.host = "gdrive";
    link.view_url = "https://drive.google.com/file/d/abc/view";
    api_.AddAttachment("30", link, "");
    asana::Attachment empty;
    empty.gid = "53";
    empty.name = "empty.txt";
    api_.AddAttachment("30", empty, "");

    VfsOptions options;
    options.dir_ttl = seconds(60);
    fs_ = std::make_unique<Vfs>(api_, *cache_, clock_, options);
  }
  void TearDown() override {
    fs_.reset();
    cache_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Resolves a path from the root, one Lookup per component.
  Result<Entry> Walk(const std::vector<std::string>& path) {
    uint64_t ino = 1;
    Result<Entry> entry = MakeError(ErrorCode::kNotFound, "empty path");
    for (const auto& part : path) {
      entry = fs_->Lookup(ino, part);
      if (!entry) {
        return entry;
      }
      ino = entry->ino;
    }
    return entry;
  }

  std::vector<std::string> List(uint64_t ino) {
    auto fh = fs_->OpenDir(ino);
    EXPECT_TRUE(fh.has_value());
    CollectingFiller filler;
    EXPECT_TRUE(fs_->ReadDir(*fh, 0, filler).has_value());
    fs_->ReleaseDir(*fh);
    return filler.names;
  }

  std::string ReadAll(uint64_t ino) {
    auto opened = fs_->Open(ino, O_RDONLY);
    EXPECT_TRUE(opened.has_value()) << (opened ? "" : opened.error().message);
    if (!opened) {
      return "";
    }
    std::string out;
    char buf[4];  // small reads exercise offsets
    for (off_t off = 0;; off += static_cast<off_t>(sizeof buf)) {
      auto n = fs_->Read(opened->fh, buf, sizeof buf, off);
      EXPECT_TRUE(n.has_value());
      if (!n || *n == 0) {
        break;
      }
      out.append(buf, *n);
    }
    fs_->Release(opened->fh);
    return out;
  }

  std::string dir_;
  FakeAsana api_;
  FakeClock clock_;
  std::unique_ptr<model::ContentCache> cache_;
  std::unique_ptr<Vfs> fs_;
};

TEST_F(VfsTest, TreeHasMappedAndDisambiguatedNames) {
  EXPECT_EQ(List(1), (std::vector<std::string>{".", "..", "Acme"}));
  auto project = Walk({"Acme", "Launch∕2024"});
  ASSERT_TRUE(project.has_value());
  EXPECT_EQ(List(project->ino), (std::vector<std::string>{".", "..", "Design", "Design [31]"}));
  auto task = Walk({"Acme", "Launch∕2024", "Design"});
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(List(task->ino), (std::vector<std::string>{".", "..", "Drive doc.url", "Sub",
                                                       "empty.txt", "spec [51].pdf", "spec.pdf"}));
}

TEST_F(VfsTest, AttributesComeFromTheListing) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  ASSERT_TRUE(file.has_value());
  EXPECT_TRUE(S_ISREG(file->attr.st_mode));
  EXPECT_EQ(file->attr.st_size, 13);
  EXPECT_EQ(file->attr.st_mtim.tv_sec, 1600000400);
  auto task = Walk({"Acme", "Launch∕2024", "Design"});
  EXPECT_TRUE(S_ISDIR(task->attr.st_mode));
  EXPECT_EQ(task->attr.st_mtim.tv_sec, 1650000000);  // modified_at
  auto st = fs_->GetAttr(file->ino);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_size, 13);
}

TEST_F(VfsTest, ListingCostsOneCallPerDirectoryAndIsReusedWithinTtl) {
  auto task = Walk({"Acme", "Launch∕2024", "Design"});
  ASSERT_TRUE(task.has_value());
  api_.ResetCalls();
  // ls -l: readdir, then a lookup and getattr per entry.
  for (const auto& name : List(task->ino)) {
    if (name != "." && name != "..") {
      auto e = fs_->Lookup(task->ino, name);
      ASSERT_TRUE(e.has_value()) << name;
      ASSERT_TRUE(fs_->GetAttr(e->ino).has_value());
    }
  }
  EXPECT_EQ(api_.Calls("ListAttachments"), 1);
  EXPECT_EQ(api_.Calls("ListSubtasks"), 1);
  EXPECT_EQ(api_.TotalCalls(), 2);
  List(task->ino);
  EXPECT_EQ(api_.TotalCalls(), 2);
  clock_.Advance(seconds(61));
  List(task->ino);
  EXPECT_EQ(api_.TotalCalls(), 4);
}

TEST_F(VfsTest, RelistingShowsRemoteChangesAfterTtl) {
  auto task = Walk({"Acme", "Launch∕2024", "Design"});
  ASSERT_TRUE(Walk({"Acme", "Launch∕2024", "Design", "spec [51].pdf"}).has_value());
  // When the older of two same-named files goes, the newer takes the plain name.
  api_.RemoveAttachment("50");
  EXPECT_TRUE(fs_->Lookup(task->ino, "spec [51].pdf").has_value());  // within the TTL
  clock_.Advance(seconds(61));
  auto gone = fs_->Lookup(task->ino, "spec [51].pdf");
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(ToErrno(gone.error()), ENOENT);
  auto renamed = fs_->Lookup(task->ino, "spec.pdf");
  ASSERT_TRUE(renamed.has_value());
  EXPECT_EQ(ReadAll(renamed->ino), "PDF-CONTENT-2 newer");
}

TEST_F(VfsTest, StaleListingIsServedWhenRefreshFails) {
  auto task = Walk({"Acme", "Launch∕2024", "Design"});
  ASSERT_TRUE(task.has_value());
  List(task->ino);
  clock_.Advance(seconds(61));
  api_.FailNext("ListAttachments", MakeError(ErrorCode::kUnavailable, "503"));
  EXPECT_TRUE(fs_->Lookup(task->ino, "spec.pdf").has_value());
}

TEST_F(VfsTest, FirstListingFailureIsReportedWithItsErrno) {
  api_.FailNext("ListWorkspaces", MakeError(ErrorCode::kUnauthenticated, "401", 401));
  auto e = fs_->Lookup(1, "Acme");
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(ToErrno(e.error()), EACCES);
  EXPECT_TRUE(fs_->Lookup(1, "Acme").has_value());  // the next access retries
}

TEST_F(VfsTest, ReadFetchesFreshUrlThenServesFromCache) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec [51].pdf"});
  ASSERT_TRUE(file.has_value());
  api_.ResetCalls();
  EXPECT_EQ(ReadAll(file->ino), "PDF-CONTENT-2 newer");
  EXPECT_EQ(api_.Calls("GetAttachment"), 1);
  EXPECT_EQ(api_.Calls("Download"), 1);
  EXPECT_EQ(ReadAll(file->ino), "PDF-CONTENT-2 newer");
  EXPECT_EQ(api_.TotalCalls(), 2);  // immutable content: the cache is never revalidated
}

TEST_F(VfsTest, ExpiredUrlIsRefreshedOnce) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  api_.ResetCalls();
  api_.expire_downloads = 1;
  EXPECT_EQ(ReadAll(file->ino), "PDF-CONTENT-1");
  EXPECT_EQ(api_.Calls("GetAttachment"), 2);
  EXPECT_EQ(api_.Calls("Download"), 2);
}

TEST_F(VfsTest, UrlRefusedTwiceFailsWithEacces) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  api_.expire_downloads = 2;
  auto opened = fs_->Open(file->ino, O_RDONLY);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(ToErrno(opened.error()), EACCES);
}

TEST_F(VfsTest, FailedDownloadCachesNothing) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  api_.FailNext("Download", MakeError(ErrorCode::kUnavailable, "connection reset"));
  auto opened = fs_->Open(file->ino, O_RDONLY);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(ToErrno(opened.error()), EIO);
  api_.ResetCalls();
  EXPECT_EQ(ReadAll(file->ino), "PDF-CONTENT-1");
  EXPECT_EQ(api_.Calls("Download"), 1);
}

TEST_F(VfsTest, LinkAndEmptyFilesNeedNoRequests) {
  auto link = Walk({"Acme", "Launch∕2024", "Design", "Drive doc.url"});
  auto empty = Walk({"Acme", "Launch∕2024", "Design", "empty.txt"});
  ASSERT_TRUE(link.has_value());
  ASSERT_TRUE(empty.has_value());
  api_.ResetCalls();
  std::string expected = "[InternetShortcut]\nURL=https://drive.google.com/file/d/abc/view\n";
  EXPECT_EQ(link->attr.st_size, static_cast<off_t>(expected.size()));
  EXPECT_EQ(ReadAll(link->ino), expected);
  EXPECT_EQ(ReadAll(empty->ino), "");
  EXPECT_EQ(api_.TotalCalls(), 0);
}

TEST_F(VfsTest, ConcurrentOpensShareOneDownload) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  api_.ResetCalls();
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { EXPECT_EQ(ReadAll(file->ino), "PDF-CONTENT-1"); });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(api_.Calls("Download"), 1);
}

TEST_F(VfsTest, WritesAreRefusedWithErofs) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  auto opened = fs_->Open(file->ino, O_WRONLY);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(ToErrno(opened.error()), EROFS);
  EXPECT_EQ(ToErrno(fs_->RefuseWrite().error()), EROFS);
}

TEST_F(VfsTest, DirectoryOperationsOnFilesFail) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  auto fh = fs_->OpenDir(file->ino);
  ASSERT_FALSE(fh.has_value());
  EXPECT_EQ(ToErrno(fh.error()), ENOTDIR);
  auto dir = Walk({"Acme"});
  auto opened = fs_->Open(dir->ino, O_RDONLY);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(ToErrno(opened.error()), EISDIR);
  EXPECT_EQ(ToErrno(fs_->GetAttr(999999).error()), ENOENT);
}

TEST_F(VfsTest, ReadDirResumesAtOffsetWhenBufferIsFull) {
  auto task = Walk({"Acme", "Launch∕2024", "Design"});
  auto fh = fs_->OpenDir(task->ino);
  ASSERT_TRUE(fh.has_value());
  CollectingFiller first(3);
  ASSERT_TRUE(fs_->ReadDir(*fh, 0, first).has_value());
  CollectingFiller rest;
  ASSERT_TRUE(fs_->ReadDir(*fh, first.last_offset, rest).has_value());
  std::vector<std::string> all = first.names;
  all.insert(all.end(), rest.names.begin(), rest.names.end());
  EXPECT_EQ(all.size(), 7u);
  EXPECT_EQ(all[3], "Sub");
  fs_->ReleaseDir(*fh);
}

TEST(ErrnoTest, TableMapsEveryClassification) {
  EXPECT_EQ(ToErrno(MakeError(ErrorCode::kNotFound, "")), ENOENT);
  EXPECT_EQ(ToErrno(MakeError(ErrorCode::kUnauthenticated, "")), EACCES);
  EXPECT_EQ(ToErrno(MakeError(ErrorCode::kPermissionDenied, "")), EACCES);
  EXPECT_EQ(ToErrno(MakeError(ErrorCode::kUnavailable, "")), EIO);
  EXPECT_EQ(ToErrno(MakeError(ErrorCode::kTimeout, "")), ETIMEDOUT);
  EXPECT_EQ(ToErrno(MakeError(ErrorCode::kTooLarge, "")), EFBIG);
  EXPECT_EQ(ToErrno(MakeError(ErrorCode::kReadOnly, "")), EROFS);
  Error io = MakeError(ErrorCode::kIo, "");
  io.sys_errno = ENOSPC;
  EXPECT_EQ(ToErrno(io), ENOSPC);
}

}  // namespace
}  // namespace asanafs::vfs
