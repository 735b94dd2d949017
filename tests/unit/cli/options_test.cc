// Tests of the command line: asanafs's -o options, token sources, cache dir.
#include "asanafs/cli/options.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace asanafs::cli {
namespace {

// Parses argv-style words and returns the options plus what is left for libfuse.
struct Parsed {
  Result<Options> options = MakeError(ErrorCode::kInternal, "unset");
  std::vector<std::string> rest;
};

Parsed Parse(std::vector<std::string> words) {
  std::vector<char*> argv;
  for (auto& w : words) {
    argv.push_back(w.data());
  }
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  Parsed p;
  p.options = ParseOptions(&args);
  for (int i = 0; i < args.argc; ++i) {
    p.rest.emplace_back(args.argv[i]);
  }
  fuse_opt_free_args(&args);
  return p;
}

std::string WriteFile(const std::string& content, mode_t mode) {
  char tmpl[] = "/tmp/asanafs_token_XXXXXX";
  int fd = mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  chmod(tmpl, mode);
  return tmpl;
}

TEST(OptionsTest, OwnOptionsAreTakenAndFuseOptionsKept) {
  auto p = Parse({"asanafs", "-f", "-o", "api_url=http://127.0.0.1:9/api/1.0,ro,dir_ttl=5", "-o",
                  "timeout=7,log_level=debug,redact,cache_dir=/tmp/c", "/mnt"});
  ASSERT_TRUE(p.options.has_value()) << p.options.error().message;
  EXPECT_EQ(p.options->api_url, "http://127.0.0.1:9/api/1.0");
  EXPECT_EQ(p.options->dir_ttl_s, 5);
  EXPECT_EQ(p.options->timeout_s, 7);
  EXPECT_EQ(p.options->log_level, "debug");
  EXPECT_TRUE(p.options->redact);
  EXPECT_EQ(p.options->cache_dir, "/tmp/c");
  std::string rest;
  for (const auto& w : p.rest) {
    rest += w + " ";
  }
  EXPECT_NE(rest.find("ro"), std::string::npos);
  EXPECT_EQ(rest.find("api_url"), std::string::npos);
  EXPECT_NE(rest.find("/mnt"), std::string::npos);
}

TEST(OptionsTest, DefaultsApply) {
  auto p = Parse({"asanafs", "/mnt"});
  ASSERT_TRUE(p.options.has_value());
  EXPECT_EQ(p.options->api_url, kDefaultApiUrl);
  EXPECT_EQ(p.options->dir_ttl_s, 60);
  EXPECT_EQ(p.options->timeout_s, 30);
}

TEST(OptionsTest, PollIntervalZeroIsOffAndNegativeIsRefused) {
  auto p = Parse({"asanafs", "-o", "poll_interval=0", "/mnt"});
  ASSERT_TRUE(p.options.has_value());
  EXPECT_EQ(p.options->poll_interval_s, 0);
  auto d = Parse({"asanafs", "/mnt"});
  ASSERT_TRUE(d.options.has_value());
  EXPECT_EQ(d.options->poll_interval_s, 15);
  EXPECT_FALSE(Parse({"asanafs", "-o", "poll_interval=-1", "/mnt"}).options.has_value());
  EXPECT_FALSE(Parse({"asanafs", "-o", "poll_interval=soon", "/mnt"}).options.has_value());
}

TEST(OptionsTest, BadNumbersAreUsageErrors) {
  EXPECT_FALSE(Parse({"asanafs", "-o", "timeout=0", "/mnt"}).options.has_value());
  EXPECT_FALSE(Parse({"asanafs", "-o", "dir_ttl=-3", "/mnt"}).options.has_value());
  EXPECT_FALSE(Parse({"asanafs", "-o", "timeout=-1", "/mnt"}).options.has_value());
  EXPECT_FALSE(Parse({"asanafs", "-o", "dir_ttl=-1", "/mnt"}).options.has_value());
}

TEST(OptionsTest, TokenOnTheCommandLineIsRefusedAndNotPassedOn) {
  auto p = Parse({"asanafs", "-o", "token=sekrit", "/mnt"});
  ASSERT_TRUE(p.options.has_value());
  for (const auto& w : p.rest) {
    EXPECT_EQ(w.find("sekrit"), std::string::npos) << w;
  }
  auto token = LoadToken(*p.options);
  ASSERT_FALSE(token.has_value());
  EXPECT_NE(token.error().message.find("command line"), std::string::npos);
}

TEST(TokenTest, FromAPrivateFileTrimmed) {
  std::string path = WriteFile("  tok-123\n", 0600);
  Options o;
  o.token_file = path;
  auto token = LoadToken(o);
  ASSERT_TRUE(token.has_value()) << token.error().message;
  EXPECT_EQ(*token, "tok-123");
  unlink(path.c_str());
}

TEST(TokenTest, GroupReadableFileIsRefused) {
  std::string path = WriteFile("tok", 0640);
  Options o;
  o.token_file = path;
  auto token = LoadToken(o);
  ASSERT_FALSE(token.has_value());
  EXPECT_EQ(token.error().message,
            "token file " + path + " is readable by group or others; run chmod 600 " + path);
  unlink(path.c_str());
}

TEST(TokenTest, EmptyFileAndMissingFileAreRefused) {
  std::string path = WriteFile("\n", 0600);
  Options o;
  o.token_file = path;
  EXPECT_FALSE(LoadToken(o).has_value());
  unlink(path.c_str());
  EXPECT_FALSE(LoadToken(o).has_value());
}

TEST(TokenTest, FromEnvironmentWhichIsThenScrubbed) {
  setenv("ASANA_TOKEN", "env-token", 1);
  Options o;
  auto token = LoadToken(o);
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(*token, "env-token");
  EXPECT_EQ(getenv("ASANA_TOKEN"), nullptr);
}

TEST(TokenTest, NoTokenSaysHowToProvideOne) {
  unsetenv("ASANA_TOKEN");
  Options o;
  auto token = LoadToken(o);
  ASSERT_FALSE(token.has_value());
  EXPECT_EQ(token.error().message, "no Asana token: set ASANA_TOKEN or pass -o token_file=PATH");
}

TEST(SizeTest, ParsesUnitsAndRejectsJunk) {
  uint64_t b = 0;
  ASSERT_TRUE(ParseSize("512M", &b));
  EXPECT_EQ(b, 512ull << 20);
  ASSERT_TRUE(ParseSize("10G", &b));
  EXPECT_EQ(b, 10ull << 30);
  ASSERT_TRUE(ParseSize("4096", &b));
  EXPECT_EQ(b, 4096u);
  EXPECT_FALSE(ParseSize("", &b));
  EXPECT_FALSE(ParseSize("G", &b));
  EXPECT_FALSE(ParseSize("12X", &b));
  EXPECT_FALSE(ParseSize("-1G", &b));
  EXPECT_FALSE(ParseSize("99999999999999999999T", &b));
  auto p = Parse({"asanafs", "-o", "cache_size=2G", "/mnt"});
  ASSERT_TRUE(p.options.has_value());
  EXPECT_EQ(p.options->cache_size, 2ull << 30);
  EXPECT_FALSE(Parse({"asanafs", "-o", "cache_size=lots", "/mnt"}).options.has_value());
}

TEST(OptionsTest, StreamUploadIsASizeAndZeroTurnsItOff) {
  auto d = Parse({"asanafs", "/mnt"});
  ASSERT_TRUE(d.options.has_value());
  EXPECT_EQ(d.options->stream_upload, 4ull << 20);
  auto p = Parse({"asanafs", "-o", "stream_upload=16M", "/mnt"});
  ASSERT_TRUE(p.options.has_value());
  EXPECT_EQ(p.options->stream_upload, 16ull << 20);
  auto off = Parse({"asanafs", "-o", "stream_upload=0", "/mnt"});
  ASSERT_TRUE(off.options.has_value());
  EXPECT_EQ(off.options->stream_upload, 0u);
  EXPECT_FALSE(Parse({"asanafs", "-o", "stream_upload=soon", "/mnt"}).options.has_value());
}

TEST(CacheDirTest, ExplicitThenXdgThenHome) {
  Options o;
  o.cache_dir = "/x/y";
  EXPECT_EQ(ResolveCacheDir(o), "/x/y");
  o.cache_dir.clear();
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(ResolveCacheDir(o), "/xdg/asanafs");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(ResolveCacheDir(o), "/home/u/.cache/asanafs");
}

// The daemon changes to "/" after mounting: a relative cache_dir is made
// absolute first, against the directory asanafs was started in.
TEST(CacheDirTest, RelativeIsTakenFromTheStartingDirectory) {
  char cwd[PATH_MAX];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  Options o;
  o.cache_dir = "rel/cache";
  EXPECT_EQ(ResolveCacheDir(o), std::string(cwd) + "/rel/cache");
}

// mount.fuse3 runs "asanafs SOURCE MOUNTPOINT -o OPTIONS" (fstab: SOURCE is the first field).
TEST(MountConventionTest, SourceBeforeMountpointBecomesTheFsname) {
  auto p =
      Parse({"asanafs", "asana", "/mnt/asana", "-o", "rw,nosuid,nodev,api_url=http://127.0.0.1:9"});
  ASSERT_TRUE(p.options.has_value()) << p.options.error().message;
  EXPECT_EQ(p.options->source, "asana");
  std::vector<std::string> positional;
  std::string opts;
  for (size_t i = 1; i < p.rest.size(); ++i) {
    if (p.rest[i] == "-o") {
      opts += p.rest[++i] + ",";
    } else if (p.rest[i][0] != '-') {
      positional.push_back(p.rest[i]);
    }
  }
  EXPECT_EQ(positional, std::vector<std::string>{"/mnt/asana"});
  EXPECT_NE(opts.find("fsname=asana,"), std::string::npos) << opts;
  EXPECT_NE(opts.find("subtype=asanafs,"), std::string::npos) << opts;
  EXPECT_NE(opts.find("nosuid"), std::string::npos) << opts;
}

TEST(MountConventionTest, OneArgumentIsTheMountpointAndFsnameIsNotForced) {
  auto p = Parse({"asanafs", "/mnt", "-o", "fsname=mine"});
  ASSERT_TRUE(p.options.has_value());
  EXPECT_EQ(p.options->source, "");
  std::string rest;
  for (const auto& w : p.rest) {
    rest += w + " ";
  }
  EXPECT_NE(rest.find("fsname=mine"), std::string::npos) << rest;
  EXPECT_EQ(rest.find("fsname=/mnt"), std::string::npos) << rest;
  EXPECT_EQ(p.rest.back(), "/mnt");
}

TEST(MountConventionTest, SourceWithCommaIsEscaped) {
  auto p = Parse({"asanafs", "a,b", "/mnt"});
  ASSERT_TRUE(p.options.has_value());
  std::string rest;
  for (const auto& w : p.rest) {
    rest += w + " ";
  }
  EXPECT_NE(rest.find("fsname=a\\,b"), std::string::npos) << rest;
}

TEST(MountConventionTest, ThreePositionalsAreAUsageError) {
  EXPECT_FALSE(Parse({"asanafs", "a", "b", "/mnt"}).options.has_value());
}

TEST(MountConventionTest, FstabOnlyOptionsAreDropped) {
  auto p = Parse({"asanafs", "asana", "/mnt", "-o",
                  "_netdev,nofail,noauto,auto,user,nouser,users,owner,group,defaults,"
                  "comment=systemd.automount,x-systemd.automount,x-systemd.idle-timeout=60,"
                  "nonempty,allow_other,noatime"});
  ASSERT_TRUE(p.options.has_value()) << p.options.error().message;
  std::string rest;
  for (const auto& w : p.rest) {
    rest += w + " ";
  }
  for (const char* dropped : {"_netdev", "nofail", "auto", "user", "owner", "group", "defaults",
                              "comment", "x-systemd", "nonempty"}) {
    EXPECT_EQ(rest.find(dropped), std::string::npos) << dropped << " in " << rest;
  }
  EXPECT_NE(rest.find("allow_other"), std::string::npos) << rest;
  EXPECT_NE(rest.find("noatime"), std::string::npos) << rest;
}

TEST(OwnerTest, UidGidUmaskAreTakenAndValidated) {
  auto p = Parse({"asanafs", "-o", "uid=1234,gid=567,umask=027", "/mnt"});
  ASSERT_TRUE(p.options.has_value()) << p.options.error().message;
  EXPECT_EQ(p.options->uid, 1234u);
  EXPECT_EQ(p.options->gid, 567u);
  EXPECT_EQ(p.options->umask, 027u);
  for (const auto& w : p.rest) {
    EXPECT_EQ(w.find("uid="), std::string::npos) << w;
    EXPECT_EQ(w.find("umask="), std::string::npos) << w;
  }
  auto d = Parse({"asanafs", "/mnt"});
  ASSERT_TRUE(d.options.has_value());
  EXPECT_FALSE(d.options->uid.has_value());
  EXPECT_FALSE(d.options->gid.has_value());
  EXPECT_EQ(d.options->umask, 022u);
  auto named = Parse({"asanafs", "-o", "uid=root,gid=root", "/mnt"});
  ASSERT_TRUE(named.options.has_value()) << named.options.error().message;
  EXPECT_EQ(named.options->uid, 0u);
  EXPECT_EQ(named.options->gid, 0u);
  for (const char* bad : {"uid=-1", "uid=4294967295", "uid=no-such-user-xyz", "gid=", "umask=0800",
                          "umask=8", "umask=1777", "umask=abc"}) {
    EXPECT_FALSE(Parse({"asanafs", "-o", bad, "/mnt"}).options.has_value()) << bad;
  }
}

TEST(TokenCommandTest, StdoutTrimmedIsTheToken) {
  unsetenv("ASANA_TOKEN");
  Options o;
  o.token_command = "printf '  cmd-token-1\\n'; echo ignored-noise >&2";
  auto token = LoadToken(o);
  ASSERT_TRUE(token.has_value()) << token.error().message;
  EXPECT_EQ(*token, "cmd-token-1");
}

TEST(TokenCommandTest, FailureAndEmptyOutputAreClearErrorsWithoutTheOutput) {
  Options o;
  o.token_command = "echo leaked-secret; exit 3";
  auto failed = LoadToken(o);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().message,
            "token_command 'echo leaked-secret; exit 3' exited with status 3");
  o.token_command = "true";
  auto empty = LoadToken(o);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().message, "token_command 'true' printed no token");
  o.token_command = "printf 'a\\nb\\n'";
  auto two = LoadToken(o);
  ASSERT_FALSE(two.has_value());
  EXPECT_EQ(two.error().message.find("a\nb"), std::string::npos);
  o.token_command = "kill -9 $$";
  auto killed = LoadToken(o);
  ASSERT_FALSE(killed.has_value());
  EXPECT_EQ(killed.error().message, "token_command 'kill -9 $$' was killed by signal 9");
  o.token_command = "/no/such/program";
  auto missing = LoadToken(o);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message, "token_command '/no/such/program' exited with status 127");
}

