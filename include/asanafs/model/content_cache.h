// model/content_cache: attachment bytes on local disk, keyed by attachment gid.
// Layer: model (depends on util only; POSIX file calls, no network).
//
// An attachment's content never changes (a new upload is a new gid), so an
// entry is valid for as long as it exists and has the expected size.
// Layout under the cache dir:
//   lock           flock'd by the one process using the dir; holds its pid
//   content/<gid>  committed, complete content
//   tmp/           fills in progress; emptied by Open (leftovers of a crash)
// Nothing outside these three names is touched, so a mistaken cache_dir
// (e.g. $HOME) loses no data.
//
// Crash safety: a fill is written to tmp/, fsync'd, then renamed into
// content/ (and the directory fsync'd), so a partially written file is never
// visible under content/.
//
// Thread safety: all methods may be called concurrently from any thread.
// No eviction or size cap yet.
#ifndef ASANAFS_MODEL_CONTENT_CACHE_H_
#define ASANAFS_MODEL_CONTENT_CACHE_H_

#include <atomic>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "asanafs/util/result.h"
#include "asanafs/util/unique_fd.h"

namespace asanafs::model {

// Returns true if `gid` is safe to use as a file name: 1–30 ASCII digits.
bool IsValidGid(std::string_view gid);

// A fill in progress: a private temp file to write the content into.
// Move-only. Destroying a Fill that was not committed discards its temp file.
// Must not outlive the ContentCache that made it.
class Fill {
 public:
  Fill(Fill&& other) noexcept;
  Fill& operator=(Fill&& other) noexcept;
  Fill(const Fill&) = delete;
  Fill& operator=(const Fill&) = delete;
  ~Fill();

  // A read-write fd of the temp file (pwrite the content; pread also works,
  // so readers can be served while the download is still running).
  int fd() const { return fd_.get(); }
  const std::string& gid() const { return gid_; }

 private:
  friend class ContentCache;
  Fill(int tmp_dir_fd, std::string gid, std::string tmp_name, UniqueFd fd);
  void Discard();

  int tmp_dir_fd_ = -1;  // borrowed from the ContentCache
  std::string gid_;
  std::string tmp_name_;  // name inside tmp/; empty once committed or moved from
  UniqueFd fd_;
};

class ContentCache {
 public:
  // Creates `dir` (and missing parents, mode 0700) if needed and takes an
  // exclusive flock on `dir/lock`. Errors: kBusy if another process (or
  // another open of the same dir) holds the lock; kIo for OS failures. Removes
  // temp files left by a crash and computes UsedBytes() from what is cached.
  static Result<std::unique_ptr<ContentCache>> Open(const std::string& dir);

  ContentCache(const ContentCache&) = delete;
  ContentCache& operator=(const ContentCache&) = delete;
  ~ContentCache();

  // Returns a read-only fd of the complete cached content of `gid` if it is
  // present and exactly `expected_size` bytes long; nullopt otherwise (also
  // for an invalid gid). A cached file of the wrong size is deleted.
  std::optional<UniqueFd> OpenCached(const std::string& gid, uint64_t expected_size);

  // Starts filling `gid`: returns a new, empty temp file to write into.
  // Errors: kInvalidArgument for an invalid gid, kIo for OS failures.
  // Several fills of the same gid may run at once; the last commit wins.
  Result<Fill> BeginFill(const std::string& gid);

  // Publishes a completed fill atomically as the content of its gid
  // (fsync, rename, fsync of the directory) and returns a read-only fd of it.
  // The caller checks the size before committing. On error the temp file is
  // discarded and nothing is published. Errors: kIo, kInvalidArgument if
  // `fill` was moved from.
  Result<UniqueFd> CommitFill(Fill fill);

  // Publishes the complete file at `path` (on the cache's filesystem, e.g. a
  // staged upload that just landed as `gid`) as the content of `gid`, by hard
  // link: no copy. The caller must not modify `path` afterwards.
  // Errors: kInvalidArgument for an invalid gid, kIo for OS failures.
  Status AdoptFile(const std::string& gid, const std::string& path);

  // Caps the committed content at `max_bytes` (0 = no cap). When a commit
  // takes the cache past the cap, the least recently used entries are deleted
  // down to 90% of it, skipping those for which `in_use(gid)` is true.
  void SetLimit(uint64_t max_bytes, std::function<bool(const std::string&)> in_use);
  // Deletes least recently used entries until UsedBytes() <= target.
  // Returns the number of bytes freed.
  uint64_t EvictTo(uint64_t target);

  // Total bytes of committed content currently in the cache.
  uint64_t UsedBytes() const { return used_bytes_.load(std::memory_order_relaxed); }

  // The cache dir as given to Open().
  const std::string& dir() const { return dir_; }

 private:
  ContentCache(std::string dir, UniqueFd lock_fd, UniqueFd content_dir_fd, UniqueFd tmp_dir_fd);

  std::string dir_;
  UniqueFd lock_fd_;  // holds the flock for the object's lifetime
  UniqueFd content_dir_fd_;
  UniqueFd tmp_dir_fd_;
  std::atomic<uint64_t> tmp_counter_{0};  // makes temp names unique within the process
  // Serialises replacing and deleting entries under content/, so that the
  // UsedBytes() accounting sees each file appear and disappear exactly once.
  std::mutex publish_mu_;
  std::atomic<uint64_t> used_bytes_{0};
  std::mutex limit_mu_;  // guards max_bytes_, in_use_; taken before publish_mu_
  uint64_t max_bytes_ = 0;
  std::function<bool(const std::string&)> in_use_;
  void EvictIfOverLimit();
};

}  // namespace asanafs::model

#endif  // ASANAFS_MODEL_CONTENT_CACHE_H_
