// http/limiter: keeps requests to Asana within its concurrent-request limits
// (50 GETs and 15 writes in flight per token). Layer: http.
//
// A decorator: each Send() to the API waits for a slot of its kind. Requests
// without an Authorization header (downloads from a storage host) are not
// Asana API calls and pass straight through.
#ifndef ASANAFS_HTTP_LIMITER_H_
#define ASANAFS_HTTP_LIMITER_H_

#include <condition_variable>
#include <cstddef>
#include <mutex>

#include "asanafs/http/transport.h"
#include "asanafs/util/priority.h"

namespace asanafs::http {

class LimitingTransport : public HttpTransport {
 public:
  // `inner` must outlive this object.
  LimitingTransport(HttpTransport& inner, size_t max_reads = 50, size_t max_writes = 15);
  Result<HttpResponse> Send(const HttpRequest& req) override;

  // Requests in flight now, for tests and status.
  size_t reads_in_flight();
  size_t writes_in_flight();

 private:
  HttpTransport& inner_;
  const size_t max_reads_;
  const size_t max_writes_;
  std::mutex mu_;  // guards the counters
  std::condition_variable cv_;
  size_t reads_ = 0;
  size_t writes_ = 0;
  size_t foreground_waiting_ = 0;
};

}  // namespace asanafs::http

#endif  // ASANAFS_HTTP_LIMITER_H_
