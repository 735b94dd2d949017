// Tests of util: Result propagation and the log line's safety properties.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <string>

#include "asanafs/util/block_writer.h"
#include "asanafs/util/log.h"
#include "asanafs/util/result.h"
#include "asanafs/util/unique_fd.h"

namespace asanafs {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "odd");
  }
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x));
  return OkStatus();
}

TEST(ResultTest, PropagatesValuesAndErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message, "odd");
  EXPECT_TRUE(CheckEven(4).has_value());
  EXPECT_FALSE(CheckEven(5).has_value());
}

TEST(ResultTest, ErrorCodeNamesAreDistinct) {
  EXPECT_STREQ(ErrorCodeName(ErrorCode::kNotFound), "not_found");
  EXPECT_STREQ(ErrorCodeName(ErrorCode::kTimeout), "timeout");
  EXPECT_STRNE(ErrorCodeName(ErrorCode::kIo), ErrorCodeName(ErrorCode::kInternal));
}

TEST(LogTest, RedactedKeepsARecordOnOneLine) {
  std::ostringstream os;
  os << Redacted{"evil\nname\r\x01"};
  EXPECT_EQ(os.str(), "\"evil\\nname??\"");
  SetRedactNames(true);
  std::ostringstream hidden;
  hidden << Redacted{"secret plan.pdf"};
  SetRedactNames(false);
  EXPECT_EQ(hidden.str(), "(redacted)");
}

TEST(LogTest, ParsesLevels) {
  LogLevel level;
  ASSERT_TRUE(ParseLogLevel("warning", &level));
  EXPECT_EQ(level, LogLevel::kWarn);
  ASSERT_TRUE(ParseLogLevel("debug", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_FALSE(ParseLogLevel("loud", &level));
}

TEST(LogTest, RecordsBelowTheLevelAreNotEvaluated) {
  SetLogLevel(LogLevel::kWarn);
  int evaluated = 0;
  auto touch = [&] { return ++evaluated; };
  LOG(DEBUG) << touch();
  EXPECT_EQ(evaluated, 0);
  SetLogLevel(LogLevel::kInfo);
}

}  // namespace
}  // namespace asanafs

namespace asanafs {
namespace {

class BlockWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/asanafs-blockwriter-XXXXXX";
    fd_.Reset(::mkstemp(tmpl));
    ASSERT_TRUE(fd_.valid());
    path_ = tmpl;
  }
  void TearDown() override { ::unlink(path_.c_str()); }
  std::string Contents() {
    std::string all(static_cast<size_t>(::lseek(fd_.get(), 0, SEEK_END)), '\0');
    EXPECT_EQ(::pread(fd_.get(), all.data(), all.size(), 0), static_cast<ssize_t>(all.size()));
    return all;
  }
  UniqueFd fd_;
  std::string path_;
};

TEST_F(BlockWriterTest, GathersPiecesIntoWholeBlocksAtTheOffset) {
  BlockWriter out(fd_.get(), 3, 8);
  ASSERT_TRUE(out.Append("abc").has_value());
  ASSERT_TRUE(out.Append("defg").has_value());
  EXPECT_EQ(Contents(), "");  // 7 bytes: no block is full yet
  EXPECT_EQ(out.written_end(), 3u);
  EXPECT_EQ(out.appended_end(), 10u);
  ASSERT_TRUE(out.Append("hijklmnopqrstuvwxyz").has_value());  // fills three blocks
  EXPECT_EQ(Contents(), std::string(3, '\0') + "abcdefghijklmnopqrstuvwx");
  EXPECT_EQ(out.written_end(), 27u);
  EXPECT_EQ(out.appended_end(), 29u);
  ASSERT_TRUE(out.Flush().has_value());
  EXPECT_EQ(Contents(), std::string(3, '\0') + "abcdefghijklmnopqrstuvwxyz");
  EXPECT_EQ(out.written_end(), 29u);
  ASSERT_TRUE(out.Flush().has_value());  // nothing left: no-op
  EXPECT_EQ(out.written_end(), 29u);
}

TEST_F(BlockWriterTest, AFailedWriteKeepsItsBytesAndCarriesErrno) {
  UniqueFd read_only(::open(path_.c_str(), O_RDONLY));
  ASSERT_TRUE(read_only.valid());
  BlockWriter out(read_only.get(), 0, 4);
  auto failed = out.Append("abcdef");
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kIo);
  EXPECT_EQ(failed.error().sys_errno, EBADF);
  EXPECT_EQ(out.written_end(), 0u);
  EXPECT_EQ(Contents(), "");
}

}  // namespace
}  // namespace asanafs
