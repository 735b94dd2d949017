#include "asanafs/http/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <cstring>

namespace asanafs::http {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool IsSchemeChar(char c, bool first) {
  if (std::isalpha(static_cast<unsigned char>(c))) {
    return true;
  }
  return !first &&
         (std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.');
}

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// Parses "[host]:port" / "host:port" / "host" into host and port text.
Status SplitAuthority(std::string_view authority, std::string* host, std::string_view* port) {
  *port = {};
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Invalid("unterminated IPv6 literal in URL");
    }
    *host = std::string(authority.substr(0, close + 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return Invalid("unexpected text after IPv6 literal in URL");
      }
      *port = rest.substr(1);
      if (port->empty()) {
        return Invalid("empty port in URL");
      }
    }
    return OkStatus();
  }
  size_t colon = authority.find(':');
  *host = std::string(authority.substr(0, colon));
  if (colon != std::string_view::npos) {
    *port = authority.substr(colon + 1);
    if (port->empty()) {
      return Invalid("empty port in URL");
    }
  }
  return OkStatus();
}

Result<int> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) {
    return Invalid("bad port in URL");
  }
  int port = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return Invalid("bad port in URL");
    }
    port = port * 10 + (c - '0');
  }
  if (port < 1 || port > 65535) {
    return Invalid("port out of range in URL");
  }
  return port;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

Result<ParsedUrl> ParseUrl(std::string_view url) {
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return Invalid("URL contains a space or control character");
    }
  }
  size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return Invalid("URL has no scheme (expected e.g. https://host/path)");
  }
  for (size_t i = 0; i < sep; ++i) {
    if (!IsSchemeChar(url[i], i == 0)) {
      return Invalid("URL has a malformed scheme");
    }
  }
  ParsedUrl out;
  out.scheme = Lower(url.substr(0, sep));
  std::string_view rest = url.substr(sep + 3);
  size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = auth_end == std::string_view::npos ? "" : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) {
    return Invalid("URL must not contain user information (user@host)");
  }
  std::string host;
  std::string_view port_text;
  RETURN_IF_ERROR(SplitAuthority(authority, &host, &port_text));
  if (host.empty() || host == "[]") {
    return Invalid("URL has no host");
  }
  out.host = Lower(host);
  if (!port_text.empty()) {
    ASSIGN_OR_RETURN(out.port, ParsePort(port_text));
  } else if (out.scheme == "http") {
    out.port = 80;
  } else if (out.scheme == "https") {
    out.port = 443;
  }
  size_t hash = tail.find('#');
  if (hash != std::string_view::npos) {
    tail = tail.substr(0, hash);
  }
  size_t q = tail.find('?');
  out.path = std::string(tail.substr(0, q));
  if (q != std::string_view::npos) {
    out.query = std::string(tail.substr(q + 1));
  }
  if (out.path.empty()) {
    out.path.push_back('/');
  }
  return out;
}

bool IsLoopbackHost(std::string_view host) {
  // inet_pton reads a C string: "127.0.0.1\0.evil.example" would parse as
  // 127.0.0.1 while the bytes name another host. A NUL never belongs in a
  // host name, so such text is never loopback (fuzz finding F2,
  // tests/fuzz/regressions/fuzz_url/loopback-host-with-nul).
  if (host.find('\0') != std::string_view::npos) {
    return false;
  }
  std::string h = Lower(host);
  if (h == "localhost") {
    return true;
  }
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (std::memcmp(&v6, &in6addr_loopback, sizeof v6) == 0) {
      return true;
    }
    // ::ffff:127.x.y.z is IPv4 loopback in IPv6 clothing.
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(v6.s6_addr, kMapped, sizeof kMapped) == 0 && v6.s6_addr[12] == 127;
  }
  return false;
}

Status CheckApiUrlIsSafe(std::string_view url) {
  ASSIGN_OR_RETURN(ParsedUrl parsed, ParseUrl(url));
  if (parsed.scheme == "https") {
    return OkStatus();
  }
  if (parsed.scheme != "http") {
    return Invalid("unsupported URL scheme " + parsed.scheme + "://; use https://");
  }
  if (IsLoopbackHost(parsed.host)) {
    return OkStatus();
  }
  return Invalid("refusing plain http:// for non-loopback host " + parsed.host + "; use https://");
}

std::string PercentEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string UrlPathForLog(std::string_view url) {
  auto parsed = ParseUrl(url);
  if (!parsed.has_value()) {
    return "(unparsable URL)";
  }
  return parsed->path;
}

}  // namespace asanafs::http
