// cli/options: the asanafs command line — the -o options asanafs adds to
// FUSE's, where the token comes from, and the exit codes. Layer: cli.
#ifndef ASANAFS_CLI_OPTIONS_H_
#define ASANAFS_CLI_OPTIONS_H_

#include <fuse_opt.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "asanafs/util/result.h"

namespace asanafs::cli {

// Documented in the man page's EXIT STATUS section; scripts rely on them.
enum class ExitCode {
  kOk = 0,
  kTokenRejected = 1,  // Asana answered 401 (or another error) to GET /users/me
  kUsage = 2,          // bad option, no token, unsafe token file or URL
  kUnreachable = 3,    // no HTTP answer from the API
  kMountFailed = 4,    // the mountpoint or libfuse refused
  kCacheUnusable = 5,  // cache directory cannot be created or is locked
};

inline constexpr const char* kDefaultApiUrl = "https://app.asana.com/api/1.0";

struct Options {
  std::string token_file;
  std::string token_command;  // run with /bin/sh -c at mount; its stdout is the token
  std::string api_url = kDefaultApiUrl;
  std::string cache_dir;  // empty: $XDG_CACHE_HOME/asanafs or ~/.cache/asanafs
  int dir_ttl_s = 60;
  int poll_interval_s = 15;  // Events API polling of projects in use; 0 = never
  int timeout_s = 30;
  std::string log_level = "info";
  bool redact = false;
  bool sections = false;                // -o sections: project → section → task directories
  bool read_only = false;               // -o ro (also passed on to libfuse)
  int temp_grace_s = 60;                // upload a never-renamed temporary file after this long
  uint64_t cache_size = 10ull << 30;    // content cache cap in bytes
  uint64_t stream_upload = 4ull << 20;  // upload a new file while written once this much is in
  bool token_on_command_line = false;   // -o token=… was given: refused
  // Owner and permission bits every file and directory shows (-o uid=, gid=, umask=).
  std::optional<uid_t> uid;  // unset: the user who mounted
  std::optional<gid_t> gid;
  mode_t umask = 022;  // files 0666 & ~umask, directories 0777 & ~umask
  // mount.fuse3's convention is "asanafs SOURCE MOUNTPOINT -o ...": the SOURCE
  // (fstab's first field) is only a label, shown as the fsname by mount and df.
  std::string source;
};

// Parses asanafs's own -o options out of `args`, leaving FUSE's there. Drops
// the options mount(8) and mount.fuse3 may pass that mean nothing to a FUSE
// file system (_netdev, nofail, noauto, user, defaults, comment=, x-*, …), and
// a SOURCE given before the mountpoint (then sets fsname=SOURCE unless given).
// Adds subtype=asanafs, so mount lists the file system as fuse.asanafs.
Result<Options> ParseOptions(fuse_args* args);

// Returns the config file's path: $XDG_CONFIG_HOME/asanafs/config, else
// ~/.config/asanafs/config.
std::string ConfigFilePath();

// Reads the config file at `path` (one mount option a line, as after -o;
// blank lines and lines starting with # are ignored) and inserts its options
// right after argv[0], so options on the command line override them. A
// missing file is no error. The message of the error is the one line to print.
Status ApplyConfigFile(const std::string& path, fuse_args* args);

// Returns the text of --help (asanafs's options and the FUSE ones it documents).
std::string HelpText(const char* program);

// Parses a size such as 512M, 10G or 1048576 (bytes). Returns false if invalid.
bool ParseSize(std::string_view text, uint64_t* bytes);

// Returns the cache directory to use for `options`.
std::string ResolveCacheDir(const Options& options);

// Reads the token from -o token_file= (refusing a file that group or others
// may read), from the output of -o token_command= (run with /bin/sh -c; it
// must exit 0 and print the token), or from $ASANA_TOKEN, which is then
// scrubbed from the environment. The token never appears in a message.
// The message of the error is the one line to print.
Result<std::string> LoadToken(const Options& options);

}  // namespace asanafs::cli

#endif  // ASANAFS_CLI_OPTIONS_H_
