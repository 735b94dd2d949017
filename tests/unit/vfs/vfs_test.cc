// Tests of vfs::Vfs against the in-memory FakeAsana: the tree, names, request
// budgets, caching and the read path, with no kernel and no network.
#include "asanafs/vfs/vfs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <thread>

#include "../../../src/vfs/vfs_internal.h"
#include "asanafs/vfs/errno.h"
#include "fake_asana.h"

namespace asanafs::vfs {
namespace {

using asanafs::testing::FakeAsana;
using std::chrono::milliseconds;
using std::chrono::seconds;

class FakeClock : public Clock {
 public:
  SteadyTime SteadyNow() const override { return steady_; }
  // Wall time moves with the steady time, from 2023-11-14.
  SystemTime SystemNow() const override {
    return SystemTime(seconds(1700000000)) + (steady_ - SteadyTime(seconds(1000)));
  }
  void SleepFor(std::chrono::milliseconds d) override { steady_ += d; }
  void Advance(seconds d) { steady_ += d; }

 private:
  SteadyTime steady_{seconds(1000)};
};

// FakeAsana with one-shot hooks, to stop a call at the moment a race needs:
// Before(method, fn) runs fn at the start of the next upload or deletion
// ("UploadAttachment:after": once the upload is in Asana, before its reply);
// `after_list` runs once a ListAttachments answer has been taken (that
// listing shows Asana as it was before whatever the hook waits for).
class HookedAsana : public FakeAsana {
 public:
  void Before(const std::string& method, std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(hook_mu_);
    before_[method] = std::move(fn);
  }
  void AfterList(std::function<void()> fn) { Before("ListAttachments:after", std::move(fn)); }

  Result<std::vector<asana::Attachment>> ListAttachments(const std::string& parent) override {
    auto out = FakeAsana::ListAttachments(parent);
    Fire("ListAttachments:after");
    return out;
  }
  Result<asana::Attachment> UploadAttachment(const std::string& parent, const std::string& name,
                                             const std::string& path,
                                             const asana::UploadProgress& progress) override {
    Fire("UploadAttachment");
    auto out = FakeAsana::UploadAttachment(parent, name, path, progress);
    Fire("UploadAttachment:after");  // created in Asana, the reply not yet back
    return out;
  }
  Status DeleteAttachment(const std::string& gid) override {
    Fire("DeleteAttachment");
    return FakeAsana::DeleteAttachment(gid);
  }

 private:
  void Fire(const std::string& method) {
    std::function<void()> once;
    {
      std::lock_guard<std::mutex> lock(hook_mu_);
      if (auto it = before_.find(method); it != before_.end()) {
        once = std::move(it->second);
        before_.erase(it);
      }
    }
    if (once) {
      once();
    }
  }
  std::mutex hook_mu_;
  std::map<std::string, std::function<void()>> before_;
};

// Waits until thread `tid` of this process sleeps in a futex (blocked on a
// mutex: nothing else in these tests makes a thread wait there).
void WaitUntilBlocked(pid_t tid) {
  for (;;) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
    long nr = -1;
    if (in >> nr && nr == SYS_futex) {
      return;
    }
    std::this_thread::yield();
  }
}

int ErrnoOf(const Status& s) { return s.has_value() ? 0 : ToErrno(s.error()); }

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
    ASSERT_EQ(mkdir((dir_ + "/staging").c_str(), 0700), 0);
    OpenState();

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

    Mount();
  }
  void TearDown() override {
    fs_.reset();
    state_.reset();
    cache_.reset();
    std::filesystem::remove_all(dir_);
  }

  void OpenState() {
    auto state = model::StateDb::Open(dir_ + "/state.db");
    ASSERT_TRUE(state.has_value()) << state.error().message;
    state_ = std::move(*state);
  }

  // (Re)creates the Vfs over the same cache and journal, like a remount.
  void Mount(bool read_only = false) {
    fs_.reset();
    VfsOptions options;
    options.dir_ttl = seconds(60);
    options.read_only = read_only;
    options.staging_dir = dir_ + "/staging";
    options.recovered_dir = dir_ + "/recovered";
    options.temp_grace = seconds(30);
    options.start_worker = false;
    options.sections = sections_;
    options.stream_upload_min = stream_min_;
    options.stream_idle = stream_idle_;
    fs_ = std::make_unique<Vfs>(api_, *cache_, *state_, clock_, options);
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
    auto opened = fs_->Open(ino, O_RDONLY, 1);
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
  HookedAsana api_;
  FakeClock clock_;
  bool sections_ = false;  // -o sections at the next Mount()
  // Upload-while-writing settings at the next Mount(): off unless a test asks.
  uint64_t stream_min_ = 0;
  std::chrono::milliseconds stream_idle_{5000};
  std::unique_ptr<model::ContentCache> cache_;
  std::unique_ptr<model::StateDb> state_;
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

TEST_F(VfsTest, UrlRefusedTwiceFailsTheReadWithEacces) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  api_.expire_downloads = 2;
  auto opened = fs_->Open(file->ino, O_RDONLY, 1);
  ASSERT_TRUE(opened.has_value());
  char buf[16];
  auto n = fs_->Read(opened->fh, buf, sizeof buf, 0);
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(ToErrno(n.error()), EACCES);
  fs_->Release(opened->fh);
}

TEST_F(VfsTest, FailedDownloadCachesNothingAndTheNextReadRetries) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  api_.FailNext("Download", MakeError(ErrorCode::kUnavailable, "connection reset"));
  auto opened = fs_->Open(file->ino, O_RDONLY, 1);
  ASSERT_TRUE(opened.has_value());
  char buf[16];
  auto n = fs_->Read(opened->fh, buf, sizeof buf, 0);
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(ToErrno(n.error()), EIO);
  auto again = fs_->Read(opened->fh, buf, sizeof buf, 0);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(std::string(buf, *again), "PDF-CONTENT-1");
  fs_->Release(opened->fh);
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

TEST_F(VfsTest, ReadOnlyMountRefusesEveryChangeWithErofs) {
  Mount(/*read_only=*/true);
  auto task = Walk({"Acme", "Launch∕2024", "Design"});
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  auto opened = fs_->Open(file->ino, O_WRONLY, 1);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(ToErrno(opened.error()), EROFS);
  EXPECT_EQ(ToErrno(fs_->Create(task->ino, "new.txt", 0644, O_WRONLY, 1).error()), EROFS);
  EXPECT_EQ(ErrnoOf(fs_->Unlink(task->ino, "spec.pdf")), EROFS);
  EXPECT_EQ(ToErrno(fs_->Mkdir(task->ino, "sub", 0755).error()), EROFS);
  EXPECT_EQ(ErrnoOf(fs_->Rename(task->ino, "spec.pdf", task->ino, "x.pdf", 0)), EROFS);
  SetAttrRequest chmod;
  chmod.mode = 0600;
  EXPECT_EQ(ToErrno(fs_->SetAttr(file->ino, chmod).error()), EROFS);
  EXPECT_EQ(api_.Calls("UploadAttachment") + api_.Calls("DeleteAttachment"), 0);
}

TEST_F(VfsTest, DirectoryOperationsOnFilesFail) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  auto fh = fs_->OpenDir(file->ino);
  ASSERT_FALSE(fh.has_value());
  EXPECT_EQ(ToErrno(fh.error()), ENOTDIR);
  auto dir = Walk({"Acme"});
  auto opened = fs_->Open(dir->ino, O_RDONLY, 1);
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

namespace asanafs::vfs {
namespace {

// The write path: staging, upload at close, overwrite, rename, recovery.
class VfsWriteTest : public VfsTest {
 protected:
  uint64_t TaskIno() { return Walk({"Acme", "Launch∕2024", "Design"})->ino; }

  // Creates `name` in the task, writes `content` and closes it from the
  // opening process. Returns close()'s status.
  Status WriteNew(uint64_t dir, const std::string& name, const std::string& content,
                  pid_t pid = 7) {
    auto created = fs_->Create(dir, name, 0644, O_WRONLY | O_CREAT, pid);
    EXPECT_TRUE(created.has_value()) << (created ? "" : created.error().message);
    if (!created) {
      return Unexpected(created.error());
    }
    if (!content.empty()) {
      EXPECT_EQ(*fs_->Write(created->fh, content.data(), content.size(), 0), content.size());
    }
    Status closed = fs_->Flush(created->fh, pid);
    fs_->Release(created->fh);
    return closed;
  }

  // When the next upload starts, runs `op` on `*thread` and lets the upload go
  // on once `op` waits for it (blocked on a mutex).
  void RunWhenUploadStarts(std::thread* thread, std::function<void()> op) {
    api_.Before("UploadAttachment", [thread, op] {
      std::atomic<pid_t> tid{0};
      *thread = std::thread([&tid, op] {
        tid = static_cast<pid_t>(::syscall(SYS_gettid));
        op();
      });
      while (tid == 0) {
        std::this_thread::yield();
      }
      WaitUntilBlocked(tid);
    });
  }

  // The attachments of task 30 named `name`, as the fake Asana has them.
  std::vector<asana::Attachment> Remote(const std::string& name) {
    std::vector<asana::Attachment> out;
    auto listed = api_.ListAttachments("30");
    for (const auto& a : *listed) {
      if (a.name == name) {
        out.push_back(a);
      }
    }
    return out;
  }

