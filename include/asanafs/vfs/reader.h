// vfs/reader: streams one attachment from its download URL into a sparse
// cache file with HTTP Range requests, so that a read is served as soon as
// its own range has arrived. Layer: vfs.
//
// The file is cut into fixed-size chunks (missing → in flight → present).
// A read waits only for the chunks it covers; sequential reads grow a
// read-ahead window (doubling up to a cap) that is fetched as several ranges
// in parallel, so one large file can beat a single connection. The download
// URL is refreshed before a range when it is older than `url_max_age`, and
// once after a 403 (expired URL). When every chunk is present the file is
// published in the ContentCache, so later opens (and mounts) cost nothing.
#ifndef ASANAFS_VFS_READER_H_
#define ASANAFS_VFS_READER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "asanafs/asana/api.h"
#include "asanafs/model/content_cache.h"
#include "asanafs/util/clock.h"
#include "asanafs/util/result.h"
#include "asanafs/util/unique_fd.h"

namespace asanafs::vfs {

struct ReaderOptions {
  uint64_t chunk_bytes = 1 << 20;         // unit of fetching and bookkeeping
  uint64_t initial_window = 1 << 20;      // read-ahead after the first sequential read
  uint64_t max_window = 64ull << 20;      // read-ahead cap
  uint64_t max_range_bytes = 8ull << 20;  // one Range request at most this long
  std::chrono::seconds url_max_age{90};   // refresh the URL before using it after this
};

// A small pool of threads running fetch jobs; threads start at first use
// (after the daemon forked). Jobs still queued at destruction are dropped.
class FetchPool {
 public:
  explicit FetchPool(size_t threads) : size_(threads) {}
  ~FetchPool();
  void Submit(std::function<void()> job);
  // Queues `jobs` ahead of everything already queued, in their given order.
  void SubmitFirst(std::vector<std::function<void()>> jobs);

 private:
  void Run();
  void StartThreadsLocked();  // mu_ held
  const size_t size_;
  std::mutex mu_;  // guards jobs_, threads_, stopping_
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

// Per-handle read-ahead state: where the next sequential read would start.
struct ReadAhead {
  uint64_t next_offset = 0;
  uint64_t window = 0;
};

class RemoteFile : public std::enable_shared_from_this<RemoteFile> {
 public:
  // `first` is the attachment as GET /attachments/{gid} returned it (with a
  // fresh download_url). Fails if the cache cannot start a fill.
  static Result<std::shared_ptr<RemoteFile>> Create(asana::AsanaApi& api,
                                                    model::ContentCache& cache, Clock& clock,
                                                    FetchPool& pool, const asana::Attachment& first,
                                                    uint64_t size, ReaderOptions options);
  ~RemoteFile();

  // Blocks until [offset, offset+length) (clipped to the size) is on disk,
  // fetching what is missing plus read-ahead. Returns the fetch's error.
  Status EnsureRange(uint64_t offset, uint64_t length, ReadAhead& ra);
  // Open handles reading the file. A complete download is published into the
  // cache once no reader is left: its fsync (tens of ms for 100 MiB) then
  // delays no read, and `cp` has returned before its release arrives. The
  // caller keeps its shared_ptr while RemoveReader publishes, so an open in
  // the meantime finds this object and shares the finished download.
  void AddReader();
  void RemoveReader();
  // An fd of the content (sparse until complete); valid for the object's life.
  int fd() const { return fd_.get(); }
  uint64_t size() const { return size_; }
  bool complete();

 private:
  enum class ChunkState : uint8_t { kMissing, kInFlight, kPresent };
  RemoteFile(asana::AsanaApi& api, model::ContentCache& cache, Clock& clock, FetchPool& pool,
             std::string gid, uint64_t size, ReaderOptions options, model::Fill fill);

  // Marks missing chunks in [first, last] in flight and queues range jobs (mu_ held).
  void Schedule(uint64_t first_chunk, uint64_t last_chunk);
  void Fetch(uint64_t first_chunk, uint64_t last_chunk);
  Result<std::string> Url(bool force_refresh);
  // The fill, if complete and unread (mu_ held); publish it after unlocking.
  std::optional<model::Fill> TakeFillToPublish();
  void Publish(model::Fill fill);  // into the ContentCache

  asana::AsanaApi& api_;
  model::ContentCache& cache_;
  Clock& clock_;
  FetchPool& pool_;
  const std::string gid_;
  const uint64_t size_;
  const ReaderOptions options_;
  UniqueFd fd_;  // a dup of the fill's fd: stays valid after publishing

  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::optional<model::Fill> fill_;  // nullopt once published
  uint64_t readers_ = 0;             // AddReader minus RemoveReader
  std::vector<ChunkState> chunks_;
  uint64_t present_ = 0;
  std::optional<Error> last_error_;  // of the most recent failed fetch
  uint64_t error_generation_ = 0;
  std::string url_;
  SteadyTime url_time_{};
  std::mutex url_mu_;  // serialises URL refreshes
};

}  // namespace asanafs::vfs

#endif  // ASANAFS_VFS_READER_H_