TEST(TokenCommandTest, StdinIsNotTheTerminalAndLongOutputIsRefused) {
  Options o;
  o.token_command = "read x && echo \"$x\" || echo stdin-closed";
  auto token = LoadToken(o);
  ASSERT_TRUE(token.has_value()) << token.error().message;
  EXPECT_EQ(*token, "stdin-closed");
  o.token_command = "head -c 200000 /dev/zero | tr '\\0' a";
  auto long_output = LoadToken(o);
  ASSERT_FALSE(long_output.has_value());
  EXPECT_NE(long_output.error().message.find("more than 64 KiB"), std::string::npos);
}

TEST(TokenCommandTest, TokenFileAndCommandTogetherAreAUsageError) {
  EXPECT_FALSE(
      Parse({"asanafs", "-o", "token_file=/x,token_command=echo t", "/mnt"}).options.has_value());
}

// The config file: its options come first, so the command line overrides them.
struct ConfigParsed {
  Status applied;
  Parsed parsed;
};

ConfigParsed ParseWithConfig(const std::string& config, std::vector<std::string> words) {
  std::string path = WriteFile(config, 0600);
  std::vector<char*> argv;
  for (auto& w : words) {
    argv.push_back(w.data());
  }
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  ConfigParsed out;
  out.applied = ApplyConfigFile(path, &args);
  unlink(path.c_str());
  if (out.applied.has_value()) {
    out.parsed.options = ParseOptions(&args);
    for (int i = 0; i < args.argc; ++i) {
      out.parsed.rest.emplace_back(args.argv[i]);
    }
  }
  fuse_opt_free_args(&args);
  return out;
}

