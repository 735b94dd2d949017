#include "asanafs/http/limiter.h"

#include <strings.h>

namespace asanafs::http {
namespace {

bool IsApiCall(const HttpRequest& req) {
  for (const auto& [name, value] : req.headers) {
    if (strcasecmp(name.c_str(), "Authorization") == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

LimitingTransport::LimitingTransport(HttpTransport& inner, size_t max_reads, size_t max_writes)
    : inner_(inner), max_reads_(max_reads), max_writes_(max_writes) {}

Result<HttpResponse> LimitingTransport::Send(const HttpRequest& req) {
  if (!IsApiCall(req)) {
    return inner_.Send(req);
  }
  const bool read = req.method == "GET" || req.method == "HEAD";
  size_t& in_flight = read ? reads_ : writes_;
  const size_t limit = read ? max_reads_ : max_writes_;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (BackgroundPriority::active()) {
      cv_.wait(lock, [&] { return in_flight < limit && foreground_waiting_ == 0; });
    } else {
      ++foreground_waiting_;
      cv_.wait(lock, [&] { return in_flight < limit; });
      --foreground_waiting_;
    }
    ++in_flight;
  }
  auto result = inner_.Send(req);
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight;
  }
  cv_.notify_all();
  return result;
}

size_t LimitingTransport::reads_in_flight() {
  std::lock_guard<std::mutex> lock(mu_);
  return reads_;
}

size_t LimitingTransport::writes_in_flight() {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

}  // namespace asanafs::http
