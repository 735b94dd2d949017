// Tests of the command line: asanafs's -o options, token sources, cache dir.
#include "asanafs/cli/options.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
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
  auto p = Parse({"asanafs", "-f", "-o", "api_url=http://127.0.0.1:9/api/1.0,ro,dir_ttl=5",
                  "-o", "timeout=7,log_level=debug,redact,cache_dir=/tmp/c", "/mnt"});
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

TEST(HelpTest, ListsEveryOwnOption) {
  std::string help = HelpText("asanafs");
  for (const char* opt : {"token_file=", "api_url=", "cache_dir=", "dir_ttl=", "timeout=",
                          "log_level=", "redact"}) {
    EXPECT_NE(help.find(opt), std::string::npos) << opt;
  }
}

}  // namespace
}  // namespace asanafs::cli
