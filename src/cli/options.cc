#include "asanafs/cli/options.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "asanafs/util/unique_fd.h"

namespace asanafs::cli {
namespace {

constexpr int kUnset = INT_MIN;

// fuse_opt fills C strings and ints; Options is built from this afterwards.
struct RawOptions {
  char* token_file = nullptr;
  char* token_command = nullptr;
  char* uid = nullptr;
  char* gid = nullptr;
  char* umask = nullptr;
  char* api_url = nullptr;
  char* cache_dir = nullptr;
  char* log_level = nullptr;
  char* cache_size = nullptr;
  char* stream_upload = nullptr;
  // kUnset marks an option not given (any int a user can type is a value).
  int dir_ttl_s = kUnset;
  int poll_interval_s = kUnset;
  int timeout_s = kUnset;
  int redact = 0;
  int sections = 0;
  int token_given = 0;
  int read_only = 0;
  int temp_grace_s = kUnset;
  int fsname_given = 0;
  int subtype_given = 0;
  std::vector<std::string>* positionals = nullptr;  // SOURCE and MOUNTPOINT

  // fuse_opt_parse strdup()s each %s value; TakeString takes those it reads
  // and nulls them. Whatever a usage error returns before taking is freed
  // here (LeakSanitizer found it on the exit-2 paths).
  ~RawOptions() {
    for (char* s : {token_file, token_command, uid, gid, umask, api_url, cache_dir, log_level,
                    cache_size, stream_upload}) {
      std::free(s);
    }
  }
};

enum Key { kKeyToken = 1, kKeyReadOnly, kKeyIgnore, kKeyFsname, kKeySubtype };

#define ASANAFS_OPT(templ, field) \
  { templ, offsetof(RawOptions, field), 1 }
const fuse_opt kOptionSpec[] = {
    ASANAFS_OPT("token_file=%s", token_file),
    ASANAFS_OPT("token_command=%s", token_command),
    ASANAFS_OPT("uid=%s", uid),
    ASANAFS_OPT("gid=%s", gid),
    ASANAFS_OPT("umask=%s", umask),
    ASANAFS_OPT("api_url=%s", api_url),
    ASANAFS_OPT("cache_dir=%s", cache_dir),
    ASANAFS_OPT("log_level=%s", log_level),
    ASANAFS_OPT("cache_size=%s", cache_size),
    ASANAFS_OPT("stream_upload=%s", stream_upload),
    ASANAFS_OPT("dir_ttl=%d", dir_ttl_s),
    ASANAFS_OPT("poll_interval=%d", poll_interval_s),
    ASANAFS_OPT("timeout=%d", timeout_s),
    ASANAFS_OPT("redact", redact),
    ASANAFS_OPT("sections", sections),
    ASANAFS_OPT("temp_grace=%d", temp_grace_s),
    FUSE_OPT_KEY("ro", kKeyReadOnly),
    FUSE_OPT_KEY("token=", kKeyToken),
    FUSE_OPT_KEY("fsname=", kKeyFsname),
    FUSE_OPT_KEY("subtype=", kKeySubtype),
    // fstab options for mount(8), systemd and mount.fuse3 themselves; mount(8)
    // strips most of them, mount.fuse3 run by hand passes some on.
    FUSE_OPT_KEY("_netdev", kKeyIgnore),
    FUSE_OPT_KEY("nofail", kKeyIgnore),
    FUSE_OPT_KEY("auto", kKeyIgnore),
    FUSE_OPT_KEY("noauto", kKeyIgnore),
    FUSE_OPT_KEY("user", kKeyIgnore),
    FUSE_OPT_KEY("nouser", kKeyIgnore),
    FUSE_OPT_KEY("users", kKeyIgnore),
    FUSE_OPT_KEY("owner", kKeyIgnore),
    FUSE_OPT_KEY("group", kKeyIgnore),
    FUSE_OPT_KEY("defaults", kKeyIgnore),
    FUSE_OPT_KEY("comment=", kKeyIgnore),
    // FUSE 2's nonempty: libfuse 3 always allows a non-empty mountpoint.
    FUSE_OPT_KEY("nonempty", kKeyIgnore),
    // Access-time and message flags that libfuse does not know; the file
    // system keeps its own times, so they change nothing.
    FUSE_OPT_KEY("relatime", kKeyIgnore),
    FUSE_OPT_KEY("norelatime", kKeyIgnore),
    FUSE_OPT_KEY("strictatime", kKeyIgnore),
    FUSE_OPT_KEY("nostrictatime", kKeyIgnore),
    FUSE_OPT_KEY("lazytime", kKeyIgnore),
    FUSE_OPT_KEY("nolazytime", kKeyIgnore),
    FUSE_OPT_KEY("diratime", kKeyIgnore),
    FUSE_OPT_KEY("nodiratime", kKeyIgnore),
    FUSE_OPT_KEY("silent", kKeyIgnore),
    FUSE_OPT_KEY("loud", kKeyIgnore),
    FUSE_OPT_END,
};
#undef ASANAFS_OPT

int ProcessOption(void* data, const char* arg, int key, fuse_args*) {
  auto* raw = static_cast<RawOptions*>(data);
  switch (key) {
    case kKeyToken:
      raw->token_given = 1;
      return 0;  // discard: the token never travels on the command line
    case kKeyReadOnly:
      raw->read_only = 1;
      return 1;  // libfuse mounts read-only too
    case kKeyIgnore:
      return 0;
    case kKeyFsname:
      raw->fsname_given = 1;
      return 1;
    case kKeySubtype:
      raw->subtype_given = 1;
      return 1;
    case FUSE_OPT_KEY_NONOPT:
      raw->positionals->emplace_back(arg);
      return 0;  // put back (the mountpoint only) after parsing
    case FUSE_OPT_KEY_OPT:
      // x-systemd.automount, x-gvfs-show, …: options for other programs.
      return std::strncmp(arg, "x-", 2) == 0 ? 0 : 1;
    default:
      return 1;  // keep for libfuse
  }
}

// Escapes a value for a libfuse -o list (commas and backslashes).
std::string EscapeOptionValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

bool ParseUnsigned(const std::string& text, int base, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 12) {
    return false;
  }
  uint64_t v = 0;
  for (char c : text) {
    int d = c - '0';
    if (d < 0 || d >= base) {
      return false;
    }
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (v > max) {
    return false;
  }
  *out = v;
  return true;
}

// A numeric ID, or a user (group) name looked up in the password (group) database.
std::optional<uint32_t> ParseId(const std::string& text, bool group) {
  uint64_t v = 0;
  // (uid_t)-1 means "unchanged" to the kernel: not a valid owner.
  if (ParseUnsigned(text, 10, UINT32_MAX - 1, &v)) {
    return static_cast<uint32_t>(v);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  std::vector<char> buf(16384);
  if (group) {
    struct group gr, *found = nullptr;
    if (getgrnam_r(text.c_str(), &gr, buf.data(), buf.size(), &found) == 0 && found) {
      return found->gr_gid;
    }
  } else {
    struct passwd pw, *found = nullptr;
    if (getpwnam_r(text.c_str(), &pw, buf.data(), buf.size(), &found) == 0 && found) {
      return found->pw_uid;
    }
  }
  return std::nullopt;
}

std::string TakeString(char*& s, std::string fallback) {
  if (s == nullptr) {
    return fallback;
  }
  std::string out(s);
  std::free(s);
  s = nullptr;
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

// Runs `command` with /bin/sh -c, stdin from /dev/null, stderr inherited (its
// own error messages reach the user) and returns what it printed on stdout.
Result<std::string> RunTokenCommand(const std::string& command) {
  const std::string what = "token_command '" + command + "'";
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    return UsageError("cannot run " + what + ": " + std::strerror(errno));
  }
  UniqueFd read_end(pipefd[0]);
  UniqueFd write_end(pipefd[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return UsageError("cannot run " + what + ": " + std::strerror(rc));
  }
  write_end.Reset();
  constexpr size_t kMaxOutput = 64 * 1024;
  std::string out;
  bool too_long = false;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    if (out.size() + static_cast<size_t>(n) > kMaxOutput) {
      too_long = true;  // keep draining so the command is not killed by SIGPIPE
    } else {
      out.append(buf, static_cast<size_t>(n));
    }
  }
  std::memset(buf, 0, sizeof buf);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return UsageError("cannot wait for " + what + ": " + std::strerror(errno));
    }
  }
  if (WIFSIGNALED(status)) {
    return UsageError(what + " was killed by signal " + std::to_string(WTERMSIG(status)));
  }
  if (WEXITSTATUS(status) != 0) {
    return UsageError(what + " exited with status " + std::to_string(WEXITSTATUS(status)));
  }
  if (too_long) {
    return UsageError(what + " printed more than 64 KiB");
  }
  std::string token = Trim(std::move(out));
  if (token.empty()) {
    return UsageError(what + " printed no token");
  }
  for (char c : token) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return UsageError(what + " printed more than one word (the token must be one line)");
    }
  }
  return token;
}

}  // namespace

