// Real-socket tests of CurlTransport against a cpp-httplib server on
// 127.0.0.1 (an ephemeral port). Nothing leaves the machine.
#include "asanafs/http/curl_transport.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "asanafs/util/log.h"

namespace asanafs::http {
namespace {

using std::chrono::milliseconds;

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 31 + i / 256) & 0xff);
  }
  return s;
}

// A free loopback port nobody listens on (bound, then closed).
int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class CurlTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    blob_ = Pattern(200000);
    server_.Get("/blob", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(blob_, "application/octet-stream");
    });
    server_.Get("/json", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_auth_.push_back(req.get_header_value("Authorization"));
        seen_query_ = req.get_param_value("offset");
      }
      res.set_header("X-Reply", "yes");
      res.set_content(R"({"data":{"gid":"1"}})", "application/json");
    });
    server_.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
      res.status = 404;
      res.set_content(R"({"errors":[{"message":"Not Found"}]})", "application/json");
    });
    server_.Get("/redirect",
                [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/json"); });
    server_.Get("/slow", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock<std::mutex> lock(mu_);
      release_cv_.wait_for(lock, std::chrono::seconds(10), [this] { return released_; });
      res.set_content("late", "text/plain");
    });
    server_.Post("/upload", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      upload_parent_ = req.get_file_value("parent").content;
      const auto file = req.get_file_value("file");
      upload_filename_ = file.filename;
      upload_type_ = file.content_type;
      upload_content_ = file.content;
      upload_content_type_header_ = req.get_header_value("Content-Type");
      upload_transfer_encoding_ = req.get_header_value("Transfer-Encoding");
      ++uploads_;
      res.set_content(R"({"data":{"gid":"9"}})", "application/json");
    });
    server_.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.body + "|" + req.get_header_value("Content-Type"), "text/plain");
    });
    server_.Delete("/thing", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.method, "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    ASSERT_TRUE(server_.is_running());
    transport_ = std::make_unique<CurlTransport>();
  }

  void TearDown() override {
    transport_.reset();
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    release_cv_.notify_all();
    server_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  HttpRequest Get(const std::string& path) {
    HttpRequest req;
    req.url = Url(path);
    req.timeout = milliseconds(10000);
    return req;
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::unique_ptr<CurlTransport> transport_;
  std::string blob_;
  std::mutex mu_;  // guards everything the handlers record
  std::condition_variable release_cv_;
  bool released_ = false;
  std::vector<std::string> seen_auth_;
  std::string seen_query_;
  std::string upload_parent_, upload_filename_, upload_type_, upload_content_,
      upload_content_type_header_, upload_transfer_encoding_;
  int uploads_ = 0;
};

TEST_F(CurlTransportTest, BufferedGetWithHeaders) {
  HttpRequest req = Get("/json?offset=a%2Bb%3D");
  req.headers = {{"Authorization", "Bearer t0k"}, {"Accept", "application/json"}};
  auto r = transport_->Send(req);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"data":{"gid":"1"}})");
  EXPECT_EQ(r->body_bytes, r->body.size());
  EXPECT_EQ(r->Header("x-reply"), "yes");
  EXPECT_EQ(r->Header("Content-Type"), "application/json");
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(seen_auth_, std::vector<std::string>{"Bearer t0k"});
  EXPECT_EQ(seen_query_, "a+b=");
}

TEST_F(CurlTransportTest, StreamsA2xxBodyToOnBody) {
  HttpRequest req = Get("/blob");
  std::string got;
  std::vector<int> statuses;
  req.on_response = [&](int status, const Headers&) {
    statuses.push_back(status);
    return true;
  };
  req.on_body = [&](std::string_view b) {
    EXPECT_EQ(statuses.size(), 1u) << "on_response must come first";
    got.append(b);
    return true;
  };
  auto r = transport_->Send(req);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(r->body_bytes, blob_.size());
  EXPECT_EQ(got, blob_);
  EXPECT_EQ(statuses, std::vector<int>{200});
}

