// http/url: the few URL facts the client needs — splitting an absolute URL,
// deciding whether plain http:// is acceptable, and percent-encoding query
// values and file names. Layer: http (util only; no curl here).
#ifndef ASANAFS_HTTP_URL_H_
#define ASANAFS_HTTP_URL_H_

#include <string>
#include <string_view>

#include "asanafs/util/result.h"

namespace asanafs::http {

struct ParsedUrl {
  std::string scheme;  // lower case, e.g. "https"
  std::string host;    // lower case; an IPv6 literal keeps its brackets: "[::1]"
  int port = 0;        // explicit port, else 80 for http, 443 for https, else 0
  std::string path;    // from the first '/' up to '?' or '#'; "/" when empty
  std::string query;   // after '?' up to '#', without the '?'; may be empty
};

// Splits an absolute URL "scheme://host[:port][/path][?query][#fragment]".
// Rejects (kInvalidArgument) a missing scheme or host, a bad port, user info
// ("user@host": it hides the real host from a casual reader) and control
// characters or spaces anywhere.
Result<ParsedUrl> ParseUrl(std::string_view url);

// True for "localhost", 127.0.0.0/8 and ::1 (bare or bracketed, any spelling).
bool IsLoopbackHost(std::string_view host);

// OK for https:// URLs and for http:// URLs whose host is loopback; otherwise
// kInvalidArgument ("refusing plain http:// for non-loopback host HOST; use
// https://"), so the token never crosses a network in clear text.
Status CheckApiUrlIsSafe(std::string_view url);

// Percent-encodes every byte except RFC 3986 unreserved characters
// (A-Z a-z 0-9 - . _ ~), using upper-case hex. For query values, path
// segments and multipart file names.
std::string PercentEncode(std::string_view text);

// Decodes %XX escapes (and nothing else: '+' stays '+'). Bad escapes are kept
// literally.
std::string PercentDecode(std::string_view text);

// Returns the path of `url` without query or fragment, for log lines and error
// messages (a query string may hold a signature or an offset token). Falls
// back to "(unparsable URL)".
std::string UrlPathForLog(std::string_view url);

}  // namespace asanafs::http

#endif  // ASANAFS_HTTP_URL_H_
