// cli/options: the asanafs command line — the -o options asanafs adds to
// FUSE's, where the token comes from, and the exit codes. Layer: cli.
#ifndef ASANAFS_CLI_OPTIONS_H_
#define ASANAFS_CLI_OPTIONS_H_

#include <fuse_opt.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "asanafs/util/result.h"

namespace asanafs::cli {

// Documented in the man page's EXIT STATUS section; scripts rely on them.
enum class ExitCode {
  kOk = 0,
  kTokenRejected = 1,   // Asana answered 401 (or another error) to GET /users/me
  kUsage = 2,           // bad option, no token, unsafe token file or URL
  kUnreachable = 3,     // no HTTP answer from the API
  kMountFailed = 4,     // the mountpoint or libfuse refused
  kCacheUnusable = 5,   // cache directory cannot be created or is locked
};

inline constexpr const char* kDefaultApiUrl = "https://app.asana.com/api/1.0";

struct Options {
  std::string token_file;
  std::string api_url = kDefaultApiUrl;
  std::string cache_dir;  // empty: $XDG_CACHE_HOME/asanafs or ~/.cache/asanafs
  int dir_ttl_s = 60;
  int timeout_s = 30;
  std::string log_level = "info";
  bool redact = false;
  bool read_only = false;   // -o ro (also passed on to libfuse)
  int temp_grace_s = 60;    // upload a never-renamed temporary file after this long
  uint64_t cache_size = 10ull << 30;  // content cache cap in bytes
  bool token_on_command_line = false;  // -o token=… was given: refused
};

// Parses asanafs's own -o options out of `args`, leaving FUSE's there.
Result<Options> ParseOptions(fuse_args* args);

// Returns the text of --help (asanafs's options and the FUSE ones it documents).
std::string HelpText(const char* program);

// Parses a size such as 512M, 10G or 1048576 (bytes). Returns false if invalid.
bool ParseSize(std::string_view text, uint64_t* bytes);

// Returns the cache directory to use for `options`.
std::string ResolveCacheDir(const Options& options);

// Reads the token from -o token_file= (refusing a file that group or others
// may read) or from $ASANA_TOKEN, which is then scrubbed from the environment.
// The message of the error is the one line to print.
Result<std::string> LoadToken(const Options& options);

}  // namespace asanafs::cli

#endif  // ASANAFS_CLI_OPTIONS_H_