TEST_F(CurlTransportTest, RangeRequests) {
  HttpRequest req = Get("/blob");
  req.range = std::make_pair(uint64_t{1000}, uint64_t{1999});
  auto r = transport_->Send(req);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, blob_.substr(1000, 1000));
  EXPECT_EQ(r->Header("Content-Range"), "bytes 1000-1999/200000");

  HttpRequest tail = Get("/blob");
  tail.range = std::make_pair(uint64_t{199990}, kRangeToEnd);
  auto t = transport_->Send(tail);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->status, 206);
  EXPECT_EQ(t->body, blob_.substr(199990));
}

TEST_F(CurlTransportTest, ErrorBodiesAreBufferedNotStreamed) {
  HttpRequest req = Get("/missing");
  bool called = false;
  req.on_body = [&](std::string_view) {
    called = true;
    return true;
  };
  req.on_response = [&](int, const Headers&) {
    called = true;
    return true;
  };
  auto r = transport_->Send(req);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, R"({"errors":[{"message":"Not Found"}]})");
  EXPECT_FALSE(called);
}

TEST_F(CurlTransportTest, OnBodyRefusalAborts) {
  HttpRequest req = Get("/blob");
  req.on_body = [](std::string_view) { return false; };
  auto r = transport_->Send(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
}

TEST_F(CurlTransportTest, TimeoutIsReportedAsTimeout) {
  HttpRequest req = Get("/slow?token=SECRETQUERY");
  req.timeout = milliseconds(300);
  auto r = transport_->Send(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  EXPECT_NE(r.error().message.find("curl error 28"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("SECRETQUERY"), std::string::npos) << r.error().message;
}

TEST_F(CurlTransportTest, RefusedConnectionIsUnavailableAndNotSent) {
  HttpRequest req;
  req.method = "POST";
  req.url = "http://127.0.0.1:" + std::to_string(UnusedPort()) + "/x?sig=SECRETQUERY";
  req.body = "{}";
  auto r = transport_->Send(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(RequestNotSent(r.error())) << r.error().message;
  EXPECT_EQ(r.error().message.find("SECRETQUERY"), std::string::npos) << r.error().message;
}

TEST_F(CurlTransportTest, RedirectsFollowedOnlyWithoutAuthorization) {
  auto plain = transport_->Send(Get("/redirect"));
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(plain->body, R"({"data":{"gid":"1"}})");

  HttpRequest authed = Get("/redirect");
  authed.headers = {{"Authorization", "Bearer t0k"}};
  auto r = transport_->Send(authed);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 302);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(seen_auth_, std::vector<std::string>{""});  // only the unauthenticated hop
}

TEST_F(CurlTransportTest, MultipartUploadArrivesIntact) {
  char path[] = "/tmp/asanafs-upload-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string content = Pattern(300000);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);

  HttpRequest req;
  req.method = "POST";
  req.url = Url("/upload");
  req.idempotent = false;
  MultipartPart parent{"parent", "1207", "", "", "", {}};
  MultipartPart file{"file", "", path, "r%C3%A9sum%C3%A9%20%22x%22.pdf", "application/octet-stream",
                     {}};
  req.multipart = {parent, file};
  auto r = transport_->Send(req);
  ::unlink(path);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(upload_parent_, "1207");
  EXPECT_EQ(upload_filename_, "r%C3%A9sum%C3%A9%20%22x%22.pdf");
  EXPECT_EQ(upload_type_, "application/octet-stream");
  EXPECT_EQ(upload_content_.size(), content.size());
  EXPECT_TRUE(upload_content_ == content);
  EXPECT_EQ(upload_content_type_header_.rfind("multipart/form-data", 0), 0u);
}

// A part produced while it is sent (a file still being written): its length is
// unknown, so the body goes out chunked, and the reader is asked until it says
// the end, in whatever pieces it gives.
TEST_F(CurlTransportTest, StreamedPartArrivesIntactAndChunked) {
  const std::string content = Pattern(700001);
  std::atomic<int> calls{0};
  HttpRequest req;
  req.method = "POST";
  req.url = Url("/upload");
  req.idempotent = false;
  MultipartPart file{"file", "", "", "s.bin", "application/octet-stream", {}};
  file.reader = [&](uint64_t offset, char* buf, size_t len) -> Result<size_t> {
    ++calls;
    if (offset >= content.size()) {
      return size_t{0};
    }
    size_t n = std::min<size_t>({len, content.size() - offset, 65537});
    std::memcpy(buf, content.data() + offset, n);
    return n;
  };
  req.multipart = {MultipartPart{"parent", "1207", "", "", "", {}}, file};
  auto r = transport_->Send(req);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_GT(calls.load(), 10);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(upload_transfer_encoding_, "chunked");
  EXPECT_EQ(upload_filename_, "s.bin");
  EXPECT_EQ(upload_content_.size(), content.size());
  EXPECT_TRUE(upload_content_ == content);
}

// A reader that gives up aborts the request before its body is complete: the
// server never sees a finished upload, and the caller gets the reader's error.
TEST_F(CurlTransportTest, StreamedPartReaderErrorAbortsTheRequest) {
  HttpRequest req;
  req.method = "POST";
  req.url = Url("/upload");
  req.idempotent = false;
  MultipartPart file{"file", "", "", "s.bin", "application/octet-stream", {}};
  file.reader = [](uint64_t offset, char* buf, size_t len) -> Result<size_t> {
    if (offset >= 200000) {
      return MakeError(ErrorCode::kIo, "the writer went away");
    }
    size_t n = std::min<size_t>(len, 200000 - offset);
    std::memset(buf, 'x', n);
    return n;
  };
  req.multipart = {file};
  auto r = transport_->Send(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_EQ(r.error().message, "the writer went away");
  std::this_thread::sleep_for(milliseconds(100));  // a late handler would show here
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(uploads_, 0);
}

TEST_F(CurlTransportTest, MissingUploadFileIsAnError) {
  HttpRequest req;
  req.method = "POST";
  req.url = Url("/upload");
  req.multipart = {MultipartPart{"file", "", "/nonexistent/asanafs/file", "f", "text/plain", {}}};
  auto r = transport_->Send(req);
  ASSERT_FALSE(r.has_value());
}

TEST_F(CurlTransportTest, PostBodyAndCustomMethods) {
  HttpRequest post;
  post.method = "POST";
  post.url = Url("/echo");
  post.body = R"({"data":{"name":"x"}})";
  post.headers = {{"Content-Type", "application/json"}};
  auto p = transport_->Send(post);
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->body, R"({"data":{"name":"x"}}|application/json)");

  HttpRequest del;
  del.method = "DELETE";
  del.url = Url("/thing");
  auto d = transport_->Send(del);
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_EQ(d->status, 200);
  EXPECT_EQ(d->body, "DELETE");
}

TEST_F(CurlTransportTest, RejectsHeaderInjectionAndOtherProtocols) {
  HttpRequest bad = Get("/json");
  bad.headers = {{"Authorization", "Bearer x\r\nX-Evil: 1"}};
  auto r = transport_->Send(bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);

  HttpRequest file;
  file.url = "file:///etc/passwd";
  auto f = transport_->Send(file);
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().code, ErrorCode::kUnavailable);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_TRUE(seen_auth_.empty());
}

TEST_F(CurlTransportTest, DebugLogNamesRequestsWithoutSecrets) {
  const LogLevel saved = GetLogLevel();
  SetLogLevel(LogLevel::kDebug);
  HttpRequest req = Get("/json?offset=SECRETQUERY");
  req.headers = {{"Authorization", "Bearer SECRETTOKEN"}};
  ::testing::internal::CaptureStderr();
  auto r = transport_->Send(req);
  std::string log = ::testing::internal::GetCapturedStderr();
  SetLogLevel(saved);
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(log.find("DEBUG: HTTP GET /json → 200"), std::string::npos) << log;
  EXPECT_EQ(log.find("SECRET"), std::string::npos) << log;
}

TEST_F(CurlTransportTest, ManyThreadsAtOnce) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        HttpRequest req = Get("/blob");
        req.range = std::make_pair(uint64_t(i * 100), uint64_t(i * 100 + 99));
        auto r = transport_->Send(req);
        if (r.has_value() && r->status == 206 && r->body == blob_.substr(i * 100, 100)) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 120);
}

}  // namespace
}  // namespace asanafs::http
