// http/transport: the HTTP seam. Layer: http (depends on util only).
//
// HttpTransport sends one request and reports HTTP facts: a status, headers and
// a body. It never decides what a status means for a file (that is asana/'s
// and vfs/'s job). A Result error means no HTTP reply was obtained at all
// (connect failure, reset, deadline): ErrorCode::kUnavailable or kTimeout.
#ifndef ASANAFS_HTTP_TRANSPORT_H_
#define ASANAFS_HTTP_TRANSPORT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asanafs/util/result.h"

namespace asanafs::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// `HttpRequest::range->second` value meaning "to the end" (Range: bytes=N-).
inline constexpr uint64_t kRangeToEnd = UINT64_MAX;

// Gives bytes [offset, offset + len) of a body part whose length is not known
// yet, blocking until some are there: the count given (0 = the end), or an
// error to abort the request. Called again from 0 when a request is re-sent.
using PartReader = std::function<Result<size_t>(uint64_t offset, char* buf, size_t len)>;

// One part of a multipart/form-data body. Either `value` (a plain field),
// `file_path` (streamed from disk) or `reader` (streamed as it is produced,
// so the body goes out with chunked transfer encoding); the last two are sent
// with `filename` and `content_type`.
struct MultipartPart {
  std::string name;
  std::string value;
  std::string file_path;
  std::string filename;      // already encoded for the header by the caller
  std::string content_type;  // e.g. "application/octet-stream"
  PartReader reader;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  Headers headers;  // e.g. {"Authorization", "Bearer …"}; never logged
  std::string body;
  std::vector<MultipartPart> multipart;  // non-empty: send multipart/form-data
  // Inclusive byte range [first, last] for a Range header.
  std::optional<std::pair<uint64_t, uint64_t>> range;
  // When set, body bytes of a 2xx reply go here instead of HttpResponse::body;
  // returning false aborts the transfer. Error replies are always buffered.
  std::function<bool(std::string_view)> on_body;
  // When set (with on_body), called once per 2xx reply with its status and
  // headers, before any of its body bytes go to on_body, so a sink can tell
  // 200 from 206; returning false aborts the transfer. Send fails with
  // ErrorCode::kIo when either callback aborted it.
  std::function<bool(int status, const Headers& headers)> on_response;
  std::chrono::milliseconds timeout{30000};  // whole request deadline
  std::chrono::milliseconds connect_timeout{10000};
  // A transfer that moves no byte for this long fails with kTimeout (rounded
  // up to whole seconds); 0: the transport's default stall limit.
  std::chrono::milliseconds stall_timeout{0};
  bool idempotent = true;  // false: never re-sent after bytes may have reached the server
  // When set, told how many request body bytes have been sent so far (uploads).
  std::function<void(uint64_t sent)> on_upload_progress;
};

struct HttpResponse {
  int status = 0;
  Headers headers;          // names as received
  std::string body;         // empty when on_body consumed it
  uint64_t body_bytes = 0;  // bytes received (buffered or given to on_body)

  // Returns the first header named `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

// True when `e` (a Send error) happened before any byte of the request could
// have reached the server (DNS failure, connection refused): then even a
// non-idempotent request may be re-sent. Transports mark such errors with
// sys_errno == ECONNREFUSED.
bool RequestNotSent(const Error& e);

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends `req` and waits for the reply. Thread-safe.
  virtual Result<HttpResponse> Send(const HttpRequest& req) = 0;
};

}  // namespace asanafs::http

#endif  // ASANAFS_HTTP_TRANSPORT_H_