TEST(ConfigFileTest, OptionsComeFromTheFileAndTheCommandLineWins) {
  auto c = ParseWithConfig(
      "# asanafs config\n\n  dir_ttl=5\ntimeout=9\ntoken_command=pass show asana, work\n"
      "allow_other\n",
      {"asanafs", "-o", "timeout=3", "/mnt"});
  ASSERT_TRUE(c.applied.has_value()) << c.applied.error().message;
  ASSERT_TRUE(c.parsed.options.has_value()) << c.parsed.options.error().message;
  EXPECT_EQ(c.parsed.options->dir_ttl_s, 5);
  EXPECT_EQ(c.parsed.options->timeout_s, 3);
  EXPECT_EQ(c.parsed.options->token_command, "pass show asana, work");
  std::string rest;
  for (const auto& w : c.parsed.rest) {
    rest += w + " ";
  }
  EXPECT_NE(rest.find("allow_other"), std::string::npos) << rest;
  EXPECT_EQ(c.parsed.rest.back(), "/mnt");
}

TEST(ConfigFileTest, MissingFileIsNothingAndDashLinesAreRefused) {
  std::vector<std::string> words = {"asanafs", "/mnt"};
  std::vector<char*> argv;
  for (auto& w : words) {
    argv.push_back(w.data());
  }
  fuse_args args = FUSE_ARGS_INIT(2, argv.data());
  EXPECT_TRUE(ApplyConfigFile("/nonexistent/asanafs/config", &args).has_value());
  EXPECT_EQ(args.argc, 2);
  fuse_opt_free_args(&args);
  auto bad = ParseWithConfig("-o dir_ttl=5\n", {"asanafs", "/mnt"});
  ASSERT_FALSE(bad.applied.has_value());
  EXPECT_NE(bad.applied.error().message.find("line 1: write options without -o"), std::string::npos)
      << bad.applied.error().message;
}

TEST(ConfigFileTest, PathFollowsXdgConfigHome) {
  setenv("XDG_CONFIG_HOME", "/xdg", 1);
  EXPECT_EQ(ConfigFilePath(), "/xdg/asanafs/config");
  unsetenv("XDG_CONFIG_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(ConfigFilePath(), "/home/u/.config/asanafs/config");
}

TEST(HelpTest, ListsEveryOwnOption) {
  std::string help = HelpText("asanafs");
  for (const char* opt : {"token_file=", "api_url=", "cache_dir=", "dir_ttl=", "timeout=",
                          "log_level=", "redact", "token_command=", "uid=", "gid=", "umask="}) {
    EXPECT_NE(help.find(opt), std::string::npos) << opt;
  }
}

}  // namespace
}  // namespace asanafs::cli
