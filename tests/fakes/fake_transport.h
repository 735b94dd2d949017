// tests/fakes/fake_transport: a scripted HttpTransport for http/ and asana/
// unit tests, and a manual Clock that records sleeps. Test-only.
//
// Replies come from a handler (when set) or else from a FIFO of scripted
// replies; every request is recorded (minus its callbacks) so tests can assert
// methods, paths, query parameters, headers and bodies. A 2xx reply to a
// request with on_body is streamed like the real transport does: on_response
// first, then on_body in chunks.
#ifndef ASANAFS_TESTS_FAKES_FAKE_TRANSPORT_H_
#define ASANAFS_TESTS_FAKES_FAKE_TRANSPORT_H_

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "asanafs/http/transport.h"
#include "asanafs/util/clock.h"

namespace asanafs::testing {

struct FakeReply {
  int status = 200;
  http::Headers headers;
  std::string body;
  // When set, Send fails with this error instead of replying; if
  // `deliver_before_error` > 0, that many body bytes of a 2xx reply reach
  // on_body first (a connection cut mid-body).
  std::optional<Error> error;
  size_t deliver_before_error = 0;
  size_t chunk = 7;  // on_body chunk size, to exercise split delivery
};

// What the fake saw of one request.
struct RecordedRequest {
  std::string method;
  std::string url;
  std::string path;                                        // decoded URL path, no query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  http::Headers headers;
  std::string body;
  std::vector<http::MultipartPart> multipart;
  std::optional<std::pair<uint64_t, uint64_t>> range;
  std::chrono::milliseconds timeout{0};
  bool idempotent = true;
  bool streamed = false;  // had on_body

  // First query value named `key`, or nullopt.
  std::optional<std::string> Query(const std::string& key) const;
  // First header named `name` (case-insensitive), or nullopt.
  std::optional<std::string> Header(const std::string& name) const;
};

class FakeTransport : public http::HttpTransport {
 public:
  using Handler = std::function<FakeReply(const RecordedRequest&)>;

  void Push(FakeReply reply);
  void SetHandler(Handler handler);

  Result<http::HttpResponse> Send(const http::HttpRequest& req) override;

  std::vector<RecordedRequest> requests() const;
  size_t pending() const;

 private:
  mutable std::mutex mu_;  // guards everything below
  std::deque<FakeReply> replies_;
  Handler handler_;
  std::vector<RecordedRequest> requests_;
};

// Convenience constructors.
FakeReply JsonReply(int status, std::string body);
FakeReply TransportError(ErrorCode code, std::string message, int sys_errno = 0);

// Steady time starts at 1000 s and moves only by SleepFor/Advance.
class ManualClock : public Clock {
 public:
  SteadyTime SteadyNow() const override;
  SystemTime SystemNow() const override;
  void SleepFor(std::chrono::milliseconds d) override;
  void Advance(std::chrono::milliseconds d);
  std::vector<std::chrono::milliseconds> sleeps() const;

 private:
  mutable std::mutex mu_;
  SteadyTime now_{std::chrono::seconds(1000)};
  std::vector<std::chrono::milliseconds> sleeps_;
};

}  // namespace asanafs::testing

#endif  // ASANAFS_TESTS_FAKES_FAKE_TRANSPORT_H_
