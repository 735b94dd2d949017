// fuse/adapter: libfuse low-level callbacks ⇄ vfs::Vfs. Layer: fuse (the only
// layer that includes <fuse_lowlevel.h>).
//
// Each callback is a thin translation: it calls one Vfs method inside an
// exception firewall and replies exactly once. Failures are logged as one
// line naming the operation, the errno and the cause.
#ifndef ASANAFS_FUSE_ADAPTER_H_
#define ASANAFS_FUSE_ADAPTER_H_

#include <fuse_lowlevel.h>

namespace asanafs::fuse {

// Returns the operation table; the session's userdata must be a vfs::Vfs*.
fuse_lowlevel_ops MakeLowLevelOps();

}  // namespace asanafs::fuse

#endif  // ASANAFS_FUSE_ADAPTER_H_
