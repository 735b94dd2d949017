// Tests of util: Result propagation and the log line's safety properties.
#include <gtest/gtest.h>

#include <sstream>

#include "asanafs/util/log.h"
#include "asanafs/util/result.h"

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
