#include "asanafs/vfs/reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "asanafs/util/log.h"

namespace asanafs::vfs {

FetchPool::~FetchPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    t.join();
  }
}

void FetchPool::Submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
    StartThreadsLocked();
  }
  cv_.notify_one();
}

void FetchPool::SubmitFirst(std::vector<std::function<void()>> jobs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
      jobs_.push_front(std::move(*it));
    }
    StartThreadsLocked();
  }
  cv_.notify_all();
}

void FetchPool::StartThreadsLocked() {
  while (threads_.size() < size_ && threads_.size() < jobs_.size()) {
    threads_.emplace_back([this] { Run(); });
  }
}

void FetchPool::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) {
      return;
    }
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

Result<std::shared_ptr<RemoteFile>> RemoteFile::Create(asana::AsanaApi& api,
                                                       model::ContentCache& cache, Clock& clock,
                                                       FetchPool& pool,
                                                       const asana::Attachment& first,
                                                       uint64_t size, ReaderOptions options) {
  if (first.download_url.empty()) {
    return MakeError(ErrorCode::kNotSupported, "attachment " + first.gid + " has no download URL");
  }
  ASSIGN_OR_RETURN(auto fill, cache.BeginFill(first.gid));
  std::shared_ptr<RemoteFile> file(
      new RemoteFile(api, cache, clock, pool, first.gid, size, options, std::move(fill)));
  if (!file->fd_.valid()) {
    return MakeError(ErrorCode::kIo, std::string("dup of a cache fd: ") + std::strerror(errno));
  }
  // Sparse file of the final size: reads of ranges not yet fetched never happen
  // (EnsureRange waits), and publishing needs no further truncation.
  if (::ftruncate(file->fd_.get(), static_cast<off_t>(size)) != 0) {
    return MakeError(ErrorCode::kIo, std::string("sizing the cache file: ") + std::strerror(errno));
  }
  file->url_ = first.download_url;
  file->url_time_ = clock.SteadyNow();
  return file;
}

RemoteFile::RemoteFile(asana::AsanaApi& api, model::ContentCache& cache, Clock& clock,
                       FetchPool& pool, std::string gid, uint64_t size, ReaderOptions options,
                       model::Fill fill)
    : api_(api),
      cache_(cache),
      clock_(clock),
      pool_(pool),
      gid_(std::move(gid)),
      size_(size),
      options_(options),
      fd_(::dup(fill.fd())),
      fill_(std::move(fill)),
      chunks_((size + options.chunk_bytes - 1) / options.chunk_bytes, ChunkState::kMissing) {}

RemoteFile::~RemoteFile() {
  // Fetch jobs hold a shared_ptr: none is running now. An unfinished fill is
  // discarded by its destructor (a partial file is never published).
}

bool RemoteFile::complete() {
  std::lock_guard<std::mutex> lock(mu_);
  return present_ == chunks_.size();
}

Result<std::string> RemoteFile::Url(bool force_refresh) {
  std::lock_guard<std::mutex> url_lock(url_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!force_refresh && clock_.SteadyNow() - url_time_ < options_.url_max_age) {
      return url_;
    }
  }
  ASSIGN_OR_RETURN(asana::Attachment att, api_.GetAttachment(gid_));
  if (att.download_url.empty()) {
    return MakeError(ErrorCode::kNotSupported, "attachment " + gid_ + " has no download URL");
  }
  std::lock_guard<std::mutex> lock(mu_);
  url_ = att.download_url;
  url_time_ = clock_.SteadyNow();
  return url_;
}

void RemoteFile::Schedule(uint64_t first_chunk, uint64_t last_chunk) {
  const uint64_t per_job = std::max<uint64_t>(1, options_.max_range_bytes / options_.chunk_bytes);
  uint64_t c = first_chunk;
  while (c <= last_chunk) {
    if (chunks_[c] != ChunkState::kMissing) {
      ++c;
      continue;
    }
    uint64_t end = c;
    while (end + 1 <= last_chunk && end + 1 - c < per_job &&
           chunks_[end + 1] == ChunkState::kMissing) {
      ++end;
    }
    for (uint64_t i = c; i <= end; ++i) {
      chunks_[i] = ChunkState::kInFlight;
    }
    auto self = shared_from_this();
    pool_.Submit([self, c, end] { self->Fetch(c, end); });
    c = end + 1;
  }
}

