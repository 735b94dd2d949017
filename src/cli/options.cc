#include "asanafs/cli/options.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "asanafs/util/unique_fd.h"

namespace asanafs::cli {
namespace {

constexpr int kUnset = INT_MIN;

// fuse_opt fills C strings and ints; Options is built from this afterwards.
struct RawOptions {
  char* token_file = nullptr;
  char* api_url = nullptr;
  char* cache_dir = nullptr;
  char* log_level = nullptr;
  char* cache_size = nullptr;
  // kUnset marks an option not given (any int a user can type is a value).
  int dir_ttl_s = kUnset;
  int timeout_s = kUnset;
  int redact = 0;
  int token_given = 0;
  int read_only = 0;
  int temp_grace_s = kUnset;
};

enum Key { kKeyToken = 1, kKeyReadOnly = 2 };

#define ASANAFS_OPT(templ, field) {templ, offsetof(RawOptions, field), 1}
const fuse_opt kOptionSpec[] = {
    ASANAFS_OPT("token_file=%s", token_file),
    ASANAFS_OPT("api_url=%s", api_url),
    ASANAFS_OPT("cache_dir=%s", cache_dir),
    ASANAFS_OPT("log_level=%s", log_level),
    ASANAFS_OPT("cache_size=%s", cache_size),
    ASANAFS_OPT("dir_ttl=%d", dir_ttl_s),
    ASANAFS_OPT("timeout=%d", timeout_s),
    ASANAFS_OPT("redact", redact),
    ASANAFS_OPT("temp_grace=%d", temp_grace_s),
    FUSE_OPT_KEY("ro", kKeyReadOnly),
    FUSE_OPT_KEY("token=", kKeyToken),
    FUSE_OPT_END,
};
#undef ASANAFS_OPT

int ProcessOption(void* data, const char*, int key, fuse_args*) {
  if (key == kKeyToken) {
    static_cast<RawOptions*>(data)->token_given = 1;
    return 0;  // discard: the token never travels on the command line
  }
  if (key == kKeyReadOnly) {
    static_cast<RawOptions*>(data)->read_only = 1;
    return 1;  // libfuse mounts read-only too
  }
  return 1;  // keep for libfuse
}

std::string TakeString(char* s, std::string fallback) {
  if (s == nullptr) {
    return fallback;
  }
  std::string out(s);
  std::free(s);
  return out;
}

std::string Trim(std::string s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) {
    return "";
  }
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

Error UsageError(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

Result<Options> ParseOptions(fuse_args* args) {
  RawOptions raw;
  if (fuse_opt_parse(args, &raw, kOptionSpec, ProcessOption) != 0) {
    return UsageError("invalid options");
  }
  Options o;
  o.token_file = TakeString(raw.token_file, "");
  o.api_url = TakeString(raw.api_url, kDefaultApiUrl);
  o.cache_dir = TakeString(raw.cache_dir, "");
  o.log_level = TakeString(raw.log_level, "info");
  o.redact = raw.redact != 0;
  if (std::string size = TakeString(raw.cache_size, ""); !size.empty()) {
    if (!ParseSize(size, &o.cache_size)) {
      return UsageError("cache_size must be a size such as 512M or 10G");
    }
  }
  o.token_on_command_line = raw.token_given != 0;
  o.read_only = raw.read_only != 0;
  if (raw.temp_grace_s != kUnset) {
    if (raw.temp_grace_s < 0) {
      return UsageError("temp_grace must be 0 or more seconds");
    }
    o.temp_grace_s = raw.temp_grace_s;
  }
  if (raw.dir_ttl_s != kUnset) {
    if (raw.dir_ttl_s < 0) {
      return UsageError("dir_ttl must be 0 or more seconds");
    }
    o.dir_ttl_s = raw.dir_ttl_s;
  }
  if (raw.timeout_s != kUnset) {
    if (raw.timeout_s < 1) {
      return UsageError("timeout must be at least 1 second");
    }
    o.timeout_s = raw.timeout_s;
  }
  return o;
}

std::string HelpText(const char* program) {
  std::string p = program;
  return "usage: " + p + " [-f] [-d] [-s] [-o OPTION[,OPTION...]] MOUNTPOINT\n"
         "\n"
         "Mounts Asana: /<workspace>/<project>/<task>/<attachment>.\n"
         "The token comes from $ASANA_TOKEN or -o token_file=PATH (never the command line).\n"
         "\n"
         "asanafs options:\n"
         "    -o token_file=PATH     read the personal access token from PATH (mode 0600)\n"
         "    -o api_url=URL         Asana API base URL (default " + std::string(kDefaultApiUrl) + ")\n"
         "    -o cache_dir=DIR       content cache (default $XDG_CACHE_HOME/asanafs or ~/.cache/asanafs)\n"
         "    -o cache_size=SIZE     cap of the content cache, e.g. 512M or 20G (default 10G);\n"
         "                           least recently used files go first, open files never\n"
         "    -o dir_ttl=SECONDS     how long a directory listing is reused (default 60)\n"
         "    -o timeout=SECONDS     deadline of each request to Asana (default 30)\n"
         "    -o log_level=LEVEL     debug, info, warn or error (default info)\n"
         "    -o redact              hide file and task names in log lines\n"
         "    -o temp_grace=SECONDS  upload a closed temporary file (.name.XXXXXX) that is\n"
         "                           never renamed after this long (default 60)\n"
         "\n"
         "FUSE options:\n"
         "    -h   --help            print this help and exit\n"
         "    -V   --version         print the version and exit\n"
         "    -f                     stay in the foreground, log to stderr\n"
         "    -d                     debug: foreground, log every FUSE request\n"
         "    -s                     serve requests on a single thread\n"
         "    -o ro                  mount read-only: every change fails with EROFS\n"
         "    -o allow_other         let other users access the mount\n"
         "    -o fsname=NAME         the source name shown by mount and df\n";
}

bool ParseSize(std::string_view text, uint64_t* bytes) {
  if (text.empty() || text.size() > 20) {
    return false;
  }
  uint64_t unit = 1;
  switch (text.back()) {
    case 'K': case 'k': unit = 1ull << 10; break;
    case 'M': case 'm': unit = 1ull << 20; break;
    case 'G': case 'g': unit = 1ull << 30; break;
    case 'T': case 't': unit = 1ull << 40; break;
    default: break;
  }
  if (unit != 1) {
    text.remove_suffix(1);
  }
  if (text.empty()) {
    return false;
  }
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || value > (UINT64_MAX - 9) / 10) {
      return false;
    }
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > UINT64_MAX / unit) {
    return false;
  }
  *bytes = value * unit;
  return true;
}

std::string ResolveCacheDir(const Options& options) {
  if (!options.cache_dir.empty()) {
    return options.cache_dir;
  }
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') {
    return std::string(xdg) + "/asanafs";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "/tmp") + "/.cache/asanafs";
}