  std::string RemoteContent(const std::string& gid) {
    auto att = api_.GetAttachment(gid);
    std::string out;
    (void)api_.Download(att->download_url, 0, 0, [&](std::string_view b) {
      out.append(b);
      return true;
    });
    return out;
  }
};

TEST_F(VfsWriteTest, NewFileIsUploadedOnceAtCloseAndServedFromCache) {
  uint64_t task = TaskIno();
  api_.ResetCalls();
  ASSERT_TRUE(WriteNew(task, "notes.txt", "hello asana").has_value());
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  auto remote = Remote("notes.txt");
  ASSERT_EQ(remote.size(), 1u);
  EXPECT_EQ(RemoteContent(remote[0].gid), "hello asana");
  auto entry = fs_->Lookup(task, "notes.txt");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->attr.st_size, 11);
  api_.ResetCalls();
  EXPECT_EQ(ReadAll(entry->ino), "hello asana");
  EXPECT_EQ(api_.TotalCalls(), 0);  // the uploaded bytes became the cache entry
  EXPECT_EQ(fs_->GetUploadStats().staged, 0u);
}

TEST_F(VfsWriteTest, EmptyNewFileLandsToo) {
  ASSERT_TRUE(WriteNew(TaskIno(), "empty", "").has_value());
  ASSERT_EQ(Remote("empty").size(), 1u);
  EXPECT_EQ(Remote("empty")[0].size, 0u);
}

TEST_F(VfsWriteTest, ShellRedirectionCostsOneUpload) {
  // bash: open, dup2 to stdout, close the first descriptor, write, close.
  uint64_t task = TaskIno();
  auto created = fs_->Create(task, "out.txt", 0644, O_WRONLY | O_CREAT | O_TRUNC, 7);
  ASSERT_TRUE(created.has_value());
  ASSERT_TRUE(fs_->Flush(created->fh, 7).has_value());
  ASSERT_TRUE(fs_->Write(created->fh, "hi\n", 3, 0).has_value());
  ASSERT_TRUE(fs_->Flush(created->fh, 7).has_value());
  fs_->Release(created->fh);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  EXPECT_EQ(api_.Calls("DeleteAttachment"), 0);
  ASSERT_EQ(Remote("out.txt").size(), 1u);
  EXPECT_EQ(RemoteContent(Remote("out.txt")[0].gid), "hi\n");
}

TEST_F(VfsWriteTest, FlushFromAnotherProcessDefersToLastRelease) {
  uint64_t task = TaskIno();
  auto created = fs_->Create(task, "a.bin", 0644, O_WRONLY | O_CREAT, 7);
  ASSERT_TRUE(created.has_value());
  ASSERT_TRUE(fs_->Write(created->fh, "xyz", 3, 0).has_value());
  ASSERT_TRUE(fs_->Flush(created->fh, 8).has_value());
  EXPECT_EQ(api_.Calls("UploadAttachment"), 0);
  fs_->Release(created->fh);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  EXPECT_EQ(Remote("a.bin").size(), 1u);
}

TEST_F(VfsWriteTest, FailedUploadIsReportedKeptVisibleAndRetriedOnce) {
  uint64_t task = TaskIno();
  api_.FailNext("UploadAttachment", MakeError(ErrorCode::kUnavailable, "500 from Asana", 500));
  Status closed = WriteNew(task, "report.csv", "a,b\n1,2\n");
  ASSERT_FALSE(closed.has_value());
  EXPECT_EQ(ErrnoOf(closed), EIO);
  EXPECT_TRUE(Remote("report.csv").empty());
  auto entry = fs_->Lookup(task, "report.csv");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(ReadAll(entry->ino), "a,b\n1,2\n");
  EXPECT_EQ(fs_->GetUploadStats().failed, 1u);
  clock_.Advance(seconds(2));
  fs_->RunWorkerOnce();
  ASSERT_EQ(Remote("report.csv").size(), 1u);
  EXPECT_EQ(RemoteContent(Remote("report.csv")[0].gid), "a,b\n1,2\n");
  EXPECT_EQ(api_.Calls("UploadAttachment"), 2);
  clock_.Advance(seconds(120));
  fs_->RunWorkerOnce();
  EXPECT_EQ(Remote("report.csv").size(), 1u);
  EXPECT_EQ(fs_->GetUploadStats().staged, 0u);
}

TEST_F(VfsWriteTest, AmbiguousFailureThatLandedIsNotUploadedAgain) {
  uint64_t task = TaskIno();
  api_.FailNext("UploadAttachment", MakeError(ErrorCode::kTimeout, "deadline passed"));
  ASSERT_FALSE(WriteNew(task, "once.txt", "12345").has_value());
  // The timed-out request had in fact reached Asana.
  asana::Attachment landed;
  landed.gid = "777";
  landed.name = "once.txt";
  landed.created_at = At(1700000001);
  api_.AddAttachment("30", landed, "12345");
  clock_.Advance(seconds(2));
  fs_->RunWorkerOnce();
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  EXPECT_EQ(Remote("once.txt").size(), 1u);
  EXPECT_EQ(fs_->GetUploadStats().staged, 0u);
}

TEST_F(VfsWriteTest, PendingUploadResumesAfterRemountExactlyOnce) {
  uint64_t task = TaskIno();
  api_.FailNext("UploadAttachment", MakeError(ErrorCode::kUnavailable, "connection reset"));
  ASSERT_FALSE(WriteNew(task, "survivor.txt", "still here").has_value());
  Mount();  // as after a crash: the journal and the staged file are on disk
  auto again = Walk({"Acme", "Launch∕2024", "Design", "survivor.txt"});
  ASSERT_TRUE(again.has_value());  // visible before it lands
  EXPECT_EQ(ReadAll(again->ino), "still here");
  fs_->RunWorkerOnce();
  ASSERT_EQ(Remote("survivor.txt").size(), 1u);
  EXPECT_EQ(RemoteContent(Remote("survivor.txt")[0].gid), "still here");
  EXPECT_EQ(api_.Calls("UploadAttachment"), 2);
}

TEST_F(VfsWriteTest, FileStillOpenAtCrashIsKeptButNeverPublished) {
  uint64_t task = TaskIno();
  auto created = fs_->Create(task, "half.txt", 0644, O_WRONLY | O_CREAT, 7);
  ASSERT_TRUE(created.has_value());
  ASSERT_TRUE(fs_->Write(created->fh, "partial", 7, 0).has_value());
  Mount();  // crash before close
  fs_->RunWorkerOnce();
  EXPECT_EQ(api_.Calls("UploadAttachment"), 0);
  EXPECT_FALSE(fs_->Lookup(TaskIno(), "half.txt").has_value());
  bool kept = false;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/recovered")) {
    kept |= e.path().filename().string().find("half.txt") != std::string::npos;
  }
  EXPECT_TRUE(kept);
}

TEST_F(VfsWriteTest, OverwriteUploadsNewThenDeletesOldAndOldReadersKeepOldBytes) {
  uint64_t task = TaskIno();
  auto old_entry = fs_->Lookup(task, "spec.pdf");
  auto reader = fs_->Open(old_entry->ino, O_RDONLY, 3);
  ASSERT_TRUE(reader.has_value());
  api_.ResetCalls();
  auto writer = fs_->Open(old_entry->ino, O_WRONLY | O_TRUNC, 9);
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE(fs_->Write(writer->fh, "NEW", 3, 0).has_value());
  ASSERT_TRUE(fs_->Flush(writer->fh, 9).has_value());
  fs_->Release(writer->fh);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  EXPECT_EQ(api_.Calls("DeleteAttachment"), 1);
  EXPECT_FALSE(api_.GetAttachment("50").has_value());
  char buf[32];
  auto n = fs_->Read(reader->fh, buf, sizeof buf, 0);
  EXPECT_EQ(std::string(buf, *n), "PDF-CONTENT-1");
  fs_->Release(reader->fh);
  auto now = fs_->Lookup(task, "spec.pdf");
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(ReadAll(now->ino), "NEW");
}

TEST_F(VfsWriteTest, WritePastOneHundredMibFailsWithEfbigAndUploadsNothing) {
  uint64_t task = TaskIno();
  auto created = fs_->Create(task, "huge.bin", 0644, O_WRONLY | O_CREAT, 7);
  ASSERT_TRUE(created.has_value());
  char byte = 'x';
  ASSERT_TRUE(fs_->Write(created->fh, &byte, 1, kMaxFileBytes - 1).has_value());
  auto over = fs_->Write(created->fh, &byte, 1, kMaxFileBytes);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(ToErrno(over.error()), EFBIG);
  ASSERT_EQ(ErrnoOf(fs_->Unlink(task, "huge.bin")), 0);
  fs_->Release(created->fh);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 0);
}

TEST_F(VfsWriteTest, RsyncTemporaryFileCostsOneUploadAtRename) {
  uint64_t task = TaskIno();
  ASSERT_TRUE(WriteNew(task, ".data.csv.Ab12Cd", "1,2,3").has_value());
  EXPECT_EQ(api_.Calls("UploadAttachment"), 0);
  SetAttrRequest times;
  times.mtime = timespec{1234567890, 0};
  auto tmp = fs_->Lookup(task, ".data.csv.Ab12Cd");
  ASSERT_TRUE(fs_->SetAttr(tmp->ino, times).has_value());
  ASSERT_EQ(ErrnoOf(fs_->Rename(task, ".data.csv.Ab12Cd", task, "data.csv", 0)), 0);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  ASSERT_EQ(Remote("data.csv").size(), 1u);
  EXPECT_TRUE(Remote(".data.csv.Ab12Cd").empty());
  auto final_entry = fs_->Lookup(task, "data.csv");
  EXPECT_EQ(final_entry->attr.st_mtim.tv_sec, 1234567890);  // rsync's mtime survives
}

