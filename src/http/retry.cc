#include "asanafs/http/retry.h"

#include <strings.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <string>
#include <utility>

#include "asanafs/http/url.h"
#include "asanafs/util/log.h"

namespace asanafs::http {
namespace {

using std::chrono::milliseconds;

bool IsRetryableStatus(int status) {
  return status == 500 || status == 502 || status == 503 || status == 504;
}

// Parses "bytes FIRST-LAST/TOTAL" (TOTAL may be "*").
bool ParseContentRange(std::string_view v, uint64_t* first, uint64_t* last) {
  if (v.substr(0, 6) != "bytes ") {
    return false;
  }
  v.remove_prefix(6);
  size_t dash = v.find('-');
  size_t slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return false;
  }
  auto parse = [](std::string_view s, uint64_t* out) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
  };
  return parse(v.substr(0, dash), first) && parse(v.substr(dash + 1, slash - dash - 1), last);
}

// Bookkeeping that makes several attempts look like one reply to the caller's
// on_response/on_body. Shared by the wrappers installed on each attempt.
struct StreamState {
  const HttpRequest* user = nullptr;
  bool announced = false;  // the caller's on_response has seen a reply
  int first_status = 0;
  bool resumable = false;            // first reply's byte offsets are known
  uint64_t first_start = 0;          // offset in the resource of the first reply's body
  uint64_t first_end = kRangeToEnd;  // inclusive, or kRangeToEnd
  uint64_t delivered = 0;            // bytes given to the caller's on_body
  uint64_t skip = 0;                 // bytes of the current attempt to drop (server ignored Range)
  bool user_aborted = false;
  bool mismatch = false;  // a resumed reply did not continue where we stopped

  // Records the first reply's offsets, or checks a resumed reply's.
  bool OnResponse(int status, const Headers& headers) {
    std::string content_range;
    for (const auto& [k, v] : headers) {
      if (k.size() == 13 && strncasecmp(k.c_str(), "Content-Range", 13) == 0) {
        content_range = v;
        break;
      }
    }
    uint64_t first = 0;
    uint64_t last = 0;
    const bool has_range = ParseContentRange(content_range, &first, &last);
    if (!announced) {
      announced = true;
      first_status = status;
      if (status == 200) {
        resumable = true;
      } else if (status == 206 && has_range) {
        resumable = true;
        first_start = first;
        first_end = last;
      }
      if (user->on_response && !user->on_response(status, headers)) {
        user_aborted = true;
        return false;
      }
      return true;
    }
    const uint64_t want = first_start + delivered;
    skip = 0;
    if (status == 200) {
      skip = want;  // the whole resource again: drop what the caller has
    } else if (!(status == 206 && has_range && first == want)) {
      mismatch = true;
      return false;
    }
    return true;
  }

  bool OnBody(std::string_view bytes) {
    if (skip > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(skip, bytes.size()));
      skip -= n;
      bytes.remove_prefix(n);
      if (bytes.empty()) {
        return true;
      }
    }
    if (first_end != kRangeToEnd) {
      // Never more than the first reply promised.
      uint64_t room = first_end + 1 - first_start - delivered;
      if (bytes.size() > room) {
        bytes = bytes.substr(0, static_cast<size_t>(room));
      }
    }
    delivered += bytes.size();
    if (!user->on_body(bytes)) {
      user_aborted = true;
      return false;
    }
    return true;
  }
};

std::string Describe(const Result<HttpResponse>& r) {
  if (r.has_value()) {
    return "HTTP " + std::to_string(r->status);
  }
  return std::string(ErrorCodeName(r.error().code)) + ": " + r.error().message;
}

}  // namespace

RetryingTransport::RetryingTransport(HttpTransport& inner, Clock& clock, RetryOptions options)
    : inner_(inner), clock_(clock), options_(options) {
  rng_.seed(options_.jitter_seed != 0 ? options_.jitter_seed : std::random_device{}());
}

milliseconds RetryingTransport::Backoff(int retry) {
  int64_t base = options_.initial_backoff.count();
  for (int i = 1; i < retry && base < options_.max_backoff.count(); ++i) {
    base *= 2;
  }
  base = std::min<int64_t>(base, options_.max_backoff.count());
  std::lock_guard<std::mutex> lock(rng_mu_);
  std::uniform_int_distribution<int64_t> dist(base / 2, base);
  return milliseconds(dist(rng_));
}