Result<std::string> LoadToken(const Options& options) {
  if (options.token_on_command_line) {
    return UsageError(
        "the token is not accepted on the command line (it would show in ps); "
        "set ASANA_TOKEN or pass -o token_file=PATH");
  }
  if (!options.token_file.empty()) {
    const std::string& path = options.token_file;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
      return UsageError("cannot open token file " + path + ": " + std::strerror(errno));
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return UsageError("token file " + path + " is not a regular file");
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      return UsageError("token file " + path + " is readable by group or others; run chmod 600 " +
                        path);
    }
    char buf[4096];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      return UsageError("cannot read token file " + path + ": " + std::strerror(errno));
    }
    std::string token = Trim(std::string(buf, static_cast<size_t>(n)));
    std::memset(buf, 0, sizeof buf);
    if (token.empty()) {
      return UsageError("token file " + path + " is empty");
    }
    return token;
  }
  char* env = std::getenv("ASANA_TOKEN");
  std::string token = env != nullptr ? Trim(env) : "";
  if (env != nullptr) {
    // Keep the token out of /proc/PID/environ for the daemon's lifetime.
    std::memset(env, 'x', std::strlen(env));
    ::unsetenv("ASANA_TOKEN");
  }
  if (token.empty()) {
    return UsageError("no Asana token: set ASANA_TOKEN or pass -o token_file=PATH");
  }
  return token;
}

}  // namespace asanafs::cli
