#include "asanafs/util/result.h"

namespace asanafs {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kExists: return "exists";
    case ErrorCode::kReadOnly: return "read_only";
    case ErrorCode::kNotSupported: return "not_supported";
    case ErrorCode::kBadResponse: return "bad_response";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kBusy: return "busy";
    case ErrorCode::kNotPermitted: return "not_permitted";
    case ErrorCode::kNoAttribute: return "no_attribute";
    case ErrorCode::kNotDirectory: return "not_directory";
    case ErrorCode::kIsDirectory: return "is_directory";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace asanafs
