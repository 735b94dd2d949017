#include "asanafs/vfs/errno.h"

#include <cerrno>

namespace asanafs::vfs {

int ToErrno(const Error& error) {
  // One line per code: it reads as the table it is.
  // clang-format off
  switch (error.code) {
    case ErrorCode::kNotFound: return ENOENT;
    case ErrorCode::kUnauthenticated: return EACCES;
    case ErrorCode::kPermissionDenied: return EACCES;
    case ErrorCode::kRateLimited: return EAGAIN;
    case ErrorCode::kUnavailable: return EIO;
    case ErrorCode::kTimeout: return ETIMEDOUT;
    case ErrorCode::kInvalidArgument: return EINVAL;
    case ErrorCode::kTooLarge: return EFBIG;
    case ErrorCode::kExists: return EEXIST;
    case ErrorCode::kReadOnly: return EROFS;
    case ErrorCode::kNotSupported: return ENOTSUP;
    case ErrorCode::kBadResponse: return EIO;
    case ErrorCode::kIo: return error.sys_errno > 0 ? error.sys_errno : EIO;
    case ErrorCode::kBusy: return EBUSY;
    case ErrorCode::kNotPermitted: return EPERM;
    case ErrorCode::kNoAttribute: return ENODATA;
    case ErrorCode::kNotDirectory: return ENOTDIR;
    case ErrorCode::kIsDirectory: return EISDIR;
    case ErrorCode::kInternal: return EIO;
  }
  // clang-format on
  return EIO;
}

}  // namespace asanafs::vfs
