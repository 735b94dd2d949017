#include "asanafs/vfs/upload_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "vfs_internal.h"

namespace asanafs::vfs {

namespace {

Error StreamBroken() {
  Error e = MakeError(ErrorCode::kIo, "the upload while writing was given up");
  e.sys_errno = EIO;
  return e;
}

}  // namespace

UploadStream::UploadStream(int fd, std::chrono::milliseconds idle_limit)
    : fd_(::fcntl(fd, F_DUPFD_CLOEXEC, 0)), idle_limit_(idle_limit) {
  if (!fd_.valid()) {
    broken_ = true;  // never started; the file uploads at close as usual
  }
}

UploadStream::~UploadStream() {
  Break();
  if (thread_.joinable()) {
    thread_.join();
  }
}

Status UploadStream::Write(const char* buf, size_t size, off_t offset) {
  uint64_t flush_from = 0;
  uint64_t flush_to = 0;
  {
    // The lock spans the pwrite: the request must never send bytes that a
    // write is still changing.
    std::lock_guard<std::mutex> lock(mu_);
    if (!fd_.valid()) {
      return MakeError(ErrorCode::kIo, "the staged file could not be duplicated");
    }
    RETURN_IF_ERROR(WriteAllAt(fd_.get(), buf, size, offset));
    if (size == 0 || broken_) {
      return OkStatus();
    }
    if (static_cast<uint64_t>(offset) != appended_) {
      broken_ = true;  // a rewrite or a hole: what was (or will be) sent is not the file
      cv_.notify_all();
      return OkStatus();
    }
    appended_ += size;
    cv_.notify_all();
    if (appended_ - flushed_ >= kFlushStep) {
      flush_from = flushed_;
      flush_to = flushed_ = appended_;
    }
  }
  if (flush_to > flush_from) {
    // Starts writing the bytes to disk now, while they upload: the fsync at
    // close, which must come before the request may end, then has little left.
    (void)::sync_file_range(fd_.get(), static_cast<off_t>(flush_from),
                            static_cast<off_t>(flush_to - flush_from), SYNC_FILE_RANGE_WRITE);
  }
  return OkStatus();
}

uint64_t UploadStream::appended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return appended_;
}

void UploadStream::Start(Upload upload) {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || broken_) {
    return;
  }
  thread_ = std::thread([this, upload = std::move(upload)] {
    Result<asana::Attachment> r =
        upload([this](uint64_t offset, char* buf, size_t len) { return Read(offset, buf, len); });
    std::lock_guard<std::mutex> lock(mu_);
    result_ = std::move(r);
  });
}

bool UploadStream::started() const {
  std::lock_guard<std::mutex> lock(mu_);
  return thread_.joinable();
}

void UploadStream::Break() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!complete_) {
    broken_ = true;
    cv_.notify_all();
  }
}

bool UploadStream::broken() const {
  std::lock_guard<std::mutex> lock(mu_);
  return broken_;
}

Result<asana::Attachment> UploadStream::Complete(uint64_t size) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken_ || size != appended_ || !thread_.joinable()) {
      broken_ = true;
    } else {
      complete_ = true;
    }
    cv_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!complete_) {
    return StreamBroken();
  }
  return result_.value_or(StreamBroken());
}

bool UploadStream::body_complete() const {
  std::lock_guard<std::mutex> lock(mu_);
  return body_complete_;
}

Result<size_t> UploadStream::Read(uint64_t offset, char* buf, size_t len) {
  std::unique_lock<std::mutex> lock(mu_);
  // Waits for the writer; a writer quiet for idle_limit_ is not worth an open
  // request (servers time out idle bodies too): it uploads at close instead.
  while (!broken_ && !complete_ && offset >= appended_) {
    const uint64_t before = appended_;
    if (!cv_.wait_for(lock, idle_limit_,
                      [&] { return broken_ || complete_ || appended_ != before; })) {
      broken_ = true;
    }
  }
  if (broken_) {
    return StreamBroken();
  }
  if (offset >= appended_) {
    body_complete_ = true;  // complete_: the end of the file
    return size_t{0};
  }
  const size_t n = static_cast<size_t>(std::min<uint64_t>(len, appended_ - offset));
  auto got = ReadAt(fd_.get(), buf, n, static_cast<off_t>(offset), "reading the staged file");
  if (!got.has_value() || *got != n) {
    broken_ = true;
    return got.has_value() ? StreamBroken() : got.error();
  }
  return n;
}

}  // namespace asanafs::vfs