TEST_F(VfsWriteTest, RenameUploadFailureIsReportedByRenameAndChangesNothing) {
  uint64_t task = TaskIno();
  ASSERT_TRUE(WriteNew(task, ".x.txt.Zz9Yy8", "keep me").has_value());
  api_.FailNext("UploadAttachment", MakeError(ErrorCode::kUnavailable, "503", 503));
  EXPECT_EQ(ErrnoOf(fs_->Rename(task, ".x.txt.Zz9Yy8", task, "x.txt", 0)), EIO);
  EXPECT_FALSE(fs_->Lookup(task, "x.txt").has_value());
  auto kept = fs_->Lookup(task, ".x.txt.Zz9Yy8");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(ReadAll(kept->ino), "keep me");
  EXPECT_TRUE(Remote("x.txt").empty());
  // A retried rename (rsync's next run) lands it once.
  ASSERT_EQ(ErrnoOf(fs_->Rename(task, ".x.txt.Zz9Yy8", task, "x.txt", 0)), 0);
  EXPECT_EQ(Remote("x.txt").size(), 1u);
}

TEST_F(VfsWriteTest, WritePastLimitDropsTheFileAtClose) {
  uint64_t task = TaskIno();
  auto created = fs_->Create(task, "big.bin", 0644, O_WRONLY | O_CREAT, 7);
  ASSERT_TRUE(fs_->Write(created->fh, "abc", 3, 0).has_value());
  char byte = 'x';
  ASSERT_FALSE(fs_->Write(created->fh, &byte, 1, kMaxFileBytes).has_value());
  EXPECT_EQ(ErrnoOf(fs_->Flush(created->fh, 7)), EFBIG);
  fs_->Release(created->fh);
  EXPECT_FALSE(fs_->Lookup(task, "big.bin").has_value());
  EXPECT_EQ(api_.Calls("UploadAttachment"), 0);
  EXPECT_EQ(fs_->GetUploadStats().staged, 0u);
}

TEST_F(VfsWriteTest, TemporaryFileNeverRenamedIsUploadedAfterGrace) {
  ASSERT_TRUE(WriteNew(TaskIno(), ".lost.bin.Qq1Ww2", "orphan").has_value());
  fs_->RunWorkerOnce();
  EXPECT_EQ(api_.Calls("UploadAttachment"), 0);
  clock_.Advance(seconds(31));
  fs_->RunWorkerOnce();
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  EXPECT_EQ(Remote(".lost.bin.Qq1Ww2").size(), 1u);
}

TEST_F(VfsWriteTest, RenameOfLandedFileIsUploadThenDelete) {
  uint64_t task = TaskIno();
  auto sub = Walk({"Acme", "Launch∕2024", "Design", "Sub"});
  ASSERT_TRUE(sub.has_value());
  List(sub->ino);
  api_.ResetCalls();
  ASSERT_EQ(ErrnoOf(fs_->Rename(task, "spec.pdf", sub->ino, "moved.pdf", 0)), 0);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  EXPECT_EQ(api_.Calls("DeleteAttachment"), 1);
  EXPECT_FALSE(api_.GetAttachment("50").has_value());
  EXPECT_FALSE(fs_->Lookup(task, "spec.pdf").has_value() &&
               fs_->Lookup(task, "spec.pdf")->attr.st_size == 13);
  auto moved = fs_->Lookup(sub->ino, "moved.pdf");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(ReadAll(moved->ino), "PDF-CONTENT-1");
}

TEST_F(VfsWriteTest, RenameOntoExistingNameReplacesIt) {
  uint64_t task = TaskIno();
  ASSERT_TRUE(WriteNew(task, "a.txt", "AAA").has_value());
  ASSERT_TRUE(WriteNew(task, "b.txt", "BBB").has_value());
  std::string old_b = Remote("b.txt")[0].gid;
  ASSERT_EQ(ErrnoOf(fs_->Rename(task, "a.txt", task, "b.txt", 0)), 0);
  EXPECT_FALSE(api_.GetAttachment(old_b).has_value());
  ASSERT_EQ(Remote("b.txt").size(), 1u);
  EXPECT_EQ(RemoteContent(Remote("b.txt")[0].gid), "AAA");
  EXPECT_TRUE(Remote("a.txt").empty());
  EXPECT_EQ(ErrnoOf(fs_->Rename(task, "b.txt", task, "empty.txt", 1 /*RENAME_NOREPLACE*/)), EEXIST);
}

TEST_F(VfsWriteTest, UnlinkDeletesAndUnlinkOfStagedUploadsNothing) {
  uint64_t task = TaskIno();
  ASSERT_EQ(ErrnoOf(fs_->Unlink(task, "spec.pdf")), 0);
  EXPECT_FALSE(api_.GetAttachment("50").has_value());
  EXPECT_EQ(ErrnoOf(fs_->Unlink(task, "spec.pdf")), ENOENT);
  auto created = fs_->Create(task, "draft.txt", 0644, O_WRONLY | O_CREAT, 7);
  ASSERT_TRUE(fs_->Write(created->fh, "x", 1, 0).has_value());
  ASSERT_EQ(ErrnoOf(fs_->Unlink(task, "draft.txt")), 0);
  fs_->Release(created->fh);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 0);
}

TEST_F(VfsWriteTest, MkdirMakesTasksAndSubtasksRmdirIsRefused) {
  auto project = Walk({"Acme", "Launch∕2024"});
  auto made = fs_->Mkdir(project->ino, "New task", 0755);
  ASSERT_TRUE(made.has_value());
  EXPECT_TRUE(S_ISDIR(made->attr.st_mode));
  EXPECT_EQ(api_.Calls("CreateTask"), 1);
  auto sub = fs_->Mkdir(made->ino, "Child", 0755);
  ASSERT_TRUE(sub.has_value());
  EXPECT_EQ(api_.Calls("CreateSubtask"), 1);
  api_.ResetCalls();
  EXPECT_EQ(List(sub->ino).size(), 2u);  // a new task is known to be empty
  EXPECT_EQ(api_.TotalCalls(), 0);
  ASSERT_TRUE(WriteNew(sub->ino, "f.txt", "in a new subtask").has_value());
  EXPECT_EQ(ErrnoOf(fs_->Rmdir(project->ino, "New task")), EPERM);
  EXPECT_EQ(ErrnoOf(fs_->Rename(project->ino, "New task", project->ino, "Renamed", 0)), EPERM);
  EXPECT_EQ(ToErrno(fs_->Mkdir(1, "Workspace", 0755).error()), EPERM);
  // Files live in tasks and (Key resources) projects, not in workspaces.
  auto workspace = Walk({"Acme"});
  EXPECT_EQ(ToErrno(fs_->Create(workspace->ino, "f.txt", 0644, O_WRONLY, 1).error()), EPERM);
  EXPECT_EQ(ErrnoOf(fs_->RefuseUnsupported("symlink")), EPERM);
}

TEST_F(VfsWriteTest, AttributesSetLocallyPersistAcrossRemount) {
  uint64_t task = TaskIno();
  auto file = fs_->Lookup(task, "spec.pdf");
  SetAttrRequest req;
  req.mode = 0600;
  req.mtime = timespec{1111111111, 5};
  auto st = fs_->SetAttr(file->ino, req);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_mode & 07777, 0600u);
  Mount();
  auto again = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  EXPECT_EQ(again->attr.st_mode & 07777, 0600u);
  EXPECT_EQ(again->attr.st_mtim.tv_sec, 1111111111);
  EXPECT_EQ(again->attr.st_mtim.tv_nsec, 5);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 0);
}

TEST_F(VfsWriteTest, TruncateOfLandedFileUploadsTheShorterVersion) {
  uint64_t task = TaskIno();
  auto file = fs_->Lookup(task, "spec.pdf");
  SetAttrRequest req;
  req.size = 3;
  ASSERT_TRUE(fs_->SetAttr(file->ino, req).has_value());
  ASSERT_EQ(Remote("spec.pdf").size(), 2u);  // the other same-named file stays
  EXPECT_FALSE(api_.GetAttachment("50").has_value());
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
}

TEST(TemporaryNameTest, RecognisesRsyncPattern) {
  EXPECT_TRUE(IsTemporaryName(".data.csv.Ab12Cd"));
  EXPECT_TRUE(IsTemporaryName(".a.XXXXXX"));
  EXPECT_FALSE(IsTemporaryName("data.csv"));
  EXPECT_FALSE(IsTemporaryName(".bashrc"));
  EXPECT_FALSE(IsTemporaryName("..Ab12Cd"));
  EXPECT_FALSE(IsTemporaryName(".a.b-c_d!"));
}

}  // namespace
}  // namespace asanafs::vfs

