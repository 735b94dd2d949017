// fuzz_json: every decoder of asana/json.h on the same arbitrary bytes, plus
// the timestamp and request-body round trips, plus the same bytes as the reply
// to each call of the real AsanaClient (so the list/paging loop, the error
// envelope of a failed call, and the Retry-After and Content-Range headers
// are decoded the way the daemon decodes them). Test-only.
//
// The reply bodies come from the network, so no input may crash, leak or hit
// undefined behaviour; a decoded record must still satisfy what the decoders
// promise (a non-empty gid, a non-empty next_page offset).
#include <rapidjson/document.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "asanafs/asana/client.h"
#include "asanafs/asana/json.h"
#include "asanafs/http/retry.h"
#include "asanafs/http/transport.h"
#include "fuzz_check.h"

namespace {

using asanafs::asana::TimePoint;

template <typename R>
void CheckRecord(const R& r) {
  FUZZ_CHECK(r.has_value() ? !r->gid.empty() : r.error().code == asanafs::ErrorCode::kBadResponse);
}

template <typename P>
void CheckPage(const P& p) {
  if (!p.has_value()) {
    FUZZ_CHECK(p.error().code == asanafs::ErrorCode::kBadResponse);
    return;
  }
  for (const auto& item : p->items) {
    FUZZ_CHECK(!item.gid.empty());
  }
  FUZZ_CHECK(!p->next_offset.has_value() || !p->next_offset->empty());
}

// A timestamp that parses formats back to itself (to the millisecond) and
// parses again to the same instant, as long as it lies in the years a
// system_clock time_point (nanoseconds in int64) can represent.
void CheckTimestamp(std::string_view text) {
  auto t = asanafs::asana::ParseTimestamp(text);
  if (!t.has_value()) {
    FUZZ_CHECK(t.error().code == asanafs::ErrorCode::kBadResponse);
    return;
  }
  const int year =
      (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
  if (year < 1679 || year > 2260) {
    return;  // outside ±292 years of 1970 the round trip cannot hold
  }
  const std::string formatted = asanafs::asana::FormatTimestamp(*t);
  FUZZ_CHECK(formatted.size() == 24 && formatted.back() == 'Z');
  auto again = asanafs::asana::ParseTimestamp(formatted);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == std::chrono::floor<std::chrono::milliseconds>(*t));
}

// The request bodies are parsed by Asana: they must be JSON whose data.name is
// exactly the name given (RapidJSON writes bytes >= 0x80 through unchanged).
void CheckEncoders(std::string_view name) {
  const std::string gid = "1205000000000003";
  for (int which = 0; which < 2; ++which) {
    const std::string body = which == 0 ? asanafs::asana::EncodeCreateTask(name, gid)
                                        : asanafs::asana::EncodeCreateSubtask(name);
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    FUZZ_CHECK(!doc.HasParseError() && doc.IsObject());
    // HasMember + operator[]: FindMember's iterators trip C++20's
    // reversed-operator ambiguity warning in RapidJSON 1.1.
    FUZZ_CHECK(doc.HasMember("data") && doc["data"].IsObject());
    const rapidjson::Value& d = doc["data"];
    FUZZ_CHECK(d.HasMember("name") && d["name"].IsString());
    FUZZ_CHECK(std::string_view(d["name"].GetString(), d["name"].GetStringLength()) == name);
    if (which == 0) {
      FUZZ_CHECK(d.HasMember("projects") && d["projects"].IsArray() && d["projects"].Size() == 1 &&
                 d["projects"][0].IsString() && gid == d["projects"][0].GetString());
    }
  }
}

// Answers every request with one fixed reply: `status` and `body`, and for a
// streamed (download) request a 206 whose Content-Range is `header`.
class ReplyTransport : public asanafs::http::HttpTransport {
 public:
  ReplyTransport(int status, std::string_view body, std::string_view header)
      : status_(status), body_(body), header_(header) {}

  asanafs::Result<asanafs::http::HttpResponse> Send(
      const asanafs::http::HttpRequest& req) override {
    ++calls;
    asanafs::http::HttpResponse resp;
    resp.status = status_;
    resp.headers = {{"Retry-After", header_}, {"Content-Range", header_}};
    if (req.on_body) {
      if (req.on_response && !req.on_response(206, {{"Content-Range", header_}})) {
        return resp;
      }
      resp.status = 206;
      resp.body_bytes = body_.size();
      (void)req.on_body(body_);
      return resp;
    }
    resp.body = body_;
    resp.body_bytes = body_.size();
    return resp;
  }
  int calls = 0;

