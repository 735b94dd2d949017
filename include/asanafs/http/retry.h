// http/retry: RetryingTransport, a decorator that re-sends a request after a
// transient failure. Layer: http (util only).
//
// What is retried:
//  * 429 Too Many Requests, for every request (the server did not act on it),
//    after the reply's Retry-After seconds (or the backoff when absent);
//  * 500/502/503/504 and transport failures (kUnavailable, kTimeout) for
//    idempotent requests, after an exponential backoff with jitter;
//  * for non-idempotent requests (uploads, creates) only 429 and failures
//    that happened before anything was sent (RequestNotSent): an upload must
//    never be applied twice because of us.
// Every wait is bounded by the overall deadline and the attempt count; when
// either runs out, the last reply (e.g. the final 429 or 503) or the last
// error is returned unchanged.
//
// Streaming: a request with on_body never hands a byte twice to its sink.
// When a GET fails after some bytes were delivered, the next attempt asks for
// the rest with a Range header and skips what a server ignoring the Range
// sends again; requests that cannot resume are not retried once bytes flowed.
#ifndef ASANAFS_HTTP_RETRY_H_
#define ASANAFS_HTTP_RETRY_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>

#include "asanafs/http/transport.h"
#include "asanafs/util/clock.h"

namespace asanafs::http {

struct RetryOptions {
  int max_attempts = 6;                             // including the first
  std::chrono::milliseconds total_deadline{60000};  // from the first attempt's start
  std::chrono::milliseconds initial_backoff{200};   // doubled per retry...
  std::chrono::milliseconds max_backoff{10000};     // ...up to this
  uint64_t jitter_seed = 0;                         // 0: seeded from std::random_device
};

class RetryingTransport : public HttpTransport {
 public:
  // `inner` and `clock` must outlive this object.
  RetryingTransport(HttpTransport& inner, Clock& clock, RetryOptions options = {});

  // Sends `req` through `inner`, retrying as described above. Thread-safe.
  Result<HttpResponse> Send(const HttpRequest& req) override;

  // Returns the wait before retry number `retry` (1 = the first retry): a
  // uniformly random value in [b/2, b] with b = min(initial * 2^(retry-1), max).
  std::chrono::milliseconds Backoff(int retry);

  // Parses a Retry-After value given in seconds ("30"), capped at one day;
  // nullopt otherwise.
  static std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value);

 private:
  HttpTransport& inner_;
  Clock& clock_;
  const RetryOptions options_;
  std::mutex rng_mu_;  // guards rng_
  std::mt19937_64 rng_;
};

}  // namespace asanafs::http

#endif  // ASANAFS_HTTP_RETRY_H_