namespace asanafs::vfs {
namespace {

// Streaming reads: ranges on demand, read-ahead, publication to the cache.
class VfsStreamTest : public VfsTest {
 protected:
  void SetUp() override {
    VfsTest::SetUp();
    big_.resize(20 << 20);
    for (size_t i = 0; i < big_.size(); ++i) {
      big_[i] = static_cast<char>((i * 7919) >> 8);
    }
    asana::Attachment a;
    a.gid = "60";
    a.name = "big.bin";
    a.created_at = At(1600000600);
    api_.AddAttachment("31", a, big_);
    ino_ = Walk({"Acme", "Launch∕2024", "Design [31]", "big.bin"})->ino;
    api_.ResetCalls();
  }
  std::string Read(uint64_t fh, uint64_t offset, size_t n) {
    std::string buf(n, '\0');
    auto got = fs_->Read(fh, buf.data(), n, static_cast<off_t>(offset));
    EXPECT_TRUE(got.has_value()) << (got ? "" : got.error().message);
    buf.resize(got.has_value() ? *got : 0);
    return buf;
  }
  std::string big_;
  uint64_t ino_ = 0;
};

TEST_F(VfsStreamTest, HeadOfALargeFileFetchesLittle) {
  auto opened = fs_->Open(ino_, O_RDONLY, 1);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(Read(opened->fh, 0, 4096), big_.substr(0, 4096));
  fs_->Release(opened->fh);
  EXPECT_EQ(api_.Calls("GetAttachment"), 1);
  EXPECT_LE(api_.DownloadedBytes(), 8u << 20);
}

TEST_F(VfsStreamTest, RandomReadFetchesOnlyItsRange) {
  auto opened = fs_->Open(ino_, O_RDONLY, 1);
  uint64_t tail = big_.size() - 4096;
  EXPECT_EQ(Read(opened->fh, tail, 4096), big_.substr(tail));
  fs_->Release(opened->fh);
  EXPECT_LE(api_.DownloadedBytes(), 1u << 20);  // one chunk
}

TEST_F(VfsStreamTest, SequentialReadIsWholeAndThenCachedForever) {
  auto opened = fs_->Open(ino_, O_RDONLY, 1);
  std::string all;
  for (uint64_t off = 0; off < big_.size(); off += 128 << 10) {
    all += Read(opened->fh, off, 128 << 10);
  }
  EXPECT_EQ(all, big_);
  EXPECT_EQ(Read(opened->fh, big_.size(), 10), "");
  fs_->Release(opened->fh);
  EXPECT_EQ(api_.DownloadedBytes(), big_.size());  // every byte fetched once
  api_.ResetCalls();
  Mount();  // the published content survives a remount
  auto again = Walk({"Acme", "Launch∕2024", "Design [31]", "big.bin"});
  api_.ResetCalls();
  auto reopened = fs_->Open(again->ino, O_RDONLY, 1);
  EXPECT_EQ(Read(reopened->fh, 5 << 20, 100), big_.substr(5 << 20, 100));
  fs_->Release(reopened->fh);
  EXPECT_EQ(api_.TotalCalls(), 0);
}

TEST_F(VfsStreamTest, DownloadIsPublishedWhenItsLastReaderCloses) {
  auto first = fs_->Open(ino_, O_RDONLY, 1);
  auto second = fs_->Open(ino_, O_RDONLY, 2);
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(Read(first->fh, 0, big_.size()), big_);
  // Complete, but two handles read it: publishing (an fsync of the whole file)
  // waits until no reader is left.
  EXPECT_FALSE(cache_->OpenCached("60", big_.size()).has_value());
  fs_->Release(first->fh);
  EXPECT_FALSE(cache_->OpenCached("60", big_.size()).has_value());
  EXPECT_EQ(Read(second->fh, 7 << 20, 4096), big_.substr(7 << 20, 4096));
  fs_->Release(second->fh);
  EXPECT_TRUE(cache_->OpenCached("60", big_.size()).has_value());
  EXPECT_EQ(api_.DownloadedBytes(), big_.size());  // the second handle shared the fetches
  EXPECT_EQ(api_.Calls("GetAttachment"), 1);
}

TEST_F(VfsStreamTest, OpenFileStaysReadableAfterUnlink) {
  auto opened = fs_->Open(ino_, O_RDONLY, 1);
  uint64_t task = Walk({"Acme", "Launch∕2024", "Design [31]"})->ino;
  ASSERT_EQ(ErrnoOf(fs_->Unlink(task, "big.bin")), 0);
  EXPECT_FALSE(api_.GetAttachment("60").has_value());
  EXPECT_EQ(Read(opened->fh, 15 << 20, 1000), big_.substr(15 << 20, 1000));
  fs_->Release(opened->fh);
}

TEST_F(VfsStreamTest, ExpiredUrlMidStreamIsRefreshed) {
  auto opened = fs_->Open(ino_, O_RDONLY, 1);
  EXPECT_EQ(Read(opened->fh, 0, 1000), big_.substr(0, 1000));
  api_.expire_downloads = 1;
  EXPECT_EQ(Read(opened->fh, 10 << 20, 1000), big_.substr(10 << 20, 1000));
  fs_->Release(opened->fh);
  EXPECT_EQ(api_.Calls("GetAttachment"), 2);
}

}  // namespace
}  // namespace asanafs::vfs

namespace asanafs::vfs {
namespace {

class VfsMetaTest : public VfsWriteTest {};

TEST_F(VfsMetaTest, XattrsComeFromTheListingWithoutRequests) {
  auto file = Walk({"Acme", "Launch∕2024", "Design", "spec.pdf"});
  auto task = Walk({"Acme", "Launch∕2024", "Design"});
  auto link = Walk({"Acme", "Launch∕2024", "Design", "Drive doc.url"});
  api_.ResetCalls();
  EXPECT_EQ(*fs_->GetXattr(file->ino, "user.asana.gid"), "50");
  EXPECT_EQ(*fs_->GetXattr(file->ino, "user.asana.resource_type"), "attachment");
  EXPECT_EQ(*fs_->GetXattr(file->ino, "user.asana.host"), "asana");
  EXPECT_EQ(*fs_->GetXattr(file->ino, "user.asana.created_at"), "2020-09-13T12:33:20.000Z");
  EXPECT_EQ(*fs_->GetXattr(task->ino, "user.asana.resource_type"), "task");
  EXPECT_EQ(*fs_->GetXattr(link->ino, "user.asana.host"), "gdrive");
  EXPECT_EQ(*fs_->GetXattr(link->ino, "user.asana.url"),
            "https://drive.google.com/file/d/abc/view");
  EXPECT_EQ(ToErrno(fs_->GetXattr(file->ino, "user.asana.upload_state").error()), ENODATA);
  EXPECT_EQ(ToErrno(fs_->GetXattr(file->ino, "user.other").error()), ENODATA);
  auto names = fs_->ListXattr(file->ino);
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(names->size(), 4u);  // gid, resource_type, host, created_at
  EXPECT_EQ(api_.TotalCalls(), 0);
}

TEST_F(VfsMetaTest, UploadStateFollowsTheFile) {
  uint64_t task = TaskIno();
  api_.FailNext("UploadAttachment", MakeError(ErrorCode::kUnavailable, "503 from Asana", 503));
  ASSERT_FALSE(WriteNew(task, "state.txt", "x").has_value());
  auto entry = fs_->Lookup(task, "state.txt");
  EXPECT_EQ(*fs_->GetXattr(entry->ino, "user.asana.upload_state"), "failed: 503 from Asana");
  EXPECT_NE(fs_->StatusText().find("state.txt"), std::string::npos);
  clock_.Advance(seconds(2));
  fs_->RunWorkerOnce();
  EXPECT_EQ(*fs_->GetXattr(entry->ino, "user.asana.upload_state"), "uploaded");
  EXPECT_NE(fs_->StatusText().find("uploads not yet in Asana: 0"), std::string::npos);
}

TEST_F(VfsMetaTest, StatusFileIsFoundByNameButNotListed) {
  auto status = fs_->Lookup(1, ".asanafs-status");
  ASSERT_TRUE(status.has_value());
  EXPECT_GT(status->attr.st_size, 0);
  std::string text = ReadAll(status->ino);
  EXPECT_NE(text.find("cache:"), std::string::npos);
  for (const auto& name : List(1)) {
    EXPECT_NE(name, ".asanafs-status");
  }
  EXPECT_EQ(ErrnoOf(fs_->Unlink(1, ".asanafs-status")), EPERM);
}

// Races between a landing upload (Land → DeleteReplaced → Finish) and a listing
// or the events poller. The kernel keeps a dentry name → ino for entry_timeout
// and opens that ino without asking again: Open(ino) directly models such a
// dentry, Lookup its re-validation. The soak once read an old version this way.
class VfsLandingRaceTest : public VfsWriteTest {
 protected:
  // cp src mnt/dir/name over an existing file, through the inode the kernel holds.
  void OverwriteIno(uint64_t ino, const std::string& content) {
    auto opened = fs_->Open(ino, O_WRONLY | O_TRUNC, 7);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    if (!content.empty()) {
      ASSERT_EQ(*fs_->Write(opened->fh, content.data(), content.size(), 0), content.size());
    }
    ASSERT_TRUE(fs_->Flush(opened->fh, 7).has_value());
    fs_->Release(opened->fh);  // for an empty file: the upload happens here
  }
  // At the next DELETE (of a replaced or moved version), the listing of `dir`
  // is due (TTL, or an event made it stale) and another process lists it.
  void ListDuringNextDelete(uint64_t dir) { ListAt("DeleteAttachment", dir); }
  // The same once the next upload is in Asana, before its reply is back.
  void ListDuringNextUploadReply(uint64_t dir) { ListAt("UploadAttachment:after", dir); }
  void ListAt(const std::string& hook, uint64_t dir) {
    api_.Before(hook, [this, dir] {
      clock_.Advance(seconds(61));
      (void)List(dir);
    });
  }
  // `cp dir/name out` after a LOOKUP reads `content`.
  void ExpectNameReads(uint64_t dir, const std::string& name, const std::string& content) {
    auto looked = fs_->Lookup(dir, name);
    ASSERT_TRUE(looked.has_value());
    EXPECT_EQ(ReadAll(looked->ino), content) << "a read by name gives another version";
  }
  uint64_t OtherTaskIno() {
    for (const auto& n : List(Walk({"Acme", "Launch∕2024"})->ino)) {
      if (n.rfind("Design [", 0) == 0) {
        return Walk({"Acme", "Launch∕2024", n})->ino;
      }
    }
    ADD_FAILURE() << "no second task";
    return 0;
  }
};

// A listing applied between Land() and Finish() of an overwrite (here: during
// the DELETE of the replaced version) must not give the name a second node for
// the new gid: the name keeps the inode the kernel holds and wrote through.
TEST_F(VfsLandingRaceTest, ListingDuringTheDeleteOfAReplacedVersionKeepsTheInode) {
  uint64_t task = TaskIno();
  auto before = fs_->Lookup(task, "empty.txt");
  ASSERT_TRUE(before.has_value());
  const uint64_t kernel_ino = before->ino;
  ListDuringNextDelete(task);
  OverwriteIno(kernel_ino, "new content");
  auto after = fs_->Lookup(task, "empty.txt");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->ino, kernel_ino) << "the name now resolves to another node (" << after->ino
                                    << ") than the one just written (" << kernel_ino << ")";
}

// The soak's failure: `cp empty mnt/f` through the kernel's (still valid)
// dentry, then `cp mnt/f out` after a LOOKUP must read the empty version, not
// the one before it.
TEST_F(VfsLandingRaceTest, EmptyOverwriteAfterSuchAListingIsWhatTheNameReads) {
  uint64_t task = TaskIno();
  const uint64_t kernel_ino = fs_->Lookup(task, "empty.txt")->ino;
  ListDuringNextDelete(task);
  OverwriteIno(kernel_ino, "new content");  // worker: overwrite 11 B
  OverwriteIno(kernel_ino, "");             // worker: overwrite 0 B (dentry still valid)
  ASSERT_EQ(Remote("empty.txt").size(), 1u);
  EXPECT_EQ(RemoteContent(Remote("empty.txt")[0].gid), "");  // Asana is right
  auto looked = fs_->Lookup(task, "empty.txt");              // cp-out: dentry expired, LOOKUP
  ASSERT_TRUE(looked.has_value());
  EXPECT_EQ(looked->attr.st_size, 0);
  EXPECT_EQ(ReadAll(looked->ino), "") << "cp-out read the replaced version";
  // The final verification (after the listing TTL / an event) reads the right content.
  clock_.Advance(seconds(61));
  auto later = fs_->Lookup(task, "empty.txt");
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(ReadAll(later->ino), "");
}

// The same through the events poller (Refresh -> EnsureListed) instead of an ls -lR.
TEST_F(VfsLandingRaceTest, EventsPollerDuringTheDeleteKeepsTheInode) {
  uint64_t task = TaskIno();
  (void)List(task);
  asana::EventPage expired;
  expired.expired = true;
  expired.sync = "s1";
  api_.PushEvents(expired);
  fs_->PollEventsOnce();  // the project's event stream is set up
  const uint64_t kernel_ino = fs_->Lookup(task, "empty.txt")->ino;
  api_.Before("DeleteAttachment", [&] {
    asana::EventPage page;
    page.sync = "s2";
    page.events.push_back({{"999999", "attachment"}, asana::EventRef{"30", "task"}, "added"});
    api_.PushEvents(page);
    EXPECT_EQ(fs_->PollEventsOnce(), 1u);  // re-lists task 30 while the old version is deleted
  });
  OverwriteIno(kernel_ino, "new content");
  OverwriteIno(kernel_ino, "");
  ExpectNameReads(task, "empty.txt", "");
}

// Later listings keep the name on the same inode too, so a write through the
// kernel's dentry is what a reader by name gets.
TEST_F(VfsLandingRaceTest, NextListingKeepsTheNameOnTheSameInode) {
  uint64_t task = TaskIno();
  const uint64_t first = fs_->Lookup(task, "empty.txt")->ino;
  ListDuringNextDelete(task);
  OverwriteIno(first, "new content");
  const uint64_t second = fs_->Lookup(task, "empty.txt")->ino;  // kernel follows the name
  clock_.Advance(seconds(61));
  (void)List(task);  // any later listing (ls -lR elsewhere, poller)
  const uint64_t third = fs_->Lookup(task, "empty.txt")->ino;
  EXPECT_EQ(second, third) << "the name moved from node " << second << " to node " << third;
  OverwriteIno(second, "");  // through the kernel's dentry (still valid)
  ExpectNameReads(task, "empty.txt", "");
}

// A listing answered after Asana created an upload and before its reply came
// back shows the new attachment beside the staged file of the same name:
// the staged node stands for it, and no second node is kept for it.
TEST_F(VfsLandingRaceTest, ListingDuringAnUploadsReplyKeepsNoSecondNode) {
  uint64_t task = TaskIno();
  (void)List(task);
  const size_t nodes = fs_->GetBookkeepingStats().nodes;
  ListDuringNextUploadReply(task);
  ASSERT_TRUE(WriteNew(task, "n.txt", "abc").has_value());
  clock_.Advance(seconds(61));
  (void)List(task);
  EXPECT_EQ(fs_->GetBookkeepingStats().nodes, nodes + 1);
  ExpectNameReads(task, "n.txt", "abc");
}

// The same after `mv` of a landed file (upload under the new name, then DELETE
// of the old): the new name keeps the renamed inode.
TEST_F(VfsLandingRaceTest, ListingDuringTheDeleteOfAMoveKeepsTheInode) {
  uint64_t task = TaskIno();
  const uint64_t kernel_ino = fs_->Lookup(task, "empty.txt")->ino;
  ListDuringNextDelete(task);
  ASSERT_EQ(ErrnoOf(fs_->Rename(task, "empty.txt", task, "moved.txt", 0)), 0);
  auto after = fs_->Lookup(task, "moved.txt");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->ino, kernel_ino);
}