Result<Options> ParseOptions(fuse_args* args) {
  RawOptions raw;
  std::vector<std::string> positionals;
  raw.positionals = &positionals;
  if (fuse_opt_parse(args, &raw, kOptionSpec, ProcessOption) != 0) {
    return UsageError("invalid options");
  }
  Options o;
  o.token_file = TakeString(raw.token_file, "");
  o.token_command = TakeString(raw.token_command, "");
  const bool uid_given = raw.uid != nullptr;
  const bool gid_given = raw.gid != nullptr;
  const bool umask_given = raw.umask != nullptr;
  std::string uid = TakeString(raw.uid, "");
  std::string gid = TakeString(raw.gid, "");
  std::string umask = TakeString(raw.umask, "");
  // mount.fuse3 runs "asanafs SOURCE MOUNTPOINT -o OPTIONS".
  if (positionals.size() > 2) {
    return UsageError("too many arguments: expected [SOURCE] MOUNTPOINT");
  }
  if (positionals.size() == 2) {
    o.source = positionals[0];
  }
  auto add_option = [args](const std::string& opt) {
    return fuse_opt_add_arg(args, "-o") == 0 && fuse_opt_add_arg(args, opt.c_str()) == 0;
  };
  if (!raw.fsname_given && !o.source.empty() &&
      !add_option("fsname=" + EscapeOptionValue(o.source))) {
    return UsageError("out of memory");
  }
  if (!raw.subtype_given && !add_option("subtype=asanafs")) {
    return UsageError("out of memory");
  }
  // The mountpoint last, where libfuse and error messages expect it.
  if (!positionals.empty() && fuse_opt_add_arg(args, positionals.back().c_str()) != 0) {
    return UsageError("out of memory");
  }
  if (!o.token_file.empty() && !o.token_command.empty()) {
    return UsageError("token_file and token_command cannot be used together");
  }
  if (uid_given) {
    o.uid = ParseId(uid, false);
    if (!o.uid) {
      return UsageError("uid must be a user ID or name, not '" + uid + "'");
    }
  }
  if (gid_given) {
    o.gid = ParseId(gid, true);
    if (!o.gid) {
      return UsageError("gid must be a group ID or name, not '" + gid + "'");
    }
  }
  if (umask_given) {
    uint64_t bits = 0;
    if (!ParseUnsigned(umask, 8, 0777, &bits)) {
      return UsageError("umask must be octal, 000 to 777, not '" + umask + "'");
    }
    o.umask = static_cast<mode_t>(bits);
  }
  o.api_url = TakeString(raw.api_url, kDefaultApiUrl);
  o.cache_dir = TakeString(raw.cache_dir, "");
  o.log_level = TakeString(raw.log_level, "info");
  o.redact = raw.redact != 0;
  o.sections = raw.sections != 0;
  if (std::string size = TakeString(raw.cache_size, ""); !size.empty()) {
    if (!ParseSize(size, &o.cache_size)) {
      return UsageError("cache_size must be a size such as 512M or 10G");
    }
  }
  if (std::string size = TakeString(raw.stream_upload, ""); !size.empty()) {
    if (!ParseSize(size, &o.stream_upload)) {
      return UsageError("stream_upload must be a size such as 4M, or 0");
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
  if (raw.poll_interval_s != kUnset) {
    if (raw.poll_interval_s < 0) {
      return UsageError("poll_interval must be 0 (off) or more seconds");
    }
    o.poll_interval_s = raw.poll_interval_s;
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
  return "usage: " + p +
         " [-f] [-d] [-s] [-o OPTION[,OPTION...]] [SOURCE] MOUNTPOINT\n"
         "\n"
         "Mounts Asana: /<workspace>/<project>/<task>/<attachment>.\n"
         "The token comes from $ASANA_TOKEN, -o token_file=PATH or -o token_command=CMD\n"
         "(never the command line). SOURCE, as mount.fuse3 passes it from /etc/fstab, is\n"
         "only a label (the fsname shown by mount and df).\n"
         "\n"
         "asanafs options:\n"
         "    -o token_file=PATH     read the personal access token from PATH (mode 0600)\n"
         "    -o token_command=CMD   run CMD with /bin/sh -c at mount; what it prints on\n"
         "                           stdout is the token (it must exit 0)\n"
         "    -o api_url=URL         Asana API base URL (default " +
         std::string(kDefaultApiUrl) +
         ")\n"
         "    -o cache_dir=DIR       content cache (default $XDG_CACHE_HOME/asanafs or "
         "~/.cache/asanafs)\n"
         "    -o cache_size=SIZE     cap of the content cache, e.g. 512M or 20G (default 10G);\n"
         "                           least recently used files go first, open files never\n"
         "    -o dir_ttl=SECONDS     how long a directory listing is reused (default 60)\n"
         "    -o poll_interval=SECONDS\n"
         "                           how often Asana's Events API is asked for changes\n"
         "                           in projects in use (default 15; 0: never)\n"
         "    -o timeout=SECONDS     deadline of each API request; a download or upload fails\n"
         "                           after this long without progress (default 30)\n"
         "    -o log_level=LEVEL     debug, info, warn or error (default info)\n"
         "    -o redact              hide file and task names in log lines\n"
         "    -o sections            show a project's tasks in one directory per section\n"
         "                           (its Key resources stay in the project directory)\n"
         "    -o stream_upload=SIZE  a new file written from its start begins uploading once\n"
         "                           SIZE bytes are in, not at close (default 4M; 0: at close)\n"
         "    -o temp_grace=SECONDS  upload a closed temporary file (.name.XXXXXX) that is\n"
         "                           never renamed after this long (default 60)\n"
         "    -o uid=USER            owner of every file and directory (default: yours)\n"
         "    -o gid=GROUP           group of every file and directory (default: yours)\n"
         "    -o umask=OOO           permission bits to clear from 0666 (files) and 0777\n"
         "                           (directories), in octal (default 022)\n"
         "\n"
         "FUSE options:\n"
         "    -h   --help            print this help and exit\n"
         "    -V   --version         print the version and exit\n"
         "    -f                     stay in the foreground, log to stderr (without -f:\n"
         "                           detach once mounted, log to syslog)\n"
         "    -d                     debug: foreground, log every FUSE request\n"
         "    -s                     serve requests on a single thread\n"
         "    -o ro                  mount read-only: every change fails with EROFS\n"
         "    -o allow_other         let other users access the mount\n"
         "    -o fsname=NAME         the source name shown by mount and df (default SOURCE)\n"
         "    -o max_threads=N       at most N threads serve FUSE requests (default 10)\n"
         "    -o max_idle_threads=N  idle ones beyond N exit (default 2)\n"
         "\n"
         "From /etc/fstab, mount passes options such as _netdev, nofail, noauto, user,\n"
         "defaults, comment= and x-systemd.*: asanafs accepts and ignores them.\n"
         "Options may also be kept one a line in $XDG_CONFIG_HOME/asanafs/config\n"
         "(~/.config/asanafs/config); the command line overrides them.\n";
}

bool ParseSize(std::string_view text, uint64_t* bytes) {
  if (text.empty() || text.size() > 20) {
    return false;
  }
  uint64_t unit = 1;
  switch (text.back()) {
    case 'K':
    case 'k':
      unit = 1ull << 10;
      break;
    case 'M':
    case 'm':
      unit = 1ull << 20;
      break;
    case 'G':
    case 'g':
      unit = 1ull << 30;
      break;
    case 'T':
    case 't':
      unit = 1ull << 40;
      break;
    default:
      break;
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

std::string ConfigFilePath() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') {
    return std::string(xdg) + "/asanafs/config";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "/") + "/.config/asanafs/config";
}

Status ApplyConfigFile(const std::string& path, fuse_args* args) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return OkStatus();
    }
    return UsageError("cannot open config file " + path + ": " + std::strerror(errno));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return UsageError("cannot read config file " + path + ": " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > 64 * 1024) {
      return UsageError("config file " + path + " is larger than 64 KiB");
    }
  }
  std::string joined;
  size_t start = 0;
  int line_no = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    ++line_no;
    std::string line = Trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    if (line[0] == '-') {
      return UsageError("config file " + path + " line " + std::to_string(line_no) +
                        ": write options without -o, one a line");
    }
    if (!joined.empty()) {
      joined += ',';
    }
    joined += EscapeOptionValue(line);
  }
  if (joined.empty()) {
    return OkStatus();
  }
  // A copy: `args` may still point at main's argv, which cannot grow.
  fuse_args out = FUSE_ARGS_INIT(0, nullptr);
  bool ok = args->argc > 0 && fuse_opt_add_arg(&out, args->argv[0]) == 0 &&
            fuse_opt_add_arg(&out, "-o") == 0 && fuse_opt_add_arg(&out, joined.c_str()) == 0;
  for (int i = 1; ok && i < args->argc; ++i) {
    ok = fuse_opt_add_arg(&out, args->argv[i]) == 0;
  }
  if (!ok) {
    fuse_opt_free_args(&out);
    return UsageError("out of memory");
  }
  fuse_opt_free_args(args);
  *args = out;
  return OkStatus();
}

std::string ResolveCacheDir(const Options& options) {
  if (!options.cache_dir.empty()) {
    if (options.cache_dir[0] == '/') {
      return options.cache_dir;
    }
    // Relative to where asanafs was started: the daemon later changes to
    // "/", and the staging files would then be created in the wrong place.
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr) {
      return options.cache_dir;  // Open then reports the path it could not use
    }
    return std::string(cwd) + "/" + options.cache_dir;
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
  if (!options.token_command.empty()) {
    return RunTokenCommand(options.token_command);
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