 private:
  int status_;
  std::string body_;
  std::string header_;
};

// Each call of the client with `body` as the 200 reply: a call either gives
// what the decoder gives or an error; a list stops (at the latest when the
// offset repeats, since every page is the same body) after at most 2 calls.
void CheckClient(std::string_view body, std::string_view header) {
  namespace a = asanafs::asana;
  a::ClientOptions options;
  options.api_url = "https://app.asana.com/api/1.0";
  options.token = "fuzz-token";
  {
    ReplyTransport t(200, body, header);
    a::AsanaClient client(t, options);
    CheckRecord(client.GetMe());
    CheckRecord(client.GetAttachment("1"));
    CheckRecord(client.CreateTask("1", "n"));
    CheckRecord(client.CreateSubtask("1", "n"));
    (void)client.DeleteAttachment("1");
    const int before = t.calls;
    auto tasks = client.ListTasks("1");
    FUZZ_CHECK(t.calls - before <= 2);
    if (tasks.has_value()) {
      for (const auto& task : *tasks) {
        FUZZ_CHECK(!task.gid.empty());
      }
    }
    (void)client.ListWorkspaces();
    (void)client.ListProjects("1");
    (void)client.ListSubtasks("1");
    (void)client.ListAttachments("1");
  }
}

// A ranged download (offset 5, 10 bytes) whose 206 carries `header` as its
// Content-Range and `body` as its bytes: they are delivered only when the
// range starts where it was asked to, and never more than asked for.
void CheckDownload(std::string_view body, std::string_view header) {
  namespace a = asanafs::asana;
  a::ClientOptions options;
  options.api_url = "https://app.asana.com/api/1.0";
  ReplyTransport t(200, body, header);
  a::AsanaClient client(t, options);
  // A ranged download whose 206 carries `header` as its Content-Range: the
  // bytes are delivered only when the range starts where it was asked to.
  uint64_t got = 0;
  auto n = client.Download("https://storage.example/x", 5, 10, [&](std::string_view b) {
    got += b.size();
    return true;
  });
  FUZZ_CHECK(got <= 10);
  FUZZ_CHECK(!n.has_value() || *n == got);
  const auto ra = asanafs::http::RetryingTransport::ParseRetryAfter(header);
  FUZZ_CHECK(!ra.has_value() || (ra->count() >= 0 && *ra <= std::chrono::hours(24)));
}

void CheckErrorReply(std::string_view body, std::string_view header) {
  namespace a = asanafs::asana;
  (void)a::DecodeErrorMessage(body);
  // The same body as a failed call's error envelope, with `header` as its
  // Retry-After: a clean, classified error whatever the server says.
  for (int status : {400, 401, 404, 429, 503}) {
    asanafs::http::HttpResponse resp;
    resp.status = status;
    resp.body = std::string(body);
    resp.headers = {{"Retry-After", std::string(header)}};
    const asanafs::Error e = a::HttpError("GET", "/users/me", resp);
    FUZZ_CHECK(e.code == a::ClassifyHttpStatus(status) && e.http_status == status);
    // The server's message is made safe for one log line: no control bytes.
    for (char ch : e.message) {
      const auto c = static_cast<unsigned char>(ch);
      FUZZ_CHECK(c >= 0x20 && c != 0x7F);
    }
    FUZZ_CHECK(e.retry_after.count() >= 0 && e.retry_after <= std::chrono::hours(24));
  }
}

}  // namespace

// Input layout: the first byte picks what the rest is fed to (its low three
// bits, so the seeds use the digits '0'..'7'), the rest is the body. One
// group per input keeps an execution cheap (a handful of parses rather than
// thirty), which is what lets a session reach millions of executions; the
// fuzzer keeps the selector of an input that found something new, so each
// group is explored on its own.
//   0  single-object decoders      4  request-body encoders
//   1  list-page decoders          5  every AsanaClient call, body as reply
//   2  error envelope, HttpError   6  download Content-Range, Retry-After
//   3  timestamps                  7  all of 0-6 (the slow, thorough way)
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const unsigned op = data[0] & 7u;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  // The first line doubles as a header value (Retry-After, Content-Range).
  const std::string_view header = body.substr(0, body.find('\n'));
  namespace a = asanafs::asana;
  if (op == 0 || op == 7) {
    CheckRecord(a::DecodeUser(body));
    CheckRecord(a::DecodeWorkspace(body));
    CheckRecord(a::DecodeProject(body));
    CheckRecord(a::DecodeTask(body));
    CheckRecord(a::DecodeAttachment(body));
  }
  if (op == 1 || op == 7) {
    CheckPage(a::DecodeWorkspacePage(body));
    CheckPage(a::DecodeProjectPage(body));
    CheckPage(a::DecodeTaskPage(body));
    CheckPage(a::DecodeAttachmentPage(body));
  }
  if (op == 2 || op == 7) {
    CheckErrorReply(body, header);
  }
  if (op == 3 || op == 7) {
    CheckTimestamp(body);
  }
  if (op == 4 || op == 7) {
    CheckEncoders(body);
  }
  if (op == 5 || op == 7) {
    CheckClient(body, header);
  }
  if (op == 6 || op == 7) {
    CheckDownload(body, header);
  }
  return 0;
}