// A listing answered while the upload of a renamed file was on the wire
// shows the new attachment under the new name; the rename's node takes that
// name, and no second node is kept for it.
TEST_F(VfsLandingRaceTest, ListingDuringARenamesUploadKeepsNoSecondNode) {
  uint64_t task = TaskIno();
  (void)List(task);
  const size_t nodes = fs_->GetBookkeepingStats().nodes;
  ListDuringNextUploadReply(task);
  ASSERT_EQ(ErrnoOf(fs_->Rename(task, "empty.txt", task, "moved.txt", 0)), 0);
  clock_.Advance(seconds(61));
  (void)List(task);
  EXPECT_EQ(fs_->GetBookkeepingStats().nodes, nodes);
  ExpectNameReads(task, "moved.txt", "");
}

// After a move to another task, a listing of the source task during the DELETE
// of the old version must not show the old name again (replaced gids are
// hidden in every directory, not only in the staged file's own task).
TEST_F(VfsLandingRaceTest, SourceListedDuringAMovesDeleteKeepsTheOldNameGone) {
  uint64_t task = TaskIno();
  uint64_t other = OtherTaskIno();
  (void)List(task);
  (void)List(other);
  ListDuringNextDelete(task);
  ASSERT_EQ(ErrnoOf(fs_->Rename(task, "empty.txt", other, "moved.txt", 0)), 0);
  EXPECT_TRUE(Remote("empty.txt").empty());
  EXPECT_FALSE(fs_->Lookup(task, "empty.txt").has_value())
      << "the moved file is back under its old name";
}

// As above, with the source task's listing answered before the DELETE and
// applied after it, when the replaced gid is no longer hidden: DeleteReplaced
// marks every listing then on the wire as stale.
TEST_F(VfsLandingRaceTest, SourceListingAnsweredBeforeAMovesDeleteKeepsTheOldNameGone) {
  uint64_t task = TaskIno();
  uint64_t other = OtherTaskIno();
  (void)List(task);
  (void)List(other);
  std::promise<void> answered, proceed;
  std::thread lister;
  api_.Before("DeleteAttachment", [&] {
    clock_.Advance(seconds(61));
    api_.AfterList([&] {
      answered.set_value();
      proceed.get_future().wait();
    });
    lister = std::thread([&] { (void)List(task); });
    answered.get_future().wait();
  });
  ASSERT_EQ(ErrnoOf(fs_->Rename(task, "empty.txt", other, "moved.txt", 0)), 0);
  proceed.set_value();
  lister.join();
  EXPECT_TRUE(Remote("empty.txt").empty());
  EXPECT_FALSE(fs_->Lookup(task, "empty.txt").has_value())
      << "the moved file is back under its old name";
}

}  // namespace
}  // namespace asanafs::vfs

namespace asanafs::vfs {
namespace {

// Races between a listing on the wire and a change this mount makes in the
// same directory (issue 5's soak: a removed file left in Asana, an rsync'ed
// file uploaded twice). The listing is answered before the change reaches
// Asana and applied after it: it must not undo the change.
class VfsListingRaceTest : public VfsWriteTest {
 protected:
  // Arms `method` (the upload or the deletion of the change) to start a
  // listing of `dir` from another thread, with the task's listing expired,
  // and to wait until Asana has answered it. The listing is applied only
  // when Finish() is called.
  void ListDuring(const std::string& method, uint64_t dir) {
    api_.Before(method, [this, dir] {
      clock_.Advance(seconds(61));  // past dir_ttl: the next access lists the task again
      api_.AfterList([this] {
        answered_.set_value();
        proceed_.get_future().wait();
      });
      lister_ = std::thread([this, dir] { (void)List(dir); });
      answered_.get_future().wait();
    });
  }
  void Finish() {
    proceed_.set_value();
    lister_.join();
  }
  void TearDown() override {
    if (lister_.joinable()) {
      Finish();
    }
    VfsWriteTest::TearDown();
  }

  // Overwrites `name` in `dir` with `content` like cp: open O_TRUNC, write, close.
  void Overwrite(uint64_t dir, const std::string& name, const std::string& content) {
    auto entry = fs_->Lookup(dir, name);
    ASSERT_TRUE(entry.has_value());
    auto opened = fs_->Open(entry->ino, O_WRONLY | O_TRUNC, 7);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    ASSERT_EQ(*fs_->Write(opened->fh, content.data(), content.size(), 0), content.size());
    ASSERT_TRUE(fs_->Flush(opened->fh, 7).has_value());
    fs_->Release(opened->fh);
  }

