#include "asanafs/asana/json.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

namespace asanafs::asana {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TimePoint At(int64_t unix_ms) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(milliseconds(unix_ms)));
}

void ExpectBad(const Status& s, const std::string& what) {
  ASSERT_FALSE(s.has_value()) << what;
  EXPECT_EQ(s.error().code, ErrorCode::kBadResponse) << what;
}

template <typename T>
Status AsStatus(const Result<T>& r) {
  return r.has_value() ? OkStatus() : Status(r.error());
}

TEST(Timestamps, WithAndWithoutFraction) {
  auto a = ParseTimestamp("2024-01-02T03:04:05.678Z");
  ASSERT_TRUE(a.has_value()) << a.error().message;
  EXPECT_EQ(*a, At(1704164645678));
  auto b = ParseTimestamp("2024-01-02T03:04:05Z");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(*b, At(1704164645000));
  auto c = ParseTimestamp("2012-02-22T02:06:58.147Z");  // the spec's example
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, At(1329876418147));
  auto d = ParseTimestamp("1970-01-01T00:00:00Z");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, At(0));
}

TEST(Timestamps, FractionDigitsAndOffsets) {
  EXPECT_EQ(*ParseTimestamp("2024-01-02T03:04:05.6Z"), At(1704164645600));
  auto nine = ParseTimestamp("2024-01-02T03:04:05.123456789Z");
  ASSERT_TRUE(nine.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::microseconds>(nine->time_since_epoch()).count(),
            1704164645123456);
  EXPECT_EQ(*ParseTimestamp("2024-01-02T05:04:05+02:00"), At(1704164645000));
  EXPECT_EQ(*ParseTimestamp("2024-01-01T22:34:05-04:30"), At(1704164645000));
  EXPECT_EQ(*ParseTimestamp("2024-02-29T00:00:00Z"), At(1709164800000));
  EXPECT_EQ(*ParseTimestamp("1969-12-31T23:59:59Z"), At(-1000));
}

TEST(Timestamps, RejectsMalformed) {
  for (const char* bad :
       {"", "yesterday", "2024-01-02", "2024-01-02T03:04:05", "2024-01-02 03:04:05Z",
        "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-32T00:00:00Z",
        "2024-01-02T24:00:00Z", "2024-01-02T03:60:00Z", "2024-01-02T03:04:05.Z",
        "2024-01-02T03:04:05ZZ", "2024-01-02T03:04:05+0200", "24-01-02T03:04:05Z",
        "2024-01-02T03:04:05.678Z trailing", "+2024-01-02T03:04:05Z"}) {
    ExpectBad(AsStatus(ParseTimestamp(bad)), bad);
  }
}

// Fuzz finding F1: a year the nanosecond time_point cannot hold is a bad
// reply, not a signed overflow.
TEST(Timestamps, RejectsYearsOutsideTimePointRange) {
  for (const char* bad : {"5088-01-02T03:07:08Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
                          "1600-01-01T00:00:00Z", "2263-01-01T00:00:00Z"}) {
    ExpectBad(AsStatus(ParseTimestamp(bad)), bad);
  }
  EXPECT_TRUE(ParseTimestamp("2261-12-31T23:59:59.999Z").has_value());
  EXPECT_TRUE(ParseTimestamp("1678-01-01T00:00:00Z").has_value());
  ExpectBad(AsStatus(DecodeTask(R"({"data":{"gid":"1","created_at":"5088-01-02T03:07:08Z"}})")),
            "task with year 5088");
}

TEST(Timestamps, FormatRoundTrips) {
  EXPECT_EQ(FormatTimestamp(At(1704164645678)), "2024-01-02T03:04:05.678Z");
  EXPECT_EQ(FormatTimestamp(At(-1)), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(*ParseTimestamp(FormatTimestamp(At(1329876418147))), At(1329876418147));
}

TEST(DecodeList, WorkspacesWithNextPage) {
  auto page = DecodeWorkspacePage(
      R"({"data":[{"gid":"1","name":"Acme","resource_type":"workspace"},{"gid":"2","name":null}],)"
      R"("next_page":{"offset":"eyJ0=+/","path":"/workspaces?offset=x","uri":"https://h/x"}})");
  ASSERT_TRUE(page.has_value()) << page.error().message;
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].gid, "1");
  EXPECT_EQ(page->items[0].name, "Acme");
  EXPECT_EQ(page->items[1].name, "");
  EXPECT_EQ(page->next_offset, "eyJ0=+/");
}

