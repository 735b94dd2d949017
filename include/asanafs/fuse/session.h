// fuse/session: the FUSE session's life, in RAII form: parse the generic FUSE
// command line, create the session, mount, daemonize, run the multithreaded
// loop, unmount. Layer: fuse.
#ifndef ASANAFS_FUSE_SESSION_H_
#define ASANAFS_FUSE_SESSION_H_

#include <fuse_opt.h>

#include <memory>
#include <string>

#include "asanafs/util/result.h"

struct fuse_session;

namespace asanafs::vfs {
class Vfs;
}

namespace asanafs::fuse {

// The generic options libfuse understands (-f, -d, -s, the mountpoint, …).
struct CommandLine {
  std::string mountpoint;
  bool foreground = false;
  bool debug = false;
  bool single_thread = false;
  bool show_help = false;
  bool show_version = false;
  // Idle FUSE workers above this exit. Each keeps a 1 MiB request buffer and a
  // splice pipe (2 fds): kept forever, memory and fds grew to the peak
  // concurrency ever seen (tests/bench/soak.py). -o max_idle_threads= changes it.
  unsigned max_idle_threads = 2;
  unsigned max_threads = 10;
};

// Parses and removes the generic options from `args`. kInvalidArgument on bad usage.
Result<CommandLine> ParseCommandLine(fuse_args* args);

// Returns libfuse's own version string, for --version.
std::string FuseLibraryVersion();

// Sends libfuse's own messages through util/log (syslog once daemonized)
// instead of stderr.
void SendLibfuseMessagesToLog();

class FuseSession {
 public:
  // Creates a session for `vfs` from the remaining `args` (mount options such
  // as ro, allow_other, fsname=). kInvalidArgument for an unknown option.
  static Result<std::unique_ptr<FuseSession>> Create(fuse_args* args, vfs::Vfs* vfs);
  ~FuseSession();  // unmounts if mounted
  FuseSession(const FuseSession&) = delete;
  FuseSession& operator=(const FuseSession&) = delete;

  // Mounts at `mountpoint` and installs SIGINT/SIGTERM/SIGHUP handlers that end the loop.
  Status Mount(const std::string& mountpoint);
  // Serves requests until unmounted or signalled. Returns 0 on a clean end.
  int Loop(const CommandLine& cmd);

 private:
  FuseSession(::fuse_session* se) : se_(se) {}
  ::fuse_session* se_;
  bool mounted_ = false;
  bool signals_ = false;
};

}  // namespace asanafs::fuse

#endif  // ASANAFS_FUSE_SESSION_H_
