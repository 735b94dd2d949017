#include "asanafs/fuse/session.h"

#include <fuse_log.h>
#include <fuse_lowlevel.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "asanafs/fuse/adapter.h"
#include "asanafs/util/log.h"
#include "asanafs/vfs/vfs.h"

namespace asanafs::fuse {

Result<CommandLine> ParseCommandLine(fuse_args* args) {
  fuse_cmdline_opts opts{};
  if (fuse_parse_cmdline(args, &opts) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid command line");
  }
  CommandLine cmd;
  if (opts.mountpoint != nullptr) {
    cmd.mountpoint = opts.mountpoint;
    std::free(opts.mountpoint);
  }
  cmd.foreground = opts.foreground != 0;
  cmd.debug = opts.debug != 0;
  cmd.single_thread = opts.singlethread != 0;
  cmd.show_help = opts.show_help != 0;
  cmd.show_version = opts.show_version != 0;
  // libfuse leaves both at UINT_MAX ("unset") unless -o max_threads= or
  // -o max_idle_threads= was given; passing that on makes it complain.
  if (opts.max_idle_threads > 0 && opts.max_idle_threads <= 1000) {
    cmd.max_idle_threads = opts.max_idle_threads;
  }
  if (opts.max_threads > 0 && opts.max_threads <= 1000) {
    cmd.max_threads = opts.max_threads;
  }
  return cmd;
}

std::string FuseLibraryVersion() { return fuse_pkgversion(); }

namespace {

void LogLibfuseMessage(enum fuse_log_level level, const char* fmt, va_list ap) {
  char text[1024];
  std::vsnprintf(text, sizeof text, fmt, ap);
  std::string line = text;
  while (!line.empty() && line.back() == '\n') {
    line.pop_back();
  }
  if (level <= FUSE_LOG_ERR) {
    LOG(ERROR) << "fuse: " << line;
  } else if (level <= FUSE_LOG_WARNING) {
    LOG(WARN) << "fuse: " << line;
  } else if (level <= FUSE_LOG_INFO) {
    LOG(INFO) << "fuse: " << line;
  } else {
    LOG(DEBUG) << "fuse: " << line;
  }
}

}  // namespace

void SendLibfuseMessagesToLog() { fuse_set_log_func(LogLibfuseMessage); }

Result<std::unique_ptr<FuseSession>> FuseSession::Create(fuse_args* args, vfs::Vfs* vfs) {
  fuse_lowlevel_ops ops = MakeLowLevelOps();
  ::fuse_session* se = fuse_session_new(args, &ops, sizeof ops, vfs);
  if (se == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "libfuse rejected the mount options");
  }
  if (vfs != nullptr) {
    // Called from the event poller, not from a request handler: no deadlock.
    // ENOENT means the kernel had nothing cached; nothing to report.
    vfs->SetKernelInvalidator({
        [se](uint64_t ino) { fuse_lowlevel_notify_inval_inode(se, ino, 0, 0); },
        [se](uint64_t parent, const std::string& name) {
          fuse_lowlevel_notify_inval_entry(se, parent, name.data(), name.size());
        },
    });
  }
  return std::unique_ptr<FuseSession>(new FuseSession(se));
}

FuseSession::~FuseSession() {
  if (signals_) {
    fuse_remove_signal_handlers(se_);
  }
  if (mounted_) {
    fuse_session_unmount(se_);
  }
  fuse_session_destroy(se_);
}

Status FuseSession::Mount(const std::string& mountpoint) {
  if (fuse_set_signal_handlers(se_) != 0) {
    return MakeError(ErrorCode::kInternal, "cannot install signal handlers");
  }
  signals_ = true;
  if (fuse_session_mount(se_, mountpoint.c_str()) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot mount on " + mountpoint);
  }
  mounted_ = true;
  return OkStatus();
}

int FuseSession::Loop(const CommandLine& cmd) {
  int rc;
  if (cmd.single_thread) {
    rc = fuse_session_loop(se_);
  } else {
    fuse_loop_config* config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(config, 0);
    fuse_loop_cfg_set_idle_threads(config, cmd.max_idle_threads);
    fuse_loop_cfg_set_max_threads(config, cmd.max_threads);
    rc = fuse_session_loop_mt(se_, config);
    fuse_loop_cfg_destroy(config);
  }
  return rc;
}

}  // namespace asanafs::fuse