  std::promise<void> answered_;
  std::promise<void> proceed_;
  std::thread lister_;
};

TEST_F(VfsListingRaceTest, OverwriteThenRemoveLeavesNothingInAsana) {
  uint64_t task = TaskIno();
  ListDuring("UploadAttachment", task);
  Overwrite(task, "empty.txt", "new content");
  Finish();  // the listing still shows the replaced version (gid 53)
  auto entry = fs_->Lookup(task, "empty.txt");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(ReadAll(entry->ino), "new content");
  ASSERT_EQ(ErrnoOf(fs_->Unlink(task, "empty.txt")), 0);
  EXPECT_TRUE(Remote("empty.txt").empty()) << "the removed file is still in Asana";
}

TEST_F(VfsListingRaceTest, NewFileStaysVisibleAfterAListingFromBeforeItLanded) {
  // rsync sends a file it does not see again: it would land twice.
  uint64_t task = TaskIno();
  ListDuring("UploadAttachment", task);
  ASSERT_TRUE(WriteNew(task, "r-747.dat", "synced").has_value());
  Finish();
  EXPECT_TRUE(fs_->Lookup(task, "r-747.dat").has_value());
  EXPECT_EQ(Remote("r-747.dat").size(), 1u);
}

TEST_F(VfsListingRaceTest, RemovedFileDoesNotComeBack) {
  uint64_t task = TaskIno();
  ListDuring("DeleteAttachment", task);
  ASSERT_EQ(ErrnoOf(fs_->Unlink(task, "empty.txt")), 0);
  Finish();
  EXPECT_FALSE(fs_->Lookup(task, "empty.txt").has_value());
}

TEST_F(VfsListingRaceTest, ListingStillAppliesWhenNothingChangedMeanwhile) {
  uint64_t task = TaskIno();
  List(task);
  asana::Attachment a;
  a.gid = "60";
  a.name = "added-in-asana.txt";
  api_.AddAttachment("30", a, "x");
  clock_.Advance(seconds(61));
  api_.ResetCalls();
  EXPECT_TRUE(fs_->Lookup(task, "added-in-asana.txt").has_value());
  EXPECT_EQ(api_.Calls("ListAttachments"), 1);  // asked once: nothing to ask again for
}

TEST_F(VfsWriteTest, RenameWaitingForALandingUploadMovesWhatLanded) {
  // An empty file is uploaded at its last release; `mv` right after it waits
  // for that upload, then must move the attachment that landed.
  uint64_t task = TaskIno();
  auto created = fs_->Create(task, "e.txt", 0644, O_WRONLY | O_CREAT, 7);
  ASSERT_TRUE(created.has_value());
  ASSERT_TRUE(fs_->Flush(created->fh, 7).has_value());  // nothing written: no upload yet
  std::thread renamer;
  Status renamed;
  RunWhenUploadStarts(&renamer, [&] { renamed = fs_->Rename(task, "e.txt", task, "f.txt", 0); });
  fs_->Release(created->fh);  // uploads e.txt
  renamer.join();
  EXPECT_EQ(ErrnoOf(renamed), 0);
  EXPECT_TRUE(Remote("e.txt").empty()) << "the old name is still in Asana";
  EXPECT_EQ(Remote("f.txt").size(), 1u);
  EXPECT_FALSE(fs_->Lookup(task, "e.txt").has_value());
  auto moved = fs_->Lookup(task, "f.txt");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(ReadAll(moved->ino), "");
}

TEST_F(VfsWriteTest, TruncateWaitingForALandingUploadChangesWhatLanded) {
  // `truncate -s 3` right after an empty file's last close waits for its
  // upload. The staged file is then the new version's cache entry: the
  // truncate must become a new version, never change that entry.
  uint64_t task = TaskIno();
  auto created = fs_->Create(task, "t.txt", 0644, O_WRONLY | O_CREAT, 7);
  ASSERT_TRUE(created.has_value());
  ASSERT_TRUE(fs_->Flush(created->fh, 7).has_value());  // nothing written: no upload yet
  std::thread truncater;
  int truncate_errno = -1;
  RunWhenUploadStarts(&truncater, [&] {
    SetAttrRequest req;
    req.size = 3;
    auto done = fs_->SetAttr(created->entry.ino, req);
    truncate_errno = done.has_value() ? 0 : ToErrno(done.error());
  });
  fs_->Release(created->fh);  // uploads the empty t.txt
  truncater.join();
  EXPECT_EQ(truncate_errno, 0);
  auto remote = Remote("t.txt");
  ASSERT_EQ(remote.size(), 1u) << "the empty version is not replaced";
  EXPECT_EQ(RemoteContent(remote[0].gid), std::string(3, '\0'));
  auto entry = fs_->Lookup(task, "t.txt");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(ReadAll(entry->ino), std::string(3, '\0'));
}

TEST_F(VfsWriteTest, ReplacedVersionWhoseDeletionFailedIsDeletedByTheRetry) {
  uint64_t task = TaskIno();
  auto entry = fs_->Lookup(task, "empty.txt");
  ASSERT_TRUE(entry.has_value());
  api_.FailNext("DeleteAttachment", MakeError(ErrorCode::kUnavailable, "503 from Asana", 503));
  auto opened = fs_->Open(entry->ino, O_WRONLY | O_TRUNC, 7);
  ASSERT_TRUE(opened.has_value());
  ASSERT_EQ(*fs_->Write(opened->fh, "v2", 2, 0), 2u);
  ASSERT_TRUE(fs_->Flush(opened->fh, 7).has_value());  // landed; the old one is still there
  fs_->Release(opened->fh);
  EXPECT_EQ(Remote("empty.txt").size(), 2u);
  clock_.Advance(seconds(3));
  fs_->RunWorkerOnce();
  ASSERT_EQ(Remote("empty.txt").size(), 1u);
  EXPECT_EQ(RemoteContent(Remote("empty.txt")[0].gid), "v2");
  EXPECT_EQ(fs_->GetUploadStats().staged, 0u);
}

// The per-file bookkeeping does not grow with files that come and go
// (issue 5's soak: RSS drift).
TEST_F(VfsWriteTest, DownloadLocksGoAwayAfterTheDownload) {
  uint64_t task = TaskIno();
  // A rename of a file in Asana fetches its content (FetchContent).
  ASSERT_EQ(ErrnoOf(fs_->Rename(task, "spec.pdf", task, "moved.pdf", 0)), 0);
  ASSERT_EQ(Remote("moved.pdf").size(), 1u);
  EXPECT_EQ(fs_->GetBookkeepingStats().downloads, 0u);
}

TEST_F(VfsWriteTest, AttributesOfADeletedVersionAreDropped) {
  uint64_t task = TaskIno();
  auto target = fs_->Lookup(task, "empty.txt");
  ASSERT_TRUE(target.has_value());
  SetAttrRequest chmod;
  chmod.mode = 0600;
  ASSERT_TRUE(fs_->SetAttr(target->ino, chmod).has_value());
  ASSERT_EQ(fs_->GetBookkeepingStats().overlays, 1u);
  ASSERT_TRUE(WriteNew(task, "new.txt", "replacement").has_value());
  // rsync's last step: the new file replaces the target (gid 53 is deleted).
  ASSERT_EQ(ErrnoOf(fs_->Rename(task, "new.txt", task, "empty.txt", 0)), 0);
  EXPECT_TRUE(Remote("new.txt").empty());
  ASSERT_EQ(Remote("empty.txt").size(), 1u);
  EXPECT_EQ(fs_->GetBookkeepingStats().overlays, 0u);
  auto kept = state_->ListOverlays();
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE(kept->empty());
}

TEST_F(VfsWriteTest, ClosedStreamsAreSwept) {
  for (int i = 0; i < 200; ++i) {
    asana::Attachment a;
    a.gid = std::to_string(7000 + i);
    a.name = "f" + std::to_string(i) + ".bin";
    api_.AddAttachment("30", a, "content " + std::to_string(i));
  }
  uint64_t task = TaskIno();
  for (int i = 0; i < 200; ++i) {
    auto entry = fs_->Lookup(task, "f" + std::to_string(i) + ".bin");
    ASSERT_TRUE(entry.has_value());
    ASSERT_EQ(ReadAll(entry->ino), "content " + std::to_string(i));
  }
  EXPECT_LE(fs_->GetBookkeepingStats().remotes, 65u);
}

TEST_F(VfsWriteTest, NodeOfAFileRemovedBeforeItLandedIsForgotten) {
  uint64_t task = TaskIno();
  List(task);
  size_t before = fs_->GetBookkeepingStats().nodes;
  auto created = fs_->Create(task, "short-lived.tmp", 0644, O_WRONLY | O_CREAT, 7);
  ASSERT_TRUE(created.has_value());
  ASSERT_EQ(ErrnoOf(fs_->Unlink(task, "short-lived.tmp")), 0);
  fs_->Release(created->fh);
  fs_->Forget(created->entry.ino, 1);  // the kernel's lookup reference
  EXPECT_EQ(fs_->GetBookkeepingStats().nodes, before);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 0);
}

class VfsEventsTest : public VfsTest {
 protected:
  static asana::EventPage Expired(std::string sync) {
    asana::EventPage page;
    page.expired = true;
    page.sync = std::move(sync);
    return page;
  }
};

TEST_F(VfsEventsTest, NothingInUseMeansNoPolling) {
  List(1);
  auto ws = Walk({"Acme"});
  ASSERT_TRUE(ws.has_value());
  List(ws->ino);  // the root and workspaces are not projects: nothing to subscribe to
  EXPECT_EQ(fs_->PollEventsOnce(), 0u);
  EXPECT_EQ(api_.Calls("GetEvents"), 0);
}

TEST_F(VfsEventsTest, AStoryOnATaskRelistsItAndAnExpiredTokenMakesTheProjectStale) {
  auto task = Walk({"Acme", "Launch∕2024", "Design"});
  ASSERT_TRUE(task.has_value());
  List(task->ino);
  api_.PushEvents(Expired("s1"));  // the first call only hands out a token
  EXPECT_EQ(fs_->PollEventsOnce(), 0u);
  EXPECT_EQ(api_.Calls("GetEvents"), 1);

  asana::Attachment added;
  added.gid = "60";
  added.name = "new.txt";
  api_.AddAttachment("30", added, "fresh");
  asana::EventPage page;
  page.sync = "s2";
  page.events.push_back({{"900", "story"}, asana::EventRef{"30", "task"}, "added"});
  api_.PushEvents(page);
  api_.ResetCalls();
  EXPECT_EQ(fs_->PollEventsOnce(), 1u);  // re-listed at once, without waiting for the TTL
  EXPECT_EQ(api_.Calls("ListAttachments"), 1);
  auto names = List(task->ino);
  EXPECT_NE(std::find(names.begin(), names.end(), "new.txt"), names.end());
  EXPECT_EQ(api_.Calls("ListAttachments"), 1);  // and that listing is reused

  // Events were lost: everything listed under the project is re-listed at next use.
  api_.PushEvents(Expired("s3"));
  api_.ResetCalls();
  EXPECT_EQ(fs_->PollEventsOnce(), 0u);
  EXPECT_EQ(api_.Calls("ListAttachments"), 0);
  List(task->ino);
  EXPECT_EQ(api_.Calls("ListAttachments"), 1);
}

TEST_F(VfsEventsTest, ADeletedAttachmentDisappearsAndEventsOnUnknownGidsCostNothing) {
  auto task = Walk({"Acme", "Launch∕2024", "Design"});
  ASSERT_TRUE(task.has_value());
  List(task->ino);
  api_.PushEvents(Expired("s1"));
  fs_->PollEventsOnce();
  api_.RemoveAttachment("53");
  asana::EventPage page;
  page.sync = "s2";
  page.events.push_back({{"53", "attachment"}, std::nullopt, "deleted"});
  page.events.push_back({{"777", "task"}, std::nullopt, "deleted"});  // never seen here
  api_.PushEvents(page);
  api_.ResetCalls();
  EXPECT_EQ(fs_->PollEventsOnce(), 1u);
  EXPECT_EQ(api_.Calls("ListAttachments"), 1);
  auto names = List(task->ino);
  EXPECT_EQ(std::find(names.begin(), names.end(), "empty.txt"), names.end());
  EXPECT_FALSE(Walk({"Acme", "Launch∕2024", "Design", "empty.txt"}).has_value());
}

// Views (issue 6): a project's Key resources next to its tasks, and -o sections.
class VfsViewsTest : public VfsWriteTest {
 protected:
  static asana::EventPage Expired(std::string sync) {
    asana::EventPage page;
    page.expired = true;
    page.sync = std::move(sync);
    return page;
  }
  // A Key resource of project 20 named like its task directories, and one more.
  void AddKeyResources() {
    asana::Attachment a;
    a.gid = "60";
    a.name = "Design";
    a.size = 5;
    a.created_at = At(1600000600);
    api_.AddAttachment("20", a, "plan!");
    a.gid = "61";
    a.name = "brief.txt";
    a.size = 11;
    a.created_at = At(1600000700);
    api_.AddAttachment("20", a, "brief bytes");
  }
  // Sections of project 20: "Backlog" (task 30) and "Doing/now" (task 31), "Done" empty.
  void AddSections() {
    api_.AddSection("20", {"70", "Backlog", At(1600000010)});
    api_.AddSection("20", {"71", "Doing/now", At(1600000020)});
    api_.AddSection("20", {"72", "Done", At(1600000030)});
    api_.AddTaskToSection("70", {"30", "Design", At(1600000100), At(1650000000), ""});
    api_.AddTaskToSection("71", {"31", "Design", At(1600000200), At(1650000000), ""});
  }
};

TEST_F(VfsViewsTest, KeyResourcesAreFilesNamedTogetherWithTheTaskDirectories) {
  AddKeyResources();
  auto project = Walk({"Acme", "Launch∕2024"});
  ASSERT_TRUE(project.has_value());
  api_.ResetCalls();
  // The file "Design" is the newest of three "Design": it gets the suffix.
  EXPECT_EQ(List(project->ino), (std::vector<std::string>{".", "..", "Design", "Design [31]",
                                                          "Design [60]", "brief.txt"}));
  // One list of tasks and one of the project's attachments: nothing per entry.
  EXPECT_EQ(api_.Calls("ListTasks"), 1);
  EXPECT_EQ(api_.Calls("ListAttachments"), 1);
  EXPECT_EQ(api_.TotalCalls(), 2);
  auto brief = fs_->Lookup(project->ino, "brief.txt");
  ASSERT_TRUE(brief.has_value());
  EXPECT_TRUE(S_ISREG(brief->attr.st_mode));
  EXPECT_EQ(brief->attr.st_size, 11);
  EXPECT_EQ(ReadAll(brief->ino), "brief bytes");
  auto file = fs_->Lookup(project->ino, "Design [60]");
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(ReadAll(file->ino), "plan!");
  EXPECT_EQ(*fs_->GetXattr(file->ino, "user.asana.resource_type"), "attachment");
}

TEST_F(VfsViewsTest, AFailedKeyResourceListFailsTheProjectListingWhole) {
  auto ws = Walk({"Acme"});
  ASSERT_TRUE(ws.has_value());
  auto project = fs_->Lookup(ws->ino, "Launch∕2024");
  ASSERT_TRUE(project.has_value());
  api_.FailNext("ListAttachments", MakeError(ErrorCode::kUnavailable, "503"));
  auto opened = fs_->OpenDir(project->ino);
  ASSERT_FALSE(opened.has_value());  // never half a listing (tasks without the files)
  EXPECT_EQ(ToErrno(opened.error()), EIO);
  EXPECT_EQ(List(project->ino).size(), 4u);  // the next access lists again
}

TEST_F(VfsViewsTest, FilesWrittenIntoAProjectBecomeKeyResourcesAndRmDeletesThem) {
  auto project = Walk({"Acme", "Launch∕2024"});
  ASSERT_TRUE(project.has_value());
  api_.ResetCalls();
  ASSERT_TRUE(WriteNew(project->ino, "minutes.txt", "met, agreed").has_value());
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  auto listed = api_.ListAttachments("20");  // parent = the project
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "minutes.txt");
  EXPECT_EQ((*listed)[0].parent_gid, "20");
  auto file = fs_->Lookup(project->ino, "minutes.txt");
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(ReadAll(file->ino), "met, agreed");
  ASSERT_EQ(ErrnoOf(fs_->Unlink(project->ino, "minutes.txt")), 0);
  EXPECT_EQ(api_.Calls("DeleteAttachment"), 1);
  EXPECT_TRUE(api_.ListAttachments("20")->empty());
  // A file moved from a task into the project is re-parented the same way.
  auto task = Walk({"Acme", "Launch∕2024", "Design"});
  ASSERT_EQ(ErrnoOf(fs_->Rename(task->ino, "empty.txt", project->ino, "moved.txt", 0)), 0);
  listed = api_.ListAttachments("20");
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "moved.txt");
}

