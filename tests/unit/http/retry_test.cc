#include "asanafs/http/retry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "asanafs/util/log.h"
#include "fake_transport.h"

namespace asanafs::http {
namespace {

using asanafs::testing::FakeReply;
using asanafs::testing::FakeTransport;
using asanafs::testing::JsonReply;
using asanafs::testing::ManualClock;
using asanafs::testing::RecordedRequest;
using asanafs::testing::TransportError;
using std::chrono::milliseconds;

constexpr char kBody[] = "0123456789abcdefghijklmnopqrstuvwxyz";  // 36 bytes

FakeReply Status(int status, http::Headers headers = {}) {
  FakeReply r = JsonReply(status, R"({"errors":[{"message":"nope"}]})");
  for (auto& h : headers) {
    r.headers.push_back(h);
  }
  return r;
}

FakeReply Ok(std::string body = R"({"data":{}})") { return JsonReply(200, std::move(body)); }

HttpRequest Get(std::string url = "http://127.0.0.1:1/api/1.0/tasks/1") {
  HttpRequest req;
  req.url = std::move(url);
  return req;
}

HttpRequest Post() {
  HttpRequest req;
  req.method = "POST";
  req.url = "http://127.0.0.1:1/api/1.0/attachments";
  req.idempotent = false;
  return req;
}

class RetryTest : public ::testing::Test {
 protected:
  RetryTest() : retrying_(fake_, clock_, Options()) {}
  static RetryOptions Options() {
    RetryOptions o;
    o.jitter_seed = 42;
    return o;
  }
  FakeTransport fake_;
  ManualClock clock_;
  RetryingTransport retrying_;
};

TEST_F(RetryTest, SuccessIsNotRetried) {
  fake_.Push(Ok());
  auto r = retrying_.Send(Get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(fake_.requests().size(), 1u);
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(RetryTest, TooManyRequestsHonoursRetryAfter) {
  fake_.Push(Status(429, {{"Retry-After", "7"}}));
  fake_.Push(Status(429, {{"retry-after", "2"}}));
  fake_.Push(Ok());
  auto r = retrying_.Send(Get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(fake_.requests().size(), 3u);
  EXPECT_EQ(clock_.sleeps(), (std::vector<milliseconds>{milliseconds(7000), milliseconds(2000)}));
}

TEST_F(RetryTest, TooManyRequestsWithoutRetryAfterBacksOff) {
  fake_.Push(Status(429));
  fake_.Push(Ok());
  ASSERT_TRUE(retrying_.Send(Get()).has_value());
  ASSERT_EQ(clock_.sleeps().size(), 1u);
  EXPECT_GE(clock_.sleeps()[0], milliseconds(100));
  EXPECT_LE(clock_.sleeps()[0], milliseconds(200));
}

TEST_F(RetryTest, ServerErrorsBackOffExponentiallyWithJitter) {
  fake_.Push(Status(503));
  fake_.Push(Status(502));
  fake_.Push(Status(500));
  fake_.Push(Status(504));
  fake_.Push(Ok());
  auto r = retrying_.Send(Get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  auto sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const milliseconds base(200 << i);
    EXPECT_GE(sleeps[i], base / 2) << i;
    EXPECT_LE(sleeps[i], base) << i;
  }
}

TEST_F(RetryTest, BackoffIsCappedAndJittered) {
  std::vector<milliseconds> seen;
  for (int i = 0; i < 50; ++i) {
    milliseconds d = retrying_.Backoff(30);
    EXPECT_GE(d, milliseconds(5000));
    EXPECT_LE(d, milliseconds(10000));
    seen.push_back(d);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_NE(seen.front(), seen.back()) << "no jitter";
}

TEST_F(RetryTest, TransportFailuresOfIdempotentRequestsAreRetried) {
  fake_.Push(TransportError(ErrorCode::kUnavailable, "connection reset"));
  fake_.Push(TransportError(ErrorCode::kTimeout, "timed out"));
  fake_.Push(Ok());
  auto r = retrying_.Send(Get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(fake_.requests().size(), 3u);
}

TEST_F(RetryTest, GivesUpAfterMaxAttemptsWithTheLastReply) {
  for (int i = 0; i < 10; ++i) {
    fake_.Push(Status(503));
  }
  auto r = retrying_.Send(Get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("nope"), std::string::npos);
  EXPECT_EQ(fake_.requests().size(), 6u);
  EXPECT_EQ(clock_.sleeps().size(), 5u);
}

TEST_F(RetryTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  for (int i = 0; i < 10; ++i) {
    fake_.Push(TransportError(ErrorCode::kTimeout, "timed out #" + std::to_string(i)));
  }
  auto r = retrying_.Send(Get());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(r.error().message, "timed out #5");
}

TEST_F(RetryTest, DeadlineBoundsRetryAfterWaits) {
  // 25 s + 25 s fit in the 60 s budget; a third 25 s wait would not.
  for (int i = 0; i < 5; ++i) {
    fake_.Push(Status(429, {{"Retry-After", "25"}}));
  }
  auto r = retrying_.Send(Get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(fake_.requests().size(), 3u);
  EXPECT_EQ(clock_.sleeps(), (std::vector<milliseconds>{milliseconds(25000), milliseconds(25000)}));
}

TEST_F(RetryTest, RetryAfterBeyondTheDeadlineReturnsThe429AtOnce) {
  fake_.Push(Status(429, {{"Retry-After", "3600"}}));
  auto r = retrying_.Send(Get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->Header("Retry-After"), "3600");
  EXPECT_TRUE(clock_.sleeps().empty());
  EXPECT_EQ(fake_.requests().size(), 1u);
}

TEST_F(RetryTest, DeadlineCountsTimeSpentInAttempts) {
  // Each attempt takes 25 s of (fake) time: after two, a third would start
  // past the 60 s budget.
  fake_.SetHandler([this](const RecordedRequest&) {
    clock_.Advance(milliseconds(25000));
    return Status(503);
  });
  auto r = retrying_.Send(Get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_LE(fake_.requests().size(), 3u);
  EXPECT_GE(fake_.requests().size(), 2u);
}

TEST_F(RetryTest, NonIdempotentIsNotResentAfterServerError) {
  fake_.Push(Status(500));
  fake_.Push(Ok());
  auto r = retrying_.Send(Post());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.pending(), 1u);
}

TEST_F(RetryTest, NonIdempotentIsNotResentAfterResetOrTimeout) {
  fake_.Push(TransportError(ErrorCode::kUnavailable, "connection reset by peer"));
  auto a = retrying_.Send(Post());
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code, ErrorCode::kUnavailable);
  fake_.Push(TransportError(ErrorCode::kTimeout, "operation timed out"));
  auto b = retrying_.Send(Post());
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(fake_.requests().size(), 2u);
}

TEST_F(RetryTest, NonIdempotentIsResentAfter429AndRefusedConnection) {
  fake_.Push(Status(429, {{"Retry-After", "1"}}));
  fake_.Push(TransportError(ErrorCode::kUnavailable, "couldn't connect", ECONNREFUSED));
  fake_.Push(Ok());
  auto r = retrying_.Send(Post());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(fake_.requests().size(), 3u);
  for (const auto& req : fake_.requests()) {
    EXPECT_FALSE(req.idempotent);
  }
}

TEST_F(RetryTest, ClientErrorsAreNotRetried) {
  for (int status : {400, 401, 403, 404, 413, 501}) {
    fake_.Push(Status(status));
    auto r = retrying_.Send(Get());
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, status);
  }
  fake_.Push(TransportError(ErrorCode::kInvalidArgument, "bad header"));
  EXPECT_FALSE(retrying_.Send(Get()).has_value());
  EXPECT_EQ(fake_.requests().size(), 7u);
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST(ParseRetryAfter, Seconds) {
  EXPECT_EQ(RetryingTransport::ParseRetryAfter("30"), std::chrono::seconds(30));
  EXPECT_EQ(RetryingTransport::ParseRetryAfter(" 0 "), std::chrono::seconds(0));
  EXPECT_EQ(RetryingTransport::ParseRetryAfter(""), std::nullopt);
  EXPECT_EQ(RetryingTransport::ParseRetryAfter("-5"), std::nullopt);
  EXPECT_EQ(RetryingTransport::ParseRetryAfter("1.5"), std::nullopt);
  EXPECT_EQ(RetryingTransport::ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(RetryingTransport::ParseRetryAfter("99999999999999999999999"), std::nullopt);
  // Fuzz finding F3: capped at a day, so converting it to milliseconds and
  // adding it to a clock reading cannot overflow.
  EXPECT_EQ(RetryingTransport::ParseRetryAfter("86400"), std::chrono::seconds(86400));
  EXPECT_EQ(RetryingTransport::ParseRetryAfter("86401"), std::chrono::hours(24));
  EXPECT_EQ(RetryingTransport::ParseRetryAfter("9223372036854775807"), std::chrono::hours(24));
}

// --- streaming: never a duplicate byte --------------------------------------

struct Sink {
  std::string bytes;
  std::vector<int> statuses;
  void Attach(HttpRequest* req) {
    req->on_body = [this](std::string_view b) {
      bytes.append(b);
      return true;
    };
    req->on_response = [this](int status, const Headers&) {
      statuses.push_back(status);
      return true;
    };
  }
};

FakeReply CutAfter(size_t n, int status = 200, Headers headers = {}) {
  FakeReply r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = kBody;
  r.deliver_before_error = n;
  r.error = MakeError(ErrorCode::kUnavailable, "connection reset mid-body");
  return r;
}

FakeReply Partial(uint64_t first, uint64_t last, std::string_view whole = kBody) {
  FakeReply r;
  r.status = 206;
  r.headers = {{"Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) +
                                     "/" + std::to_string(whole.size())}};
  r.body = std::string(whole.substr(first, last - first + 1));
  return r;
}

TEST_F(RetryTest, ResumesACutDownloadWithRange) {
  fake_.Push(CutAfter(10));
  fake_.Push(Partial(10, 35));
  Sink sink;
  HttpRequest req = Get("http://127.0.0.1:1/_blobs/9?sig=x");
  sink.Attach(&req);
  auto r = retrying_.Send(req);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(sink.bytes, kBody);
  EXPECT_EQ(sink.statuses, std::vector<int>{200});
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body_bytes, 36u);
  auto reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_FALSE(reqs[0].range.has_value());
  ASSERT_TRUE(reqs[1].range.has_value());
  EXPECT_EQ(reqs[1].range->first, 10u);
  EXPECT_EQ(reqs[1].range->second, kRangeToEnd);
}

TEST_F(RetryTest, ResumeSkipsWhatAServerIgnoringRangeSendsAgain) {
  fake_.Push(CutAfter(13));
  fake_.Push(TransportError(ErrorCode::kTimeout, "stalled"));
  fake_.Push(Ok(kBody));  // 200 with everything from byte 0
  Sink sink;
  HttpRequest req = Get("http://127.0.0.1:1/_blobs/9");
  sink.Attach(&req);
  auto r = retrying_.Send(req);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(sink.bytes, kBody);
  EXPECT_EQ(sink.statuses.size(), 1u);
}

TEST_F(RetryTest, ResumeKeepsTheOriginalRangeEnd) {
  FakeReply first = CutAfter(4, 206, {{"Content-Range", "bytes 5-20/36"}});
  first.body = std::string(kBody).substr(5, 16);
  fake_.Push(first);
  fake_.Push(Partial(9, 20));
  Sink sink;
  HttpRequest req = Get("http://127.0.0.1:1/_blobs/9");
  req.range = std::make_pair(uint64_t{5}, uint64_t{20});
  sink.Attach(&req);
  auto r = retrying_.Send(req);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(sink.bytes, std::string(kBody).substr(5, 16));
  EXPECT_EQ(sink.statuses, std::vector<int>{206});
  auto reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].range, std::make_pair(uint64_t{5}, uint64_t{20}));
  EXPECT_EQ(reqs[1].range, std::make_pair(uint64_t{9}, uint64_t{20}));
}

TEST_F(RetryTest, ResumedReplyAtTheWrongOffsetFailsWithoutDuplicates) {
  fake_.Push(CutAfter(10));
  fake_.Push(Partial(4, 35));  // not where we stopped
  Sink sink;
  HttpRequest req = Get("http://127.0.0.1:1/_blobs/9");
  sink.Attach(&req);
  auto r = retrying_.Send(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kBadResponse);
  EXPECT_EQ(sink.bytes, std::string(kBody).substr(0, 10));
}

TEST_F(RetryTest, StreamedPostIsNotRetriedAfterBytesFlowed) {
  FakeReply cut = CutAfter(10);
  fake_.Push(cut);
  fake_.Push(Ok(kBody));
  Sink sink;
  HttpRequest req = Get();
  req.method = "POST";
  sink.Attach(&req);
  auto r = retrying_.Send(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(sink.bytes, std::string(kBody).substr(0, 10));
  EXPECT_EQ(fake_.requests().size(), 1u);
}

TEST_F(RetryTest, ErrorRepliesOfStreamedRequestsAreRetriedWithoutTouchingTheSink) {
  fake_.Push(Status(503));
  fake_.Push(Ok(kBody));
  Sink sink;
  HttpRequest req = Get("http://127.0.0.1:1/_blobs/9");
  sink.Attach(&req);
  auto r = retrying_.Send(req);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(sink.bytes, kBody);
  EXPECT_EQ(sink.statuses, std::vector<int>{200});
  EXPECT_FALSE(fake_.requests()[1].range.has_value());
}

TEST_F(RetryTest, SinkRefusalStopsWithoutRetry) {
  fake_.Push(Ok(kBody));
  fake_.Push(Ok(kBody));
  HttpRequest req = Get("http://127.0.0.1:1/_blobs/9");
  int calls = 0;
  req.on_body = [&](std::string_view) { return ++calls < 2; };
  auto r = retrying_.Send(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(fake_.requests().size(), 1u);
}

TEST_F(RetryTest, LogLineNamesMethodAndPathButNoQueryOrHeaders) {
  fake_.Push(Status(503));
  fake_.Push(Ok());
  HttpRequest req = Get("http://127.0.0.1:1/api/1.0/attachments?parent=1&offset=SECRETOFFSET");
  req.headers.emplace_back("Authorization", "Bearer SECRETTOKEN");
  ::testing::internal::CaptureStderr();
  auto r = retrying_.Send(req);
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(log.find("GET /api/1.0/attachments"), std::string::npos) << log;
  EXPECT_NE(log.find("503"), std::string::npos) << log;
  EXPECT_EQ(log.find("SECRET"), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
}

}  // namespace
}  // namespace asanafs::http
