#include "fake_transport.h"

#include <strings.h>

#include <algorithm>
#include <utility>

#include "asanafs/http/url.h"

namespace asanafs::testing {
namespace {

RecordedRequest Record(const http::HttpRequest& req) {
  RecordedRequest r;
  r.method = req.method;
  r.url = req.url;
  auto parsed = http::ParseUrl(req.url);
  if (parsed.has_value()) {
    r.path = http::PercentDecode(parsed->path);
    std::string_view q = parsed->query;
    while (!q.empty()) {
      size_t amp = q.find('&');
      std::string_view pair = q.substr(0, amp);
      size_t eq = pair.find('=');
      r.query.emplace_back(
          http::PercentDecode(pair.substr(0, eq)),
          eq == std::string_view::npos ? "" : http::PercentDecode(pair.substr(eq + 1)));
      if (amp == std::string_view::npos) {
        break;
      }
      q.remove_prefix(amp + 1);
    }
  }
  r.headers = req.headers;
  r.body = req.body;
  r.multipart = req.multipart;
  r.range = req.range;
  r.timeout = req.timeout;
  r.idempotent = req.idempotent;
  r.streamed = static_cast<bool>(req.on_body);
  return r;
}

// Hands `body` to the request's sink in `chunk`-sized pieces. False: aborted.
bool Stream(const http::HttpRequest& req, std::string_view body, size_t chunk) {
  chunk = std::max<size_t>(chunk, 1);
  for (size_t pos = 0; pos < body.size(); pos += chunk) {
    if (!req.on_body(body.substr(pos, chunk))) {
      return false;
    }
  }
  return true;
}

Error Aborted() {
  Error e = MakeError(ErrorCode::kIo, "transfer stopped by the body receiver");
  e.sys_errno = 5;
  return e;
}

}  // namespace

std::optional<std::string> RecordedRequest::Query(const std::string& key) const {
  for (const auto& [k, v] : query) {
    if (k == key) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<std::string> RecordedRequest::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), name.c_str()) == 0) {
      return v;
    }
  }
  return std::nullopt;
}

void FakeTransport::Push(FakeReply reply) {
  std::lock_guard<std::mutex> lock(mu_);
  replies_.push_back(std::move(reply));
}

void FakeTransport::SetHandler(Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handler_ = std::move(handler);
}

Result<http::HttpResponse> FakeTransport::Send(const http::HttpRequest& req) {
  RecordedRequest rec = Record(req);
  FakeReply reply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(rec);
    if (handler_) {
      Handler h = handler_;
      reply = h(rec);
    } else if (!replies_.empty()) {
      reply = std::move(replies_.front());
      replies_.pop_front();
    } else {
      return MakeError(ErrorCode::kInternal,
                       "FakeTransport: unexpected request " + req.method + " " + rec.path);
    }
  }
  const bool success = reply.status >= 200 && reply.status < 300;
  const bool stream = req.on_body && success;
  if (reply.error) {
    if (stream && reply.deliver_before_error > 0) {
      if (req.on_response && !req.on_response(reply.status, reply.headers)) {
        return Aborted();
      }
      std::string_view part = std::string_view(reply.body).substr(0, reply.deliver_before_error);
      if (!Stream(req, part, reply.chunk)) {
        return Aborted();
      }
    }
    return *reply.error;
  }
  http::HttpResponse resp;
  resp.status = reply.status;
  resp.headers = reply.headers;
  resp.body_bytes = reply.body.size();
  if (stream) {
    if (req.on_response && !req.on_response(reply.status, reply.headers)) {
      return Aborted();
    }
    if (!Stream(req, reply.body, reply.chunk)) {
      return Aborted();
    }
  } else {
    resp.body = std::move(reply.body);
  }
  return resp;
}

std::vector<RecordedRequest> FakeTransport::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t FakeTransport::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return replies_.size();
}

FakeReply JsonReply(int status, std::string body) {
  FakeReply r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

FakeReply TransportError(ErrorCode code, std::string message, int sys_errno) {
  FakeReply r;
  Error e = MakeError(code, std::move(message));
  e.sys_errno = sys_errno;
  r.error = std::move(e);
  return r;
}

SteadyTime ManualClock::SteadyNow() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

SystemTime ManualClock::SystemNow() const {
  std::lock_guard<std::mutex> lock(mu_);
  return SystemTime(std::chrono::seconds(1700000000)) +
         (now_ - SteadyTime(std::chrono::seconds(1000)));
}

void ManualClock::SleepFor(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  sleeps_.push_back(d);
  now_ += d;
}

void ManualClock::Advance(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += d;
}

std::vector<std::chrono::milliseconds> ManualClock::sleeps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sleeps_;
}

}  // namespace asanafs::testing