std::optional<std::chrono::seconds> RetryingTransport::ParseRetryAfter(std::string_view value) {
  while (!value.empty() && value.front() == ' ') {
    value.remove_prefix(1);
  }
  while (!value.empty() && value.back() == ' ') {
    value.remove_suffix(1);
  }
  int64_t seconds = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || seconds < 0) {
    return std::nullopt;
  }
  // A hostile or broken server may send "Retry-After: 9223372036854775807":
  // converted to milliseconds and added to a clock reading, that overflows
  // int64 (undefined behaviour; in practice a negative wait and an immediate
  // retry). Anything past a day is past every deadline anyway, so cap it there.
  constexpr int64_t kMaxSeconds = 24 * 60 * 60;
  return std::chrono::seconds(std::min(seconds, kMaxSeconds));
}

Result<HttpResponse> RetryingTransport::Send(const HttpRequest& req) {
  const SteadyTime deadline = clock_.SteadyNow() + options_.total_deadline;
  const std::string what = req.method + " " + UrlPathForLog(req.url);
  const bool can_resume = req.method == "GET" && req.idempotent;

  HttpRequest attempt = req;
  auto stream = std::make_shared<StreamState>();
  stream->user = &req;
  if (req.on_body) {
    attempt.on_response = [stream](int status, const Headers& h) {
      return stream->OnResponse(status, h);
    };
    attempt.on_body = [stream](std::string_view bytes) { return stream->OnBody(bytes); };
  }

  for (int attempt_no = 1;; ++attempt_no) {
    // An API call's retries share its deadline: a later attempt gets only what is left of it.
    if (req.timeout.count() > 0 && req.timeout <= options_.total_deadline) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_.SteadyNow());
      attempt.timeout = std::max(milliseconds(1), std::min(req.timeout, left));
    }
    if (stream->announced) {
      attempt.range = std::make_pair(stream->first_start + stream->delivered, stream->first_end);
    }
    Result<HttpResponse> result = inner_.Send(attempt);
    if (stream->user_aborted) {
      return result;
    }
    if (stream->mismatch) {
      return MakeError(ErrorCode::kBadResponse,
                       what + ": resumed reply did not continue at byte " +
                           std::to_string(stream->first_start + stream->delivered));
    }
    if (result.has_value() && stream->announced) {
      result->body_bytes = stream->delivered;
      if (stream->first_status != 0 && result->status / 100 == 2) {
        result->status = stream->first_status;
      }
    }

    // Decide whether this outcome may be retried, and after how long.
    bool retryable = false;
    bool rate_limited = false;
    std::optional<milliseconds> wait;
    if (result.has_value()) {
      const int status = result->status;
      if (status == 429) {
        retryable = rate_limited = true;
        if (auto ra = ParseRetryAfter(result->Header("Retry-After"))) {
          wait = std::chrono::duration_cast<milliseconds>(*ra);
        }
      } else if (IsRetryableStatus(status)) {
        retryable = req.idempotent;
      }
    } else {
      const ErrorCode code = result.error().code;
      if (code == ErrorCode::kUnavailable || code == ErrorCode::kTimeout) {
        retryable = req.idempotent || RequestNotSent(result.error());
      }
    }
    if (retryable && stream->announced && !(can_resume && stream->resumable)) {
      retryable = false;  // bytes flowed and we cannot ask for just the rest
    }
    if (!retryable || attempt_no >= options_.max_attempts) {
      return result;
    }
    const milliseconds delay = wait.value_or(Backoff(attempt_no));
    if (clock_.SteadyNow() + delay > deadline) {
      return result;
    }
    if (rate_limited) {
      LOG(INFO) << what << ": " << Describe(result) << "; retry " << attempt_no << " of "
                << options_.max_attempts - 1 << " in " << delay.count() << " ms";
    } else {
      LOG(WARN) << what << ": " << Describe(result) << "; retry " << attempt_no << " of "
                << options_.max_attempts - 1 << " in " << delay.count() << " ms";
    }
    clock_.SleepFor(delay);
  }
}

}  // namespace asanafs::http
