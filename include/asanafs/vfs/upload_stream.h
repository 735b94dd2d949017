// vfs/upload_stream: a new file uploaded while it is still being written.
// Layer: vfs (depends on asana/api.h and util).
//
// Uploading only at close makes `cp` wait for its writes and then for the
// whole upload. An UploadStream sends a staged file's bytes as they are
// appended (AsanaApi::UploadAttachmentStream, a chunked body) and lets the
// request end only when the close says the content is complete, so Asana
// never gets a partial file. A write anywhere but the end, a truncate, a
// writer quiet for longer than the idle limit, or giving up on it (rename,
// unlink, unmount) breaks the stream: its request is aborted before the body
// ends, nothing is created, and the file is uploaded whole at close as before.
#ifndef ASANAFS_VFS_UPLOAD_STREAM_H_
#define ASANAFS_VFS_UPLOAD_STREAM_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "asanafs/asana/api.h"
#include "asanafs/util/result.h"
#include "asanafs/util/unique_fd.h"

namespace asanafs::vfs {

class UploadStream {
 public:
  // Runs the request, pulling the body from the reader it is given.
  using Upload = std::function<Result<asana::Attachment>(const asana::UploadReader&)>;

  // `fd`: the staged file, empty so far (duplicated here). The request waits
  // at most `idle_limit` for the writer's next bytes, then gives up.
  UploadStream(int fd, std::chrono::milliseconds idle_limit);
  // Breaks the stream if it is still open and waits for its request to end.
  ~UploadStream();
  UploadStream(const UploadStream&) = delete;
  UploadStream& operator=(const UploadStream&) = delete;

  // Writes into the staged file. Bytes appended in order (the offset is the
  // current end) are what the request sends; any other write breaks the stream.
  Status Write(const char* buf, size_t size, off_t offset);
  uint64_t appended() const;
  // Starts the request in a thread of its own (once).
  void Start(Upload upload);
  bool started() const;
  // The content it has sent is no longer the file's: abort the request.
  void Break();
  bool broken() const;
  // The file is complete at `size` bytes: lets the request end and waits for
  // its result. Fails (kIo, "stream broken") without ending the body when the
  // stream broke or `size` is not what was appended.
  Result<asana::Attachment> Complete(uint64_t size);
  // True when the request's whole body went out, so Asana may hold the file
  // even if the reply was lost (look before sending it again).
  bool body_complete() const;

 private:
  Result<size_t> Read(uint64_t offset, char* buf, size_t len);

  UniqueFd fd_;
  const std::chrono::milliseconds idle_limit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Disk writeback of the appended bytes is started every kFlushStep bytes.
  static constexpr uint64_t kFlushStep = 8 << 20;
  uint64_t appended_ = 0;  // bytes [0, appended_) written in order
  uint64_t flushed_ = 0;   // writeback started up to here
  bool complete_ = false;  // the file ends at appended_
  bool broken_ = false;
  bool body_complete_ = false;
  std::thread thread_;
  std::optional<Result<asana::Attachment>> result_;  // set when the request ended
};

}  // namespace asanafs::vfs

#endif  // ASANAFS_VFS_UPLOAD_STREAM_H_
