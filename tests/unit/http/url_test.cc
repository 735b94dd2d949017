#include "asanafs/http/url.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "asanafs/http/transport.h"

namespace asanafs::http {
namespace {

TEST(ParseUrl, SplitsAllParts) {
  auto u = ParseUrl("http://127.0.0.1:8080/api/1.0/tasks?limit=100&offset=x#frag");
  ASSERT_TRUE(u.has_value()) << u.error().message;
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "/api/1.0/tasks");
  EXPECT_EQ(u->query, "limit=100&offset=x");
}

TEST(ParseUrl, DefaultsPortsAndPathAndLowersCase) {
  auto a = ParseUrl("https://App.Asana.COM");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->scheme, "https");
  EXPECT_EQ(a->host, "app.asana.com");
  EXPECT_EQ(a->port, 443);
  EXPECT_EQ(a->path, "/");
  EXPECT_EQ(a->query, "");
  auto b = ParseUrl("HTTP://localhost?x=1");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->scheme, "http");
  EXPECT_EQ(b->port, 80);
  EXPECT_EQ(b->path, "/");
  EXPECT_EQ(b->query, "x=1");
}

TEST(ParseUrl, Ipv6Literal) {
  auto u = ParseUrl("http://[::1]:4010/api/1.0");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "[::1]");
  EXPECT_EQ(u->port, 4010);
  EXPECT_EQ(u->path, "/api/1.0");
  auto bare = ParseUrl("https://[2001:db8::1]/");
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->host, "[2001:db8::1]");
  EXPECT_EQ(bare->port, 443);
}

TEST(ParseUrl, RejectsMalformed) {
  for (const char* bad :
       {"", "no-scheme", "://host/", "http://", "http:///path", "http://host:0/",
        "http://host:65536/", "http://host:abc/", "http://host:/", "http://user@evil.com/",
        "http://127.0.0.1@evil.com/", "http://a b/", "http://host/pa\nth", "http://[::1/",
        "http://[::1]x/", "1http://host/"}) {
    auto u = ParseUrl(bad);
    EXPECT_FALSE(u.has_value()) << bad;
    if (!u.has_value()) {
      EXPECT_EQ(u.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST(IsLoopbackHost, Table) {
  for (const char* yes : {"localhost", "LOCALHOST", "127.0.0.1", "127.255.1.2", "127.0.0.0", "::1",
                          "[::1]", "0:0:0:0:0:0:0:1", "[0:0:0:0:0:0:0:1]", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackHost(yes)) << yes;
  }
  for (const char* no : {"", "128.0.0.1", "10.0.0.1", "0.0.0.0", "localhost.evil.com",
                         "127.0.0.1.evil.com", "evil-localhost", "127.1", "::2", "[::]",
                         "::ffff:10.0.0.1", "app.asana.com", "[::1", "1.127.0.0"}) {
    EXPECT_FALSE(IsLoopbackHost(no)) << no;
  }
  // Fuzz finding F2: inet_pton would stop at the NUL and see 127.0.0.1.
  using namespace std::string_view_literals;
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1\0.evil.example.com"sv));
  EXPECT_FALSE(IsLoopbackHost("[::1\0]"sv));
  EXPECT_FALSE(IsLoopbackHost("localhost\0"sv));
}

TEST(CheckApiUrlIsSafe, HttpsAnywhereHttpOnlyLoopback) {
  EXPECT_TRUE(CheckApiUrlIsSafe("https://app.asana.com/api/1.0").has_value());
  EXPECT_TRUE(CheckApiUrlIsSafe("https://10.1.2.3:8443/api/1.0").has_value());
  EXPECT_TRUE(CheckApiUrlIsSafe("http://127.0.0.1:4010/api/1.0").has_value());
  EXPECT_TRUE(CheckApiUrlIsSafe("http://localhost:4010/api/1.0").has_value());
  EXPECT_TRUE(CheckApiUrlIsSafe("http://[::1]:4010/api/1.0").has_value());
}

TEST(CheckApiUrlIsSafe, RefusesPlainHttpElsewhere) {
  auto s = CheckApiUrlIsSafe("http://app.asana.com/api/1.0");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().message,
            "refusing plain http:// for non-loopback host app.asana.com; use https://");
  auto t = CheckApiUrlIsSafe("http://192.168.1.5:4010/api/1.0");
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().message,
            "refusing plain http:// for non-loopback host 192.168.1.5; use https://");
  // A loopback-looking prefix does not make a remote host loopback.
  EXPECT_FALSE(CheckApiUrlIsSafe("http://127.0.0.1.nip.io/api").has_value());
  EXPECT_FALSE(CheckApiUrlIsSafe("http://localhost@evil.com/api").has_value());
  EXPECT_FALSE(CheckApiUrlIsSafe("ftp://127.0.0.1/api").has_value());
  EXPECT_FALSE(CheckApiUrlIsSafe("file:///etc/passwd").has_value());
  EXPECT_FALSE(CheckApiUrlIsSafe("app.asana.com/api/1.0").has_value());
}

TEST(PercentEncode, KeepsOnlyUnreserved) {
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode("résumé.pdf"), "r%C3%A9sum%C3%A9.pdf");
  EXPECT_EQ(PercentEncode("a b/\"\r\n%;"), "a%20b%2F%22%0D%0A%25%3B");
  EXPECT_EQ(PercentEncode(std::string("x\0y", 3)), "x%00y");
  EXPECT_EQ(PercentEncode("?&=+#,"), "%3F%26%3D%2B%23%2C");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(PercentDecode, RoundTripsAndKeepsBadEscapes) {
  const std::string tricky = "naïve \"quoted\"\r\nname%.txt";
  EXPECT_EQ(PercentDecode(PercentEncode(tricky)), tricky);
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
  EXPECT_EQ(PercentDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(PercentDecode("%41%62"), "Ab");
  EXPECT_EQ(PercentDecode("%"), "%");
}

TEST(UrlPathForLog, DropsQueryAndFragment) {
  EXPECT_EQ(UrlPathForLog("https://s3.example.com/_blobs/12?sig=secret&expires=1#x"), "/_blobs/12");
  EXPECT_EQ(UrlPathForLog("nonsense"), "(unparsable URL)");
}

TEST(HttpResponse, HeaderIsCaseInsensitive) {
  HttpResponse r;
  r.headers = {{"Content-Type", "application/json"}, {"retry-after", "30"}, {"Retry-After", "99"}};
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("RETRY-AFTER"), "30");
  EXPECT_EQ(r.Header("Missing"), "");
}

TEST(RequestNotSent, OnlyRefusedConnections) {
  Error refused = MakeError(ErrorCode::kUnavailable, "refused");
  refused.sys_errno = ECONNREFUSED;
  EXPECT_TRUE(RequestNotSent(refused));
  EXPECT_FALSE(RequestNotSent(MakeError(ErrorCode::kUnavailable, "reset")));
  Error timeout = MakeError(ErrorCode::kTimeout, "slow");
  timeout.sys_errno = ECONNREFUSED;
  EXPECT_FALSE(RequestNotSent(timeout));
}

}  // namespace
}  // namespace asanafs::http
