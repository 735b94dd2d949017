// asanafs: builds the object graph (clock → HTTP → Asana client → caches →
// Vfs → FUSE session) and maps start-up failures to documented exit codes.
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "asanafs/asana/client.h"
#include "asanafs/cli/options.h"
#include "asanafs/fuse/session.h"
#include "asanafs/http/curl_transport.h"
#include "asanafs/http/limiter.h"
#include "asanafs/http/retry.h"
#include "asanafs/http/url.h"
#include "asanafs/model/content_cache.h"
#include "asanafs/model/state_db.h"
#include "asanafs/util/log.h"
#include "asanafs/vfs/vfs.h"

namespace asanafs::cli {
namespace {

int Fail(ExitCode code, const std::string& message) {
  std::fprintf(stderr, "asanafs: %s\n", message.c_str());
  return static_cast<int>(code);
}

// Owns fuse_args so every exit path frees them.
struct ArgsGuard {
  fuse_args args;
  ~ArgsGuard() { fuse_opt_free_args(&args); }
};

// Returns the last argument that is not an option or an option's value.
std::string LastPositional(const fuse_args& args) {
  std::string last;
  for (int i = 1; i < args.argc; ++i) {
    std::string a = args.argv[i];
    if (a == "-o") {
      ++i;
    } else if (!a.empty() && a[0] != '-') {
      last = a;
    }
  }
  return last;
}

// Checks the token with GET /users/me before mounting, so a bad token or an
// unreachable API is reported on the terminal instead of as EIO later.
int CheckToken(asana::AsanaApi& api, const std::string& api_url) {
  auto me = api.GetMe();
  if (me.has_value()) {
    LOG(INFO) << "authenticated to " << api_url;
    return 0;
  }
  const Error& e = me.error();
  if (e.code == ErrorCode::kUnauthenticated) {
    return Fail(ExitCode::kTokenRejected, "Asana rejected the token (401 Not Authorized)");
  }
  if (e.http_status == 0) {
    return Fail(ExitCode::kUnreachable, "cannot reach Asana at " + api_url + ": " + e.message);
  }
  return Fail(ExitCode::kTokenRejected, "Asana refused GET /users/me: " + e.message);
}

int Run(int argc, char** argv) {
  // No core files: they would hold the token.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ArgsGuard guard{FUSE_ARGS_INIT(argc, argv)};
  if (auto config = ApplyConfigFile(ConfigFilePath(), &guard.args); !config) {
    return Fail(ExitCode::kUsage, config.error().message);
  }
  auto options = ParseOptions(&guard.args);
  if (!options) {
    return Fail(ExitCode::kUsage, options.error().message);
  }
  auto cmd = fuse::ParseCommandLine(&guard.args);
  if (!cmd) {
    // libfuse also rejects a mountpoint that does not exist: that is exit 4.
    if (std::string mp = LastPositional(guard.args);
        !mp.empty() && ::access(mp.c_str(), F_OK) != 0) {
      return Fail(ExitCode::kMountFailed, "cannot mount on " + mp + ": " + std::strerror(errno));
    }
    return Fail(ExitCode::kUsage, "invalid command line; see asanafs --help");
  }
  if (cmd->show_help) {
    std::fputs(HelpText(argv[0]).c_str(), stdout);
    return 0;
  }
  if (cmd->show_version) {
    std::printf("asanafs %s (libfuse %s)\n", ASANAFS_VERSION, fuse::FuseLibraryVersion().c_str());
    return 0;
  }
  LogLevel level;
  if (!ParseLogLevel(options->log_level, &level)) {
    return Fail(ExitCode::kUsage, "unknown log_level '" + options->log_level + "'");
  }
  SetLogLevel(cmd->debug ? LogLevel::kDebug : level);
  SetRedactNames(options->redact);
  if (!cmd->foreground) {
    // A daemon has no terminal: records go to syslog (facility daemon) from
    // here on; failures to start are still reported on stderr by Fail().
    SetLogToSyslog(true);
  }
  if (cmd->mountpoint.empty()) {
    return Fail(ExitCode::kUsage, "no mountpoint given; see asanafs --help");
  }
  auto token = LoadToken(*options);
  if (!token) {
    return Fail(ExitCode::kUsage, token.error().message);
  }
  if (auto safe = http::CheckApiUrlIsSafe(options->api_url); !safe) {
    return Fail(ExitCode::kUsage, safe.error().message);
  }
  struct stat mst;
  if (::stat(cmd->mountpoint.c_str(), &mst) != 0 || !S_ISDIR(mst.st_mode)) {
    return Fail(ExitCode::kMountFailed, "cannot mount on " + cmd->mountpoint + ": " +
                                            (errno ? std::strerror(errno) : "not a directory"));
  }
  const std::string cache_dir = ResolveCacheDir(*options);
  auto cache = model::ContentCache::Open(cache_dir);
  if (!cache) {
    return Fail(ExitCode::kCacheUnusable, cache.error().message);
  }
  // The cache dir's lock (taken above) also guards the journal and staging area.
  const std::string staging_dir = cache_dir + "/staging";
  if (::mkdir(staging_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Fail(ExitCode::kCacheUnusable,
                "cannot create " + staging_dir + ": " + std::strerror(errno));
  }
  auto state = model::StateDb::Open(cache_dir + "/state.db");
  if (!state) {
    return Fail(ExitCode::kCacheUnusable, state.error().message);
  }

  RealClock clock;
  http::CurlTransport curl;
  asana::ClientOptions client_options;
  client_options.api_url = options->api_url;
  client_options.token = *token;
  client_options.request_timeout = std::chrono::seconds(options->timeout_s);
  http::RetryOptions retry_options;
  // A call's retries end within the same deadline as one request would.
  retry_options.total_deadline = std::chrono::seconds(options->timeout_s);
  // Asana allows 50 GETs and 15 writes in flight per token.
  http::LimitingTransport limited(curl);
  http::RetryingTransport retrying(limited, clock, retry_options);
  asana::AsanaClient client(retrying, client_options);

  vfs::VfsOptions vfs_options;
  vfs_options.uid = options->uid.value_or(::getuid());
  vfs_options.gid = options->gid.value_or(::getgid());
  vfs_options.umask = options->umask;
  vfs_options.dir_ttl = std::chrono::seconds(options->dir_ttl_s);
  vfs_options.poll_interval = std::chrono::seconds(options->poll_interval_s);
  vfs_options.read_only = options->read_only;
  vfs_options.sections = options->sections;
  vfs_options.temp_grace = std::chrono::seconds(options->temp_grace_s);
  vfs_options.staging_dir = staging_dir;
  vfs_options.recovered_dir = cache_dir + "/recovered";
  vfs_options.cache_limit_bytes = options->cache_size;
  vfs_options.stream_upload_min = options->stream_upload;
  // Threads do not survive daemon(): the upload worker starts after it.
  vfs_options.start_worker = false;
  vfs::Vfs fs(client, **cache, **state, clock, vfs_options);

  // libfuse validates the remaining mount options here, before any request.
  auto session = fuse::FuseSession::Create(&guard.args, &fs);
  if (!session) {
    return Fail(ExitCode::kUsage, session.error().message);
  }
  {
    asana::AsanaClient startup_client(curl, client_options);  // no retries: fail fast
    if (int rc = CheckToken(startup_client, options->api_url); rc != 0) {
      return rc;
    }
  }
  if (auto mounted = (*session)->Mount(cmd->mountpoint); !mounted) {
    return Fail(ExitCode::kMountFailed, mounted.error().message);
  }
  if (!cmd->foreground) {
    if (::daemon(0, 0) != 0) {
      return Fail(ExitCode::kMountFailed, std::string("cannot daemonize: ") + std::strerror(errno));
    }
    fuse::SendLibfuseMessagesToLog();  // now that stderr is gone
  }
  LOG(INFO) << "mounted on " << cmd->mountpoint
            << (options->source.empty() ? "" : " (source " + options->source + ")");
  fs.StartWorker();
  int rc = (*session)->Loop(*cmd);
  LOG(INFO) << "unmounting";
  return rc == 0 ? 0 : 1;
}

}  // namespace
}  // namespace asanafs::cli

int main(int argc, char** argv) {
  // glibc gives each new thread its own malloc arena (up to 8 per core), and
  // the daemon's threads grow with the load (FUSE workers, fetch and listing
  // pools): in a soak each arena kept 1-2 MiB of freed pages and RSS stepped
  // up with every new thread. Two arenas are plenty for an I/O-bound daemon.
  // MALLOC_ARENA_MAX in the environment still decides when set.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    mallopt(M_ARENA_MAX, 2);
  }
  // The big buffers (a FUSE worker's 1 MiB request buffer, curl's transfer
  // buffers) come and go with threads and pooled handles. A fixed threshold
  // keeps them in their own mappings, given back to the kernel when freed;
  // glibc's sliding default moves them into the heap after the first free,
  // where the holes they leave stay resident.
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) {
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  }
  return asanafs::cli::Run(argc, argv);
}