TEST(DecodeList, NullOrMissingNextPageEndsTheList) {
  auto a = DecodeProjectPage(R"({"data":[],"next_page":null})");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->items.empty());
  EXPECT_FALSE(a->next_offset.has_value());
  auto b = DecodeProjectPage(R"({"data":[{"gid":"5"}]})");
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(b->next_offset.has_value());
  EXPECT_EQ(b->items[0].name, "");
  EXPECT_FALSE(b->items[0].created_at.has_value());
}

TEST(DecodeList, ProjectsAndTasksCarryTimes) {
  auto p =
      DecodeProjectPage(R"({"data":[{"gid":"7","name":"P","created_at":"2024-01-02T03:04:05.678Z",)"
                        R"("modified_at":null}],"next_page":null})");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->items[0].created_at, At(1704164645678));
  EXPECT_FALSE(p->items[0].modified_at.has_value());
  auto t = DecodeTaskPage(
      R"({"data":[{"gid":"8","name":"T","created_at":"2024-01-02T03:04:05Z",)"
      R"("modified_at":"2024-01-03T00:00:00Z","permalink_url":"https://app.asana.com/0/1/8",)"
      R"("resource_subtype":"default_task","unknown_field":{"deep":[1,2,3]}}]})");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->items[0].modified_at, At(1704240000000));
  EXPECT_EQ(t->items[0].permalink_url, "https://app.asana.com/0/1/8");
}

TEST(DecodeAttachment, FullRecord) {
  auto a = DecodeAttachment(
      R"({"data":{"gid":"42","resource_type":"attachment","name":"r\u00e9sum\u00e9.pdf",)"
      R"("resource_subtype":"asana","host":"asana","size":1048576,)"
      R"("created_at":"2024-01-02T03:04:05.678Z","download_url":"https://s3/x?sig=1",)"
      R"("view_url":"https://app/v","parent":{"gid":"9","name":"Task","resource_type":"task"}}})");
  ASSERT_TRUE(a.has_value()) << a.error().message;
  EXPECT_EQ(a->gid, "42");
  EXPECT_EQ(a->name, "résumé.pdf");
  EXPECT_EQ(a->host, "asana");
  EXPECT_EQ(a->size, 1048576u);
  EXPECT_EQ(a->created_at, At(1704164645678));
  EXPECT_EQ(a->download_url, "https://s3/x?sig=1");
  EXPECT_EQ(a->view_url, "https://app/v");
  EXPECT_EQ(a->parent_gid, "9");
  EXPECT_TRUE(a->IsAsanaHosted());
}

TEST(DecodeAttachment, ExternalHostNullsAndSubtypeFallback) {
  auto a = DecodeAttachment(
      R"({"data":{"gid":"43","name":"Doc","resource_subtype":"gdrive","download_url":null,)"
      R"("view_url":"https://drive.google.com/file/d/x/view","parent":null}})");
  ASSERT_TRUE(a.has_value()) << a.error().message;
  EXPECT_EQ(a->host, "gdrive");
  EXPECT_FALSE(a->size.has_value());
  EXPECT_EQ(a->download_url, "");
  EXPECT_EQ(a->parent_gid, "");
  EXPECT_FALSE(a->IsAsanaHosted());
}

TEST(DecodeAttachment, NamesKeepEscapesAndNul) {
  auto a = DecodeAttachment(R"({"data":{"gid":"1","name":"a\u0000b\n\"c\"/d"}})");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->name, std::string("a\0b\n\"c\"/d", 9));
}

TEST(DecodeAttachment, SizeLimits) {
  auto max = DecodeAttachment(R"({"data":{"gid":"1","size":18446744073709551615}})");
  ASSERT_TRUE(max.has_value());
  EXPECT_EQ(max->size, UINT64_MAX);
  for (const char* size : {"18446744073709551616", "1e30", "-1", "1.5", "12.0", "\"12\"", "true",
                           "{}", "[]", "1e400"}) {
    ExpectBad(
        AsStatus(DecodeAttachment(std::string(R"({"data":{"gid":"1","size":)") + size + "}}")),
        size);
  }
}