TEST_F(VfsViewsTest, SectionsShowOneDirectoryPerSectionWithItsTasks) {
  AddKeyResources();
  AddSections();
  sections_ = true;
  Mount();
  auto project = Walk({"Acme", "Launch∕2024"});
  ASSERT_TRUE(project.has_value());
  api_.ResetCalls();
  EXPECT_EQ(List(project->ino), (std::vector<std::string>{".", "..", "Backlog", "Design",
                                                          "Doing∕now", "Done", "brief.txt"}));
  EXPECT_EQ(api_.Calls("ListSections"), 1);
  EXPECT_EQ(api_.Calls("ListAttachments"), 1);
  EXPECT_EQ(api_.Calls("ListTasks"), 0);
  auto backlog = fs_->Lookup(project->ino, "Backlog");
  ASSERT_TRUE(backlog.has_value());
  EXPECT_TRUE(S_ISDIR(backlog->attr.st_mode));
  EXPECT_EQ(*fs_->GetXattr(backlog->ino, "user.asana.resource_type"), "section");
  EXPECT_EQ(*fs_->GetXattr(backlog->ino, "user.asana.gid"), "70");
  EXPECT_EQ(List(backlog->ino), (std::vector<std::string>{".", "..", "Design"}));
  EXPECT_EQ(api_.Calls("ListSectionTasks"), 1);
  auto doing = Walk({"Acme", "Launch∕2024", "Doing∕now"});
  EXPECT_EQ(List(doing->ino), (std::vector<std::string>{".", "..", "Design"}));
  EXPECT_EQ(List(Walk({"Acme", "Launch∕2024", "Done"})->ino),
            (std::vector<std::string>{".", ".."}));
  // Inside a task nothing changes: its files and subtasks, readable and writable.
  auto spec = Walk({"Acme", "Launch∕2024", "Backlog", "Design", "spec.pdf"});
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(ReadAll(spec->ino), "PDF-CONTENT-1");
  auto task = Walk({"Acme", "Launch∕2024", "Backlog", "Design"});
  ASSERT_TRUE(WriteNew(task->ino, "in-section.txt", "x").has_value());
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  // Sections and tasks are not made here; files are not put into a section.
  EXPECT_EQ(ToErrno(fs_->Mkdir(project->ino, "New", 0755).error()), EPERM);
  EXPECT_EQ(ToErrno(fs_->Mkdir(backlog->ino, "New", 0755).error()), EPERM);
  EXPECT_EQ(ToErrno(fs_->Create(backlog->ino, "f.txt", 0644, O_WRONLY, 1).error()), EPERM);
  EXPECT_EQ(api_.Calls("CreateTask"), 0);
}

