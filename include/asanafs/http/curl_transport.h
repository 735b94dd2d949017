// http/curl_transport: HttpTransport over libcurl. Layer: http.
//
// libcurl's header is included only by src/http/curl_transport.cc; this header
// keeps curl out of every other translation unit (pimpl).
//
// Thread-safe: FUSE threads call Send() concurrently. Each call borrows an easy
// handle from a small pool (a handle keeps its connections alive between
// uses, so a busy mount reuses TCP/TLS connections), and all handles share DNS
// and TLS-session caches through one CURLSH with per-kind mutexes.
//
// Policy that never changes: only http and https (redirects included), TLS
// verification on, no verbose output (it would print the Authorization
// header), no signals, a connect and a total deadline per request, an abort
// when the transfer stalls, redirects followed only by requests without an
// Authorization header.
#ifndef ASANAFS_HTTP_CURL_TRANSPORT_H_
#define ASANAFS_HTTP_CURL_TRANSPORT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "asanafs/http/transport.h"

namespace asanafs::http {

struct CurlTransportOptions {
  std::string user_agent;  // empty: "asanafs/<version>"
  // A transfer slower than `low_speed_bytes_per_s` for `low_speed_time` is
  // aborted with kTimeout (a stalled connection must not wait for the whole
  // deadline of a 100 MB upload).
  long low_speed_bytes_per_s = 1;
  std::chrono::seconds low_speed_time{60};
  // Idle easy handles kept for reuse; more may exist while many threads send.
  size_t max_idle_handles = 16;
  // An idle handle unused this long is closed with its connections (a burst
  // of concurrent requests must not keep its sockets open for good).
  std::chrono::milliseconds max_idle_age{60000};
  // A buffered reply body (API JSON, error bodies) larger than this fails the
  // request with kBadResponse instead of exhausting memory. on_body streams
  // are not limited.
  uint64_t max_buffered_body = 64ull << 20;
  std::string ca_bundle;  // empty: the system's CA store
};

class CurlTransport : public HttpTransport {
 public:
  CurlTransport();
  explicit CurlTransport(CurlTransportOptions options);
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  // Sends `req`. Errors (no HTTP reply): kTimeout when a deadline or the stall
  // limit passed, kUnavailable otherwise (with sys_errno ECONNREFUSED when the
  // connection could not be made, see RequestNotSent), kIo when on_body or
  // on_response aborted, kInvalidArgument for a malformed request (e.g. a
  // header value with CR/LF), kBadResponse for an oversized buffered body.
  // Messages name the curl error, never headers or the URL's query string.
  // At log level debug, logs one line per request (method, path, status).
  // `req.timeout` <= 0 means no total deadline (the stall limit still applies).
  Result<HttpResponse> Send(const HttpRequest& req) override;

 private:
  Result<HttpResponse> SendOnce(const HttpRequest& req);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace asanafs::http

#endif  // ASANAFS_HTTP_CURL_TRANSPORT_H_
