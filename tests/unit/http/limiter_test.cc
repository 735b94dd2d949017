// Tests of LimitingTransport: API calls never exceed their in-flight limits;
// storage-host downloads are not limited.
#include "asanafs/http/limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asanafs::http {
namespace {

// Holds every request for a moment and records the peak concurrency.
class SlowTransport : public HttpTransport {
 public:
  Result<HttpResponse> Send(const HttpRequest&) override {
    int now = ++in_flight_;
    int peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --in_flight_;
    HttpResponse r;
    r.status = 200;
    return r;
  }
  int peak() const { return peak_; }

 private:
  std::atomic<int> in_flight_{0};
  std::atomic<int> peak_{0};
};

int PeakFor(const std::string& method, bool with_auth, int threads) {
  SlowTransport slow;
  LimitingTransport limited(slow, /*max_reads=*/3, /*max_writes=*/2);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      HttpRequest req;
      req.method = method;
      req.url = "http://127.0.0.1/x";
      if (with_auth) {
        req.headers.push_back({"Authorization", "Bearer t"});
      }
      EXPECT_TRUE(limited.Send(req).has_value());
    });
  }
  for (auto& t : pool) {
    t.join();
  }
  EXPECT_EQ(limited.reads_in_flight(), 0u);
  EXPECT_EQ(limited.writes_in_flight(), 0u);
  return slow.peak();
}

TEST(LimiterTest, ApiReadsAndWritesStayWithinTheirLimits) {
  EXPECT_LE(PeakFor("GET", true, 12), 3);
  EXPECT_LE(PeakFor("POST", true, 12), 2);
  EXPECT_LE(PeakFor("DELETE", true, 12), 2);
}

TEST(LimiterTest, DownloadsWithoutTokenAreNotLimited) { EXPECT_GT(PeakFor("GET", false, 12), 3); }

// Lets one request through at a time, in the order they reach it.
class GatedTransport : public HttpTransport {
 public:
  Result<HttpResponse> Send(const HttpRequest& req) override {
    std::unique_lock<std::mutex> lock(mu_);
    order_.push_back(req.url);
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    HttpResponse r;
    r.status = 200;
    return r;
  }
  void WaitForCalls(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return order_.size() >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::vector<std::string> order() {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> order_;
  bool open_ = false;
};

TEST(LimiterTest, ForegroundRequestsGoBeforeWaitingBackgroundOnes) {
  GatedTransport gate;
  LimitingTransport limited(gate, /*max_reads=*/1, /*max_writes=*/1);
  auto send = [&](std::string url, bool background) {
    std::optional<BackgroundPriority> priority;
    if (background) {
      priority.emplace();
    }
    HttpRequest req;
    req.method = "GET";
    req.url = std::move(url);
    req.headers.push_back({"Authorization", "Bearer t"});
    EXPECT_TRUE(limited.Send(req).has_value());
  };
  std::thread holder(send, "holder", true);
  gate.WaitForCalls(1);
  std::thread background(send, "background", true);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it queue first
  std::thread foreground(send, "foreground", false);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate.Open();
  for (auto* t : {&holder, &background, &foreground}) {
    t->join();
  }
  EXPECT_EQ(gate.order(), (std::vector<std::string>{"holder", "foreground", "background"}));
  EXPECT_FALSE(BackgroundPriority::active());
}

}  // namespace
}  // namespace asanafs::http