TEST(Decode, WrongShapesAreBadResponses) {
  const char* bad_lists[] = {
      "",
      "not json",
      "[]",
      "null",
      R"({"data":{}})",
      R"({"data":"x"})",
      R"({"errors":[{"message":"no"}]})",
      R"({"data":[1]})",
      R"({"data":[null]})",
      R"({"data":[{"name":"no gid"}]})",
      R"({"data":[{"gid":12345}]})",
      R"({"data":[{"gid":""}]})",
      R"({"data":[{"gid":"1","name":5}]})",
      R"({"data":[{"gid":"1","created_at":12}]})",
      R"({"data":[{"gid":"1","created_at":"last tuesday"}]})",
      R"({"data":[{"gid":"1"}],"next_page":"abc"})",
      R"({"data":[{"gid":"1"}],"next_page":{}})",
      R"({"data":[{"gid":"1"}],"next_page":{"offset":7}})",
      R"({"data":[{"gid":"1"}],"next_page":{"offset":""}})",
      R"({"data":[{"gid":"1"}]} trailing)",
      R"({"data":[{"gid":"1"})",
  };
  for (const char* body : bad_lists) {
    ExpectBad(AsStatus(DecodeTaskPage(body)), body);
  }
  ExpectBad(AsStatus(DecodeAttachment(R"({"data":[]})")), "array for single");
  ExpectBad(AsStatus(DecodeAttachment(R"({"data":null})")), "null data");
  ExpectBad(AsStatus(DecodeAttachment(R"({"data":{"gid":"1","parent":"9"}})")), "parent string");
  ExpectBad(AsStatus(DecodeAttachment(R"({"data":{"gid":"1","parent":{"gid":9}}})")), "parent gid");
  ExpectBad(AsStatus(DecodeUser(R"({"data":{"gid":"1","email":["x"]}})")), "email array");
}

TEST(Decode, DeepNestingDoesNotCrash) {
  std::string deep =
      R"({"data":[{"gid":"1","x":)" + std::string(200000, '[') + std::string(200000, ']') + "}]}";
  auto ok = DecodeTaskPage(deep);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->items.size(), 1u);
  ExpectBad(AsStatus(DecodeTaskPage(std::string(300000, '['))), "unterminated");
}

TEST(Decode, UserAndSingles) {
  auto u = DecodeUser(R"({"data":{"gid":"7","name":"Ada","email":"ada@example.com"}})");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->email, "ada@example.com");
  auto t = DecodeTask(R"({"data":{"gid":"8","name":"New task","permalink_url":null}})");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->name, "New task");
  EXPECT_EQ(t->permalink_url, "");
  auto w = DecodeWorkspace(R"({"data":{"gid":"9","name":"W"}})");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->name, "W");
}

TEST(DecodeErrorMessage, FirstMessageOrNothing) {
  EXPECT_EQ(DecodeErrorMessage(R"({"errors":[{"message":"Not Authorized"},{"message":"2"}]})"),
            "Not Authorized");
  EXPECT_EQ(DecodeErrorMessage(
                R"({"errors":[{"message":"Server Error","phrase":"6 sad squid snuggle softly"}]})"),
            "Server Error");
  EXPECT_EQ(DecodeErrorMessage(R"({"errors":[]})"), std::nullopt);
  EXPECT_EQ(DecodeErrorMessage(R"({"errors":[{"help":"x"}]})"), std::nullopt);
  EXPECT_EQ(DecodeErrorMessage(R"({"errors":"boom"})"), std::nullopt);
  EXPECT_EQ(DecodeErrorMessage("<html>502 Bad Gateway</html>"), std::nullopt);
  EXPECT_EQ(DecodeErrorMessage(""), std::nullopt);
}

std::string DataString(const std::string& json, const char* key) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  EXPECT_FALSE(doc.HasParseError()) << json;
  const auto& v = doc["data"][key];
  return std::string(v.GetString(), v.GetStringLength());
}

TEST(Encode, NamesAreEscaped) {
  static const char kName[] = "a \"quoted\" \\ name\nwith\ttabs\x01 and NUL\0 é ∕";
  const std::string name(kName, sizeof kName - 1);
  const std::string task = EncodeCreateTask(name, "1207");
  EXPECT_EQ(DataString(task, "name"), name);
  rapidjson::Document doc;
  doc.Parse(task.data(), task.size());
  ASSERT_TRUE(doc["data"]["projects"].IsArray());
  ASSERT_EQ(doc["data"]["projects"].Size(), 1u);
  EXPECT_STREQ(doc["data"]["projects"][0].GetString(), "1207");
  EXPECT_EQ(doc.MemberCount(), 1u);

  const std::string sub = EncodeCreateSubtask(name);
  EXPECT_EQ(DataString(sub, "name"), name);
  EXPECT_EQ(EncodeCreateSubtask("x"), R"({"data":{"name":"x"}})");
  EXPECT_EQ(EncodeCreateTask("x", "1"), R"({"data":{"name":"x","projects":["1"]}})");
}

}  // namespace
}  // namespace asanafs::asana
