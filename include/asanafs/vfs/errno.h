// vfs/errno: the one table that turns an Error into a POSIX errno.
// Layer: vfs. Nothing else in the project maps ErrorCode to errno.
#ifndef ASANAFS_VFS_ERRNO_H_
#define ASANAFS_VFS_ERRNO_H_

#include "asanafs/util/result.h"

namespace asanafs::vfs {

// Returns the positive errno that a file operation failing with `error` reports.
int ToErrno(const Error& error);

}  // namespace asanafs::vfs

#endif  // ASANAFS_VFS_ERRNO_H_
