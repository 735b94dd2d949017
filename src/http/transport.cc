#include "asanafs/http/transport.h"

#include <strings.h>

#include <cerrno>

namespace asanafs::http {

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0) {
      return value;
    }
  }
  return "";
}

bool RequestNotSent(const Error& e) {
  return (e.code == ErrorCode::kUnavailable) && e.sys_errno == ECONNREFUSED;
}

}  // namespace asanafs::http