void RemoteFile::Fetch(uint64_t first_chunk, uint64_t last_chunk) {
  const uint64_t start = first_chunk * options_.chunk_bytes;
  const uint64_t end = std::min(size_, (last_chunk + 1) * options_.chunk_bytes);
  uint64_t pos = start;
  bool write_failed = false;
  auto sink = [&](std::string_view bytes) {
    bytes = bytes.substr(0, std::min<uint64_t>(bytes.size(), end - pos));
    while (!bytes.empty()) {
      ssize_t n = ::pwrite(fd_.get(), bytes.data(), bytes.size(), static_cast<off_t>(pos));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        write_failed = true;
        return false;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      pos += static_cast<uint64_t>(n);
      // Publish whole chunks as they complete so that readers start early.
      std::lock_guard<std::mutex> lock(mu_);
      bool any = false;
      for (uint64_t c = first_chunk; c <= last_chunk; ++c) {
        uint64_t chunk_end = std::min(size_, (c + 1) * options_.chunk_bytes);
        if (chunks_[c] == ChunkState::kInFlight && chunk_end <= pos) {
          chunks_[c] = ChunkState::kPresent;
          ++present_;
          any = true;
        }
      }
      if (any) {
        cv_.notify_all();
      }
    }
    return pos < end;
  };
  Status status;
  for (int attempt = 0; attempt < 2 && pos < end; ++attempt) {
    auto url = Url(/*force_refresh=*/attempt > 0);
    if (!url.has_value()) {
      status = Unexpected(url.error());
      break;
    }
    auto got = api_.Download(*url, pos, end - pos, sink);
    if (write_failed) {
      Error e =
          MakeError(ErrorCode::kIo, std::string("writing the cache file: ") + std::strerror(errno));
      e.sys_errno = errno;
      status = Unexpected(e);
      break;
    }
    if (got.has_value() || pos >= end) {
      status = OkStatus();
      if (pos < end) {
        status =
            MakeError(ErrorCode::kBadResponse,
                      "the download of " + gid_ + " ended early at byte " + std::to_string(pos));
      }
      break;
    }
    status = Unexpected(got.error());
    // 403 from the storage host: the URL expired. Fetch a fresh one, once.
    if (got.error().code != ErrorCode::kPermissionDenied) {
      break;
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (!status.has_value()) {
    LOG(WARN) << "fetching bytes " << start << "-" << end << " of attachment " << gid_
              << " failed: " << status.error().message;
    last_error_ = status.error();
    ++error_generation_;
  }
  for (uint64_t c = first_chunk; c <= last_chunk; ++c) {
    if (chunks_[c] == ChunkState::kInFlight) {
      uint64_t chunk_end = std::min(size_, (c + 1) * options_.chunk_bytes);
      if (chunk_end <= pos && status.has_value()) {
        chunks_[c] = ChunkState::kPresent;
        ++present_;
      } else {
        chunks_[c] = ChunkState::kMissing;  // a later read tries again
      }
    }
  }
  std::optional<model::Fill> whole;
  if (present_ == chunks_.size() && fill_.has_value()) {
    whole = std::move(fill_);
    fill_.reset();
  }
  lock.unlock();
  cv_.notify_all();
  if (whole.has_value()) {
    // Outside mu_: publishing fsyncs the whole file (tens of ms for 100 MiB),
    // and the reads still waiting for the last chunks need not wait for that.
    Publish(std::move(*whole));
  }
}

void RemoteFile::Publish(model::Fill fill) {
  auto published = cache_.CommitFill(std::move(fill));
  if (!published.has_value()) {
    LOG(WARN) << "cannot keep attachment " << gid_
              << " in the cache: " << published.error().message;
  }
}

Status RemoteFile::EnsureRange(uint64_t offset, uint64_t length, ReadAhead& ra) {
  if (size_ == 0 || offset >= size_) {
    return OkStatus();
  }
  length = std::min(length, size_ - offset);
  const uint64_t cb = options_.chunk_bytes;
  const uint64_t first = offset / cb;
  const uint64_t last = (offset + length - 1) / cb;
  // Sequential access grows the read-ahead window; a jump resets it.
  if (offset == ra.next_offset) {
    ra.window =
        ra.window == 0 ? options_.initial_window : std::min(ra.window * 2, options_.max_window);
  } else {
    ra.window = 0;
  }
  ra.next_offset = offset + length;
  const uint64_t ahead_end = std::min(size_, offset + length + ra.window);
  const uint64_t ahead_last = (ahead_end - 1) / cb;

  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t generation = error_generation_;
  Schedule(first, std::max(last, ahead_last));
  for (;;) {
    bool ready = true;
    for (uint64_t c = first; c <= last; ++c) {
      if (chunks_[c] != ChunkState::kPresent) {
        ready = false;
        if (chunks_[c] == ChunkState::kMissing) {
          // A fetch covering it failed since we scheduled it.
          if (error_generation_ != generation && last_error_) {
            return Unexpected(*last_error_);
          }
          Schedule(c, c);
        }
      }
    }
    if (ready) {
      return OkStatus();
    }
    cv_.wait(lock);
  }
}

}  // namespace asanafs::vfs
