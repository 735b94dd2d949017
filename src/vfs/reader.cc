#include "asanafs/vfs/reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "asanafs/util/block_writer.h"
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
  // Fetch jobs and readers hold a shared_ptr: none is left. An unfinished
  // fill is discarded by its destructor (a partial file is never published).
}

void RemoteFile::AddReader() {
  std::lock_guard<std::mutex> lock(mu_);
  ++readers_;
}

void RemoteFile::RemoveReader() {
  std::unique_lock<std::mutex> lock(mu_);
  --readers_;
  std::optional<model::Fill> whole = TakeFillToPublish();
  lock.unlock();
  if (whole.has_value()) {
    Publish(std::move(*whole));
  }
}

std::optional<model::Fill> RemoteFile::TakeFillToPublish() {
  if (readers_ > 0 || present_ != chunks_.size() || !fill_.has_value()) {
    return std::nullopt;
  }
  std::optional<model::Fill> whole = std::move(fill_);
  fill_.reset();
  return whole;
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
  BlockWriter out(fd_.get(), start);
  std::optional<Error> write_error;
  // Marks the chunks written so far present, so that readers start early.
  auto mark_written = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    bool any = false;
    for (uint64_t c = first_chunk; c <= last_chunk; ++c) {
      uint64_t chunk_end = std::min(size_, (c + 1) * options_.chunk_bytes);
      if (chunks_[c] == ChunkState::kInFlight && chunk_end <= out.written_end()) {
        chunks_[c] = ChunkState::kPresent;
        ++present_;
        any = true;
      }
    }
    if (any) {
      cv_.notify_all();
    }
  };
  // Appends `bytes` (all of them written once `flush`); false on a write error.
  auto write = [&](std::string_view bytes, bool flush) {
    const uint64_t before = out.written_end();
    Status st = out.Append(bytes);
    if (st.has_value() && flush) {
      st = out.Flush();
    }
    if (!st.has_value()) {
      write_error = st.error();
      return false;
    }
    if (out.written_end() != before) {
      mark_written();
    }
    return true;
  };
  auto sink = [&](std::string_view bytes) {
    bytes = bytes.substr(0, std::min<uint64_t>(bytes.size(), end - out.appended_end()));
    const bool last = out.appended_end() + bytes.size() == end;
    return write(bytes, last) && !last;
  };
  Status status;
  for (int attempt = 0; attempt < 2 && out.appended_end() < end; ++attempt) {
    auto url = Url(/*force_refresh=*/attempt > 0);
    if (!url.has_value()) {
      status = Unexpected(url.error());
      break;
    }
    const uint64_t from = out.appended_end();
    auto got = api_.Download(*url, from, end - from, sink);
    // Bytes received before a failure are good: write them, a retry resumes after them.
    if (!write_error.has_value()) {
      write({}, /*flush=*/true);
    }
    if (write_error.has_value()) {
      // kIo with the errno of the failed write: e.g. ENOSPC reaches the reader as such.
      write_error->message = "writing the cache file: " + write_error->message;
      status = Unexpected(*write_error);
      break;
    }
    if (got.has_value() || out.written_end() >= end) {
      status = OkStatus();
      if (out.written_end() < end) {
        status =
            MakeError(ErrorCode::kBadResponse, "the download of " + gid_ + " ended early at byte " +
                                                   std::to_string(out.written_end()));
      }
      break;
    }
    status = Unexpected(got.error());
    // 403 from the storage host: the URL expired. Fetch a fresh one, once.
    if (got.error().code != ErrorCode::kPermissionDenied) {
      break;
    }
  }
  const uint64_t pos = out.written_end();
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
  std::optional<model::Fill> whole = TakeFillToPublish();
  lock.unlock();
  cv_.notify_all();
  if (whole.has_value()) {
    Publish(std::move(*whole));  // every reader left before the end arrived
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