TEST_F(VfsViewsTest, WithSectionsAProjectEventRelistsItsSectionDirectories) {
  AddSections();
  sections_ = true;
  Mount();
  auto backlog = Walk({"Acme", "Launch∕2024", "Backlog"});
  ASSERT_TRUE(backlog.has_value());
  List(backlog->ino);
  api_.PushEvents(Expired("s1"));
  fs_->PollEventsOnce();
  // A task was added to the project (Asana put it in Backlog).
  api_.AddTaskToSection("70", {"32", "Fresh", At(1600000900), At(1650000000), ""});
  asana::EventPage page;
  page.sync = "s2";
  page.events.push_back({{"32", "task"}, asana::EventRef{"20", "project"}, "added"});
  api_.PushEvents(page);
  api_.ResetCalls();
  EXPECT_EQ(fs_->PollEventsOnce(), 2u);  // the project and its listed section
  EXPECT_EQ(api_.Calls("ListSectionTasks"), 1);
  EXPECT_EQ(List(backlog->ino), (std::vector<std::string>{".", "..", "Design", "Fresh"}));
}

TEST_F(VfsViewsTest, AKeyResourceAddedInAsanaShowsAfterAStoryOnTheProject) {
  auto project = Walk({"Acme", "Launch∕2024"});
  ASSERT_TRUE(project.has_value());
  List(project->ino);
  api_.PushEvents(Expired("s1"));
  fs_->PollEventsOnce();
  AddKeyResources();
  asana::EventPage page;
  page.sync = "s2";
  page.events.push_back({{"901", "story"}, asana::EventRef{"20", "project"}, "added"});
  api_.PushEvents(page);
  EXPECT_EQ(fs_->PollEventsOnce(), 1u);
  auto names = List(project->ino);
  EXPECT_NE(std::find(names.begin(), names.end(), "brief.txt"), names.end());
}

}  // namespace
// Uploads while a new file is written (vfs/upload_stream.h): the fake Asana
// reads a streamed body to its end, as a server would.
class VfsUploadStreamTest : public VfsWriteTest {
 protected:
  void SetUp() override {
    VfsWriteTest::SetUp();
    stream_min_ = 64 * 1024;
    Mount();
    task_ = TaskIno();
    content_ = std::string(192 * 1024, '\0');
    for (size_t i = 0; i < content_.size(); ++i) {
      content_[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
    }
    api_.ResetCalls();
  }

  uint64_t Open(const std::string& name) {
    auto created = fs_->Create(task_, name, 0644, O_WRONLY | O_CREAT, 7);
    EXPECT_TRUE(created.has_value());
    return created ? created->fh : 0;
  }
  void WriteAt(uint64_t fh, size_t offset, size_t size) {
    ASSERT_EQ(*fs_->Write(fh, content_.data() + offset, size, static_cast<off_t>(offset)), size);
  }
  // Waits (up to 5 s) until the fake server has begun `n` streamed uploads.
  bool StreamsBegun(int n) {
    for (int i = 0; i < 500 && api_.streams_begun() < n; ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    return api_.streams_begun() == n;
  }
  // Creates `name`, writes its first 128 KiB and waits until its upload began.
  uint64_t OpenStreaming(const std::string& name) {
    const int before = api_.streams_begun();
    uint64_t fh = Open(name);
    WriteAt(fh, 0, 128 * 1024);
    EXPECT_TRUE(StreamsBegun(before + 1)) << name;
    return fh;
  }
  Status Close(uint64_t fh) {
    Status closed = fs_->Flush(fh, 7);
    fs_->Release(fh);
    return closed;
  }
  void ExpectOneRemote(const std::string& name, const std::string& content) {
    auto remote = Remote(name);
    ASSERT_EQ(remote.size(), 1u) << name;
    EXPECT_TRUE(RemoteContent(remote[0].gid) == content) << name;
  }

  uint64_t task_ = 0;
  std::string content_;
};

TEST_F(VfsUploadStreamTest, AFileWrittenInOrderUploadsWhileWrittenAndOnce) {
  uint64_t fh = Open("big.bin");
  WriteAt(fh, 0, 64 * 1024);
  ASSERT_TRUE(StreamsBegun(1));  // before the close, once 64 KiB were in
  EXPECT_NE(fs_->StatusText().find("streaming\t"), std::string::npos) << fs_->StatusText();
  WriteAt(fh, 64 * 1024, 128 * 1024);
  ASSERT_TRUE(Close(fh).has_value());
  EXPECT_EQ(api_.Calls("UploadAttachmentStream"), 1);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 0);
  ExpectOneRemote("big.bin", content_);
  EXPECT_EQ(fs_->GetUploadStats().staged, 0u);
}

TEST_F(VfsUploadStreamTest, ASmallFileUploadsAtCloseOnly) {
  uint64_t fh = Open("small.bin");
  WriteAt(fh, 0, 1000);
  ASSERT_TRUE(Close(fh).has_value());
  EXPECT_EQ(api_.streams_begun(), 0);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  ExpectOneRemote("small.bin", content_.substr(0, 1000));
}

TEST_F(VfsUploadStreamTest, ARewriteOfSentBytesUploadsTheWholeFileAtClose) {
  uint64_t fh = OpenStreaming("patched.bin");
  content_.replace(10, 3, "XYZ");
  WriteAt(fh, 10, 3);  // what went out is no longer the file
  WriteAt(fh, 128 * 1024, 64 * 1024);
  ASSERT_TRUE(Close(fh).has_value());
  EXPECT_EQ(api_.Calls("UploadAttachmentStream"), 0);  // aborted, never completed
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  ExpectOneRemote("patched.bin", content_);
}

TEST_F(VfsUploadStreamTest, ATruncateWhileWrittenUploadsTheWholeFileAtClose) {
  uint64_t fh = OpenStreaming("cut.bin");
  SetAttrRequest cut;
  cut.size = 1000;
  auto entry = fs_->Lookup(task_, "cut.bin");
  ASSERT_TRUE(entry.has_value());
  ASSERT_TRUE(fs_->SetAttr(entry->ino, cut).has_value());
  ASSERT_TRUE(Close(fh).has_value());
  EXPECT_EQ(api_.Calls("UploadAttachmentStream"), 0);
  ExpectOneRemote("cut.bin", content_.substr(0, 1000));
}

TEST_F(VfsUploadStreamTest, ARenameBeforeCloseLandsUnderTheNewNameOnly) {
  uint64_t fh = OpenStreaming("draft.bin");
  ASSERT_EQ(ErrnoOf(fs_->Rename(task_, "draft.bin", task_, "final.bin", 0)), 0);
  WriteAt(fh, 128 * 1024, 64 * 1024);
  ASSERT_TRUE(Close(fh).has_value());
  EXPECT_TRUE(Remote("draft.bin").empty());
  ExpectOneRemote("final.bin", content_);
}

TEST_F(VfsUploadStreamTest, AFileRemovedWhileWrittenNeverLands) {
  uint64_t fh = OpenStreaming("gone.bin");
  ASSERT_EQ(ErrnoOf(fs_->Unlink(task_, "gone.bin")), 0);
  (void)Close(fh);
  EXPECT_TRUE(Remote("gone.bin").empty());
  EXPECT_EQ(api_.Calls("UploadAttachmentStream") + api_.Calls("UploadAttachment"), 0);
}

TEST_F(VfsUploadStreamTest, AQuietWriterLetsTheUploadGoAndItLandsAtClose) {
  stream_idle_ = milliseconds(50);
  Mount();
  task_ = TaskIno();
  uint64_t fh = OpenStreaming("slow.bin");
  std::this_thread::sleep_for(milliseconds(300));  // past the idle limit: the request gave up
  WriteAt(fh, 128 * 1024, 64 * 1024);
  ASSERT_TRUE(Close(fh).has_value());
  EXPECT_EQ(api_.Calls("UploadAttachmentStream"), 0);
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  ExpectOneRemote("slow.bin", content_);
}

TEST_F(VfsUploadStreamTest, AFailureAfterTheWholeBodyLooksBeforeUploadingAgain) {
  api_.FailNext("UploadAttachmentStream", MakeError(ErrorCode::kTimeout, "reply lost"));
  uint64_t fh = Open("lost.bin");
  WriteAt(fh, 0, content_.size());
  ASSERT_TRUE(Close(fh).has_value());
  EXPECT_EQ(api_.streams_begun(), 1);
  EXPECT_GE(api_.Calls("ListAttachments"), 1);  // did it land after all? (no)
  EXPECT_EQ(api_.Calls("UploadAttachment"), 1);
  ExpectOneRemote("lost.bin", content_);
}

TEST_F(VfsUploadStreamTest, AServerThatRefusesStreamsGetsUploadsAtCloseFromThenOn) {
  api_.SetStreamsSupported(false);
  for (const std::string name : {"one.bin", "two.bin"}) {
    uint64_t fh = Open(name);
    WriteAt(fh, 0, content_.size());
    ASSERT_TRUE(Close(fh).has_value());
    ExpectOneRemote(name, content_);
  }
  EXPECT_EQ(api_.streams_begun(), 1);  // tried once, then no more
  EXPECT_EQ(api_.Calls("UploadAttachment"), 2);
}

}  // namespace asanafs::vfs
