#include "asanafs/util/block_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace asanafs {

BlockWriter::BlockWriter(int fd, uint64_t offset, size_t block_bytes)
    : fd_(fd), block_bytes_(std::max<size_t>(1, block_bytes)), written_end_(offset) {}

Status BlockWriter::Append(std::string_view bytes) {
  while (!bytes.empty()) {
    if (block_ == nullptr) {
      block_ = std::make_unique<char[]>(block_bytes_);
    }
    const size_t n = std::min(bytes.size(), block_bytes_ - used_);
    std::memcpy(block_.get() + used_, bytes.data(), n);
    used_ += n;
    bytes.remove_prefix(n);
    if (used_ == block_bytes_) {
      RETURN_IF_ERROR(Flush());
    }
  }
  return OkStatus();
}

Status BlockWriter::Flush() {
  size_t done = 0;
  while (done < used_) {
    ssize_t n =
        ::pwrite(fd_, block_.get() + done, used_ - done, static_cast<off_t>(written_end_ + done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      // Keep what was not written at the front of the block: a retry resumes there.
      std::memmove(block_.get(), block_.get() + done, used_ - done);
      used_ -= done;
      written_end_ += done;
      Error e = MakeError(ErrorCode::kIo, std::string("pwrite: ") + std::strerror(err));
      e.sys_errno = err;
      return Unexpected(e);
    }
    done += static_cast<size_t>(n);
  }
  written_end_ += used_;
  used_ = 0;
  return OkStatus();
}

}  // namespace asanafs
