// fuzz_url: http::ParseUrl, CheckApiUrlIsSafe, IsLoopbackHost and
// UrlPathForLog on arbitrary strings. Test-only.
//
// Besides "no crash, no UB", it checks ParseUrl's documented shape and, most
// importantly, that an API URL CheckApiUrlIsSafe lets through is read the
// same way by libcurl, which is what will actually connect: an accepted
// http:// URL must reach a loopback host in curl's eyes too (else the bearer
// token could cross a network in clear text), and an accepted https:// URL
// must stay https for curl.
#include <curl/curl.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "asanafs/http/url.h"
#include "fuzz_check.h"

namespace {

namespace h = asanafs::http;

bool NoUpper(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') {
      return false;
    }
  }
  return true;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

void CheckParsed(std::string_view url, const h::ParsedUrl& p) {
  for (char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    FUZZ_CHECK(c > 0x20 && c != 0x7F);
  }
  FUZZ_CHECK(!p.scheme.empty() && NoUpper(p.scheme));
  FUZZ_CHECK(url.size() > p.scheme.size() + 3 && url.substr(p.scheme.size(), 3) == "://");
  FUZZ_CHECK(!p.host.empty() && p.host != "[]" && NoUpper(p.host));
  FUZZ_CHECK(p.host.find_first_of("@/?#") == std::string::npos);
  if (p.host.front() == '[') {
    FUZZ_CHECK(p.host.back() == ']');
    FUZZ_CHECK(p.host.find(']') == p.host.size() - 1);
  } else {
    FUZZ_CHECK(p.host.find(':') == std::string::npos);
  }
  FUZZ_CHECK((p.port >= 1 && p.port <= 65535) ||
             (p.port == 0 && p.scheme != "http" && p.scheme != "https"));
  FUZZ_CHECK(!p.path.empty() && p.path.front() == '/');
  FUZZ_CHECK(p.path.find_first_of("?#") == std::string::npos);
  FUZZ_CHECK(p.query.find('#') == std::string::npos);
  FUZZ_CHECK(h::UrlPathForLog(url) == p.path);
}

struct CurlView {
  bool ok = false;
  std::string scheme, host, port;
};

// How libcurl splits `url`, with the flags its own connection code uses.
CurlView CurlParse(const std::string& url) {
  CurlView v;
  CURLU* u = curl_url();
  FUZZ_CHECK(u != nullptr);
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
    char *scheme = nullptr, *host = nullptr, *port = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
      v.ok = true;
      v.scheme = scheme;
      v.host = host;
      v.port = port;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return v;
}

// The client appends "/<path>?<query>" to the API URL (after dropping
// trailing slashes), so that is the string curl is given.
void CheckCurlAgrees(std::string_view api_url, const h::ParsedUrl& ours) {
  std::string base(api_url);
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  for (const std::string& url : {std::string(api_url), base + "/users/me?opt_fields=name,email"}) {
    const CurlView curl = CurlParse(url);
    if (!curl.ok) {
      continue;  // curl refuses to connect at all: nothing leaks
    }
    FUZZ_CHECK(curl.scheme == ours.scheme);
    if (ours.scheme == "http") {
      FUZZ_CHECK(curl.host == "localhost" || h::IsLoopbackHost(curl.host));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view url(reinterpret_cast<const char*>(data), size);

  auto parsed = h::ParseUrl(url);
  if (parsed.has_value()) {
    CheckParsed(url, *parsed);
  } else {
    FUZZ_CHECK(parsed.error().code == asanafs::ErrorCode::kInvalidArgument);
    FUZZ_CHECK(h::UrlPathForLog(url) == "(unparsable URL)");
  }

  auto safe = h::CheckApiUrlIsSafe(url);
  if (safe.has_value()) {
    FUZZ_CHECK(parsed.has_value());
    FUZZ_CHECK(parsed->scheme == "https" ||
               (parsed->scheme == "http" && h::IsLoopbackHost(parsed->host)));
    CheckCurlAgrees(url, *parsed);
  } else {
    FUZZ_CHECK(safe.error().code == asanafs::ErrorCode::kInvalidArgument);
  }

  // IsLoopbackHost on the raw bytes: case-blind, bracket-blind for IPv6, and
  // only ever true for text that names a loopback host, so a host with an
  // embedded NUL (which inet_pton would stop reading at) is never loopback.
  const bool loop = h::IsLoopbackHost(url);
  FUZZ_CHECK(h::IsLoopbackHost(Upper(url)) == loop);
  if (url.find(':') != std::string_view::npos && url.front() != '[') {
    FUZZ_CHECK(h::IsLoopbackHost("[" + std::string(url) + "]") == loop);
  }
  if (loop && !asanafs::fuzz::KnownBug("F2")) {
    FUZZ_CHECK(url.find('\0') == std::string_view::npos);
  }
  return 0;
}
