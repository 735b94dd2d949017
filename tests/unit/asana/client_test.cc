#include "asanafs/asana/client.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "asanafs/asana/json.h"
#include "asanafs/http/retry.h"
#include "fake_transport.h"

namespace asanafs::asana {
namespace {

using asanafs::testing::FakeReply;
using asanafs::testing::FakeTransport;
using asanafs::testing::JsonReply;
using asanafs::testing::ManualClock;
using asanafs::testing::RecordedRequest;
using asanafs::testing::TransportError;

constexpr char kApi[] = "http://127.0.0.1:4010/api/1.0";
constexpr char kToken[] = "0/secret-token";

ClientOptions Options() {
  ClientOptions o;
  o.api_url = std::string(kApi) + "/";  // a trailing slash must not double up
  o.token = kToken;
  return o;
}

FakeReply ErrorReply(int status, const std::string& message) {
  return JsonReply(status, R"({"errors":[{"message":")" + message + R"("}]})");
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() : client_(fake_, Options()) {}
  RecordedRequest Only() {
    auto reqs = fake_.requests();
    EXPECT_EQ(reqs.size(), 1u);
    return reqs.empty() ? RecordedRequest{} : reqs[0];
  }
  FakeTransport fake_;
  AsanaClient client_;
};

// --- pagination ---------------------------------------------------------------

TEST_F(ClientTest, FollowsNextPageAcrossThreePagesPassingOffsetsBackExactly) {
  // Offsets with characters that need encoding: they must come back byte-exact.
  const std::string off1 = "eyJ0eXAiOiJKV1Qi+/=";
  const std::string off2 = "page 2&limit=1";
  fake_.SetHandler([&](const RecordedRequest& r) {
    auto offset = r.Query("offset");
    if (!offset) {
      return JsonReply(200,
                       R"({"data":[{"gid":"1","name":"a"},{"gid":"2","name":"b"}],)"
                       R"("next_page":{"offset":"eyJ0eXAiOiJKV1Qi+/=","path":"/x","uri":"u"}})");
    }
    if (*offset == off1) {
      return JsonReply(200, R"({"data":[{"gid":"3","name":"c"}],)"
                            R"("next_page":{"offset":"page 2&limit=1"}})");
    }
    if (*offset == off2) {
      return JsonReply(200, R"({"data":[{"gid":"4","name":"d"}],"next_page":null})");
    }
    return ErrorReply(400, "unknown offset");
  });
  auto tasks = client_.ListTasks("1207");
  ASSERT_TRUE(tasks.has_value()) << tasks.error().message;
  ASSERT_EQ(tasks->size(), 4u);
  EXPECT_EQ((*tasks)[0].gid, "1");
  EXPECT_EQ((*tasks)[3].gid, "4");
  auto reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_FALSE(reqs[0].Query("offset").has_value());
  EXPECT_EQ(reqs[1].Query("offset"), off1);
  EXPECT_EQ(reqs[2].Query("offset"), off2);
  for (const auto& r : reqs) {
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.path, "/api/1.0/projects/1207/tasks");
    EXPECT_EQ(r.Query("limit"), "100");
    EXPECT_EQ(r.Query("opt_fields"), "name,created_at,modified_at,permalink_url");
    EXPECT_EQ(r.Header("Authorization"), std::string("Bearer ") + kToken);
    EXPECT_EQ(r.url.find("//projects"), std::string::npos) << r.url;
  }
}

TEST_F(ClientTest, RepeatedOffsetIsALoopingServer) {
  fake_.SetHandler([](const RecordedRequest&) {
    return JsonReply(200, R"({"data":[{"gid":"1"}],"next_page":{"offset":"same"}})");
  });
  auto r = client_.ListWorkspaces();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kBadResponse);
  EXPECT_EQ(fake_.requests().size(), 2u);
}

TEST_F(ClientTest, EndlessDistinctOffsetsStopAtMaxPages) {
  ClientOptions o = Options();
  o.max_pages = 5;
  AsanaClient client(fake_, o);
  int n = 0;
  fake_.SetHandler([&n](const RecordedRequest&) {
    return JsonReply(200,
                     R"({"data":[],"next_page":{"offset":"o)" + std::to_string(++n) + R"("}})");
  });
  auto r = client.ListProjects("9");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kBadResponse);
  EXPECT_EQ(fake_.requests().size(), 5u);
}

TEST_F(ClientTest, PageLimitIsClampedToAsanasRange) {
  ClientOptions o = Options();
  o.page_limit = 500;
  AsanaClient client(fake_, o);
  fake_.Push(JsonReply(200, R"({"data":[],"next_page":null})"));
  ASSERT_TRUE(client.ListWorkspaces().has_value());
  EXPECT_EQ(Only().Query("limit"), "100");
}

TEST_F(ClientTest, ErrorOnALaterPageFailsTheList) {
  fake_.Push(JsonReply(200, R"({"data":[{"gid":"1"}],"next_page":{"offset":"x"}})"));
  fake_.Push(ErrorReply(500, "Server Error"));
  auto r = client_.ListSubtasks("5");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

// --- opt_fields and paths ----------------------------------------------------

struct Endpoint {
  const char* name;
  std::function<Status(AsanaClient&)> call;
  const char* path;
  const char* opt_fields;
  const char* extra_key;
  const char* extra_value;
};

template <typename T>
Status Drop(const Result<T>& r) {
  return r.has_value() ? OkStatus() : Status(r.error());
}

TEST_F(ClientTest, EachCallSendsItsOptFieldsAndBearer) {
  const std::vector<Endpoint> table = {
      {"GetMe", [](AsanaClient& c) { return Drop(c.GetMe()); }, "/api/1.0/users/me", "name,email",
       nullptr, nullptr},
      {"ListWorkspaces", [](AsanaClient& c) { return Drop(c.ListWorkspaces()); },
       "/api/1.0/workspaces", "name", "limit", "100"},
      {"ListProjects", [](AsanaClient& c) { return Drop(c.ListProjects("11")); },
       "/api/1.0/workspaces/11/projects", "name,created_at,modified_at", "limit", "100"},
      {"ListTasks", [](AsanaClient& c) { return Drop(c.ListTasks("12")); },
       "/api/1.0/projects/12/tasks", "name,created_at,modified_at,permalink_url", "limit", "100"},
      {"ListSubtasks", [](AsanaClient& c) { return Drop(c.ListSubtasks("13")); },
       "/api/1.0/tasks/13/subtasks", "name,created_at,modified_at,permalink_url", "limit", "100"},
      {"ListSections", [](AsanaClient& c) { return Drop(c.ListSections("16")); },
       "/api/1.0/projects/16/sections", "name,created_at", "limit", "100"},
      {"ListSectionTasks", [](AsanaClient& c) { return Drop(c.ListSectionTasks("17")); },
       "/api/1.0/sections/17/tasks", "name,created_at,modified_at,permalink_url", "limit", "100"},
      {"ListAttachments", [](AsanaClient& c) { return Drop(c.ListAttachments("14")); },
       "/api/1.0/attachments", "name,resource_subtype,host,size,created_at,view_url", "parent",
       "14"},
      {"GetAttachment", [](AsanaClient& c) { return Drop(c.GetAttachment("15")); },
       "/api/1.0/attachments/15",
       "name,resource_subtype,host,size,created_at,download_url,view_url,parent", nullptr, nullptr},
  };
  for (const Endpoint& e : table) {
    FakeTransport fake;
    fake.SetHandler([](const RecordedRequest& r) {
      bool list = r.Query("limit").has_value();
      return JsonReply(200, list ? R"({"data":[{"gid":"1","name":"x"}],"next_page":null})"
                                 : R"({"data":{"gid":"1","name":"x"}})");
    });
    AsanaClient client(fake, Options());
    Status s = e.call(client);
    ASSERT_TRUE(s.has_value()) << e.name << ": " << s.error().message;
    auto reqs = fake.requests();
    ASSERT_EQ(reqs.size(), 1u) << e.name;
    EXPECT_EQ(reqs[0].method, "GET") << e.name;
    EXPECT_EQ(reqs[0].path, e.path) << e.name;
    EXPECT_EQ(reqs[0].Query("opt_fields"), e.opt_fields) << e.name;
    EXPECT_EQ(reqs[0].url.find("%2C"), std::string::npos) << e.name << " " << reqs[0].url;
    EXPECT_EQ(reqs[0].Header("Authorization"), std::string("Bearer ") + kToken) << e.name;
    EXPECT_EQ(reqs[0].timeout, std::chrono::milliseconds(30000)) << e.name;
    if (e.extra_key != nullptr) {
      EXPECT_EQ(reqs[0].Query(e.extra_key), e.extra_value) << e.name;
    }
  }
}

TEST_F(ClientTest, GidsAreEncodedAsOnePathSegment) {
  fake_.Push(JsonReply(200, R"({"data":[],"next_page":null})"));
  ASSERT_TRUE(client_.ListSubtasks("1/../2?x").has_value());
  auto r = Only();
  EXPECT_NE(r.url.find("/tasks/1%2F..%2F2%3Fx/subtasks?"), std::string::npos) << r.url;
  auto empty = client_.GetAttachment("");
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(fake_.requests().size(), 1u);
}

TEST_F(ClientTest, DecodesAttachmentListing) {
  fake_.Push(JsonReply(
      200, R"({"data":[{"gid":"1","name":"a.txt","resource_subtype":"asana","host":"asana",)"
           R"("size":12,"created_at":"2024-01-02T03:04:05.678Z","view_url":"https://v/1"},)"
           R"({"gid":"2","name":"Doc","resource_subtype":"gdrive","host":"gdrive",)"
           R"("view_url":"https://drive/2"}],"next_page":null})"));
  auto atts = client_.ListAttachments("7");
  ASSERT_TRUE(atts.has_value()) << atts.error().message;
  ASSERT_EQ(atts->size(), 2u);
  EXPECT_EQ((*atts)[0].size, 12u);
  EXPECT_TRUE((*atts)[0].IsAsanaHosted());
  EXPECT_FALSE((*atts)[1].IsAsanaHosted());
  EXPECT_FALSE((*atts)[1].size.has_value());
}

TEST_F(ClientTest, DecodesSectionsAcrossPagesAndRefusesOnesWithoutGid) {
  fake_.Push(JsonReply(200, R"({"data":[{"gid":"70","resource_type":"section","name":"Backlog",)"
                            R"("created_at":"2024-01-02T03:04:05.678Z"}],)"
                            R"("next_page":{"offset":"tok1","path":"/x","uri":"http://x"}})"));
  fake_.Push(JsonReply(200, R"({"data":[{"gid":"71","name":"Done"}],"next_page":null})"));
  auto sections = client_.ListSections("20");
  ASSERT_TRUE(sections.has_value()) << sections.error().message;
  ASSERT_EQ(sections->size(), 2u);
  EXPECT_EQ((*sections)[0].gid, "70");
  EXPECT_EQ((*sections)[0].name, "Backlog");
  ASSERT_TRUE((*sections)[0].created_at.has_value());
  EXPECT_EQ(FormatTimestamp(*(*sections)[0].created_at), "2024-01-02T03:04:05.678Z");
  EXPECT_EQ((*sections)[1].name, "Done");
  EXPECT_FALSE((*sections)[1].created_at.has_value());
  EXPECT_EQ(fake_.requests()[1].Query("offset"), "tok1");

  fake_.Push(JsonReply(200, R"({"data":[{"name":"no gid"}],"next_page":null})"));
  auto bad = client_.ListSections("20");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadResponse);

  fake_.Push(JsonReply(200, R"({"data":[{"gid":"30","name":"Design","modified_at":)"
                            R"("2024-02-03T04:05:06.000Z","permalink_url":"https://a/30"}],)"
                            R"("next_page":null})"));
  auto tasks = client_.ListSectionTasks("70");
  ASSERT_TRUE(tasks.has_value()) << tasks.error().message;
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_EQ((*tasks)[0].gid, "30");
  EXPECT_EQ((*tasks)[0].permalink_url, "https://a/30");
  fake_.Push(JsonReply(404, R"({"errors":[{"message":"section: Unknown object: 99"}]})"));
  auto gone = client_.ListSectionTasks("99");
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

TEST_F(ClientTest, MalformedSuccessReplyIsBadResponse) {
  fake_.Push(JsonReply(200, "<html>oops</html>"));
  auto r = client_.GetAttachment("5");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kBadResponse);
  EXPECT_EQ(r.error().message.rfind("GET /attachments/5: ", 0), 0u) << r.error().message;
}

// --- status classification -----------------------------------------------------

TEST(ClassifyHttpStatus, Table) {
  const std::vector<std::pair<int, ErrorCode>> table = {
      {400, ErrorCode::kInvalidArgument},  {401, ErrorCode::kUnauthenticated},
      {402, ErrorCode::kPermissionDenied}, {403, ErrorCode::kPermissionDenied},
      {404, ErrorCode::kNotFound},         {413, ErrorCode::kTooLarge},
      {429, ErrorCode::kRateLimited},      {500, ErrorCode::kUnavailable},
      {501, ErrorCode::kUnavailable},      {502, ErrorCode::kUnavailable},
      {503, ErrorCode::kUnavailable},      {504, ErrorCode::kUnavailable},
      {599, ErrorCode::kUnavailable},      {302, ErrorCode::kBadResponse},
      {405, ErrorCode::kBadResponse},      {409, ErrorCode::kBadResponse},
      {412, ErrorCode::kBadResponse},      {418, ErrorCode::kBadResponse},
      {451, ErrorCode::kBadResponse},      {600, ErrorCode::kBadResponse},
      {0, ErrorCode::kBadResponse},
  };
  for (const auto& [status, code] : table) {
    EXPECT_EQ(ClassifyHttpStatus(status), code) << status;
  }
}

TEST_F(ClientTest, ErrorsCarryStatusMessageAndPathWithoutQuery) {
  const std::vector<std::pair<int, ErrorCode>> table = {
      {404, ErrorCode::kNotFound},         {401, ErrorCode::kUnauthenticated},
      {403, ErrorCode::kPermissionDenied}, {402, ErrorCode::kPermissionDenied},
      {400, ErrorCode::kInvalidArgument},  {413, ErrorCode::kTooLarge},
      {503, ErrorCode::kUnavailable},      {418, ErrorCode::kBadResponse},
  };
  for (const auto& [status, code] : table) {
    FakeTransport fake;
    fake.Push(ErrorReply(status, "boom"));
    AsanaClient client(fake, Options());
    auto r = client.GetAttachment("15");
    ASSERT_FALSE(r.has_value()) << status;
    EXPECT_EQ(r.error().code, code) << status;
    EXPECT_EQ(r.error().http_status, status);
    EXPECT_EQ(r.error().message, "GET /attachments/15 → " + std::to_string(status) + ": boom");
  }
}

TEST_F(ClientTest, RateLimitCarriesRetryAfter) {
  FakeReply reply = ErrorReply(429, "You've made too many requests");
  reply.headers.emplace_back("Retry-After", "17");
  fake_.Push(reply);
  auto r = client_.ListWorkspaces();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(r.error().retry_after, std::chrono::seconds(17));
  EXPECT_EQ(r.error().message, "GET /workspaces → 429: You've made too many requests");
}

TEST_F(ClientTest, ErrorWithoutEnvelopeAndHostileMessage) {
  fake_.Push(JsonReply(502, "<html>Bad Gateway</html>"));
  auto a = client_.GetMe();
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().message, "GET /users/me → 502");
  fake_.Push(ErrorReply(400, R"(line1\nline2\r\u0007)"));
  auto b = client_.GetMe();
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().message.find('\n'), std::string::npos);
  EXPECT_EQ(b.error().message.find('\a'), std::string::npos);
}

TEST_F(ClientTest, TransportErrorsKeepTheirCodeAndGainContext) {
  fake_.Push(TransportError(ErrorCode::kTimeout, "curl error 28"));
  auto r = client_.ListTasks("3");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(r.error().http_status, 0);
  EXPECT_EQ(r.error().message, "GET /projects/3/tasks: curl error 28");
}

// --- downloads ----------------------------------------------------------------

constexpr char kContent[] = "0123456789abcdefghijklmnopqrstuvwxyz";  // 36 bytes
constexpr char kBlobUrl[] = "http://127.0.0.1:4010/_blobs/77?expires=9&sig=abc";

FakeReply Whole() { return FakeReply{200, {}, kContent, std::nullopt, 0, 5}; }

FakeReply Slice(uint64_t first, uint64_t last) {
  FakeReply r;
  r.status = 206;
  r.headers = {
      {"Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/36"}};
  r.body = std::string(kContent).substr(first, last - first + 1);
  return r;
}

TEST_F(ClientTest, DownloadSendsNoAuthorizationAndNoRangeForWholeFile) {
  fake_.Push(Whole());
  std::string got;
  auto n = client_.Download(kBlobUrl, 0, 0, [&](std::string_view b) {
    got.append(b);
    return true;
  });
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(*n, 36u);
  EXPECT_EQ(got, kContent);
  auto r = Only();
  EXPECT_EQ(r.url, kBlobUrl);
  EXPECT_FALSE(r.Header("Authorization").has_value());
  EXPECT_FALSE(r.range.has_value());
  EXPECT_TRUE(r.streamed);
  for (const auto& [k, v] : r.headers) {
    EXPECT_EQ(v.find(kToken), std::string::npos) << k;
  }
}

TEST_F(ClientTest, DownloadRangeWith206) {
  fake_.Push(Slice(10, 14));
  std::string got;
  auto n = client_.Download(kBlobUrl, 10, 5, [&](std::string_view b) {
    got.append(b);
    return true;
  });
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(got, "abcde");
  EXPECT_EQ(Only().range, std::make_pair(uint64_t{10}, uint64_t{14}));
}

TEST_F(ClientTest, Download200ToARangedRequestSkipsToOffset) {
  fake_.Push(Whole());
  std::string got;
  auto n = client_.Download(kBlobUrl, 10, 5, [&](std::string_view b) {
    got.append(b);
    return true;
  });
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(got, "abcde");

  fake_.Push(Whole());
  got.clear();
  auto tail = client_.Download(kBlobUrl, 30, 0, [&](std::string_view b) {
    got.append(b);
    return true;
  });
  ASSERT_TRUE(tail.has_value());
  EXPECT_EQ(got, "uvwxyz");
  EXPECT_EQ(fake_.requests()[1].range, std::make_pair(uint64_t{30}, http::kRangeToEnd));
}

TEST_F(ClientTest, DownloadErrors) {
  fake_.Push(JsonReply(403, "<Error><Code>AccessDenied</Code></Error>"));
  auto expired = client_.Download(kBlobUrl, 0, 0, [](std::string_view) { return true; });
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(expired.error().http_status, 403);
  EXPECT_EQ(expired.error().message, "GET /_blobs/77 → 403");

  fake_.Push(Slice(3, 7));  // asked for 10..
  auto wrong = client_.Download(kBlobUrl, 10, 5, [](std::string_view) { return true; });
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, ErrorCode::kBadResponse);

  fake_.Push(JsonReply(416, ""));
  auto past_end = client_.Download(kBlobUrl, 36, 10, [](std::string_view) { return true; });
  ASSERT_TRUE(past_end.has_value());
  EXPECT_EQ(*past_end, 0u);

  fake_.Push(Whole());
  auto refused = client_.Download(kBlobUrl, 0, 0, [](std::string_view) { return false; });
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kIo);
}

TEST_F(ClientTest, DownloadThroughRetriesResumesWithoutDuplicates) {
  ManualClock clock;
  http::RetryOptions ro;
  ro.jitter_seed = 1;
  http::RetryingTransport retrying(fake_, clock, ro);
  AsanaClient client(retrying, Options());
  FakeReply cut = Whole();
  cut.deliver_before_error = 17;
  cut.error = MakeError(ErrorCode::kUnavailable, "reset");
  fake_.Push(cut);
  fake_.Push(Slice(17, 35));
  std::string got;
  auto n = client.Download(kBlobUrl, 0, 0, [&](std::string_view b) {
    got.append(b);
    return true;
  });
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(got, kContent);
  EXPECT_EQ(*n, 36u);
}

// --- writes -------------------------------------------------------------------

class TempFile {
 public:
  explicit TempFile(size_t size) {
    char path[] = "/tmp/asanafs-client-test-XXXXXX";
    int fd = ::mkstemp(path);
    path_ = path;
    std::string data(size, 'x');
    if (fd >= 0) {
      (void)!::write(fd, data.data(), data.size());
      ::close(fd);
    }
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_F(ClientTest, UploadIsAMultipartPostWithEncodedFileName) {
  TempFile file(64);
  fake_.Push(JsonReply(200, R"({"data":{"gid":"99","name":"résumé \"1\".pdf","host":"asana",)"
                            R"("resource_subtype":"asana","size":64,"parent":{"gid":"5"}}})"));
  auto att = client_.UploadAttachment("5", "résumé \"1\"\r\n.pdf", file.path());
  ASSERT_TRUE(att.has_value()) << att.error().message;
  EXPECT_EQ(att->gid, "99");
  EXPECT_EQ(att->size, 64u);
  EXPECT_EQ(att->parent_gid, "5");
  auto r = Only();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/1.0/attachments");
  EXPECT_EQ(r.Query("opt_fields"), "name,resource_subtype,host,size,created_at,view_url,parent");
  EXPECT_FALSE(r.idempotent);
  EXPECT_EQ(r.timeout, std::chrono::minutes(30));
  EXPECT_EQ(r.Header("Authorization"), std::string("Bearer ") + kToken);
  ASSERT_EQ(r.multipart.size(), 2u);
  EXPECT_EQ(r.multipart[0].name, "parent");
  EXPECT_EQ(r.multipart[0].value, "5");
  EXPECT_EQ(r.multipart[1].name, "file");
  EXPECT_EQ(r.multipart[1].file_path, file.path());
  EXPECT_EQ(r.multipart[1].filename, "r%C3%A9sum%C3%A9%20%221%22%0D%0A.pdf");
  EXPECT_EQ(r.multipart[1].content_type, "application/octet-stream");
}

TEST_F(ClientTest, UploadRefusesOversizeFilesBeforeSending) {
  EXPECT_EQ(ClientOptions{}.max_upload_bytes, 100u * 1024 * 1024);
  ClientOptions o = Options();
  o.max_upload_bytes = 10;
  AsanaClient client(fake_, o);
  TempFile exact(10);
  TempFile over(11);
  fake_.Push(JsonReply(200, R"({"data":{"gid":"1"}})"));
  EXPECT_TRUE(client.UploadAttachment("5", "a", exact.path()).has_value());
  auto r = client.UploadAttachment("5", "b", over.path());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
  EXPECT_EQ(fake_.requests().size(), 1u);

  auto missing = client.UploadAttachment("5", "c", "/nonexistent/asanafs/file");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kIo);
  EXPECT_EQ(fake_.requests().size(), 1u);
}

TEST_F(ClientTest, UploadOf413IsTooLarge) {
  TempFile file(4);
  fake_.Push(ErrorReply(413, "File too large"));
  auto r = client_.UploadAttachment("5", "a", file.path());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
}

rapidjson::Document ParseBody(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  EXPECT_FALSE(doc.HasParseError()) << body;
  return doc;
}

TEST_F(ClientTest, CreateTaskPostsNameAndProject) {
  const std::string name = "Quarterly \"plan\"\nv2";
  fake_.Push(JsonReply(201, R"({"data":{"gid":"300","name":"Quarterly \"plan\"\nv2",)"
                            R"("created_at":"2024-01-02T03:04:05Z"}})"));
  auto t = client_.CreateTask("12", name);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->gid, "300");
  EXPECT_EQ(t->name, name);
  auto r = Only();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/1.0/tasks");
  EXPECT_FALSE(r.idempotent);
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(r.Query("opt_fields"), "name,created_at,modified_at,permalink_url");
  auto doc = ParseBody(r.body);
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("data"));
  EXPECT_EQ(std::string(doc["data"]["name"].GetString()), name);
  ASSERT_TRUE(doc["data"]["projects"].IsArray());
  EXPECT_STREQ(doc["data"]["projects"][0].GetString(), "12");
}

TEST_F(ClientTest, CreateSubtaskPostsToTheParent) {
  fake_.Push(JsonReply(201, R"({"data":{"gid":"301","name":"child"}})"));
  auto t = client_.CreateSubtask("300", "child");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  auto r = Only();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/1.0/tasks/300/subtasks");
  EXPECT_FALSE(r.idempotent);
  auto doc = ParseBody(r.body);
  EXPECT_STREQ(doc["data"]["name"].GetString(), "child");
  EXPECT_FALSE(doc["data"].HasMember("projects"));
}

TEST_F(ClientTest, DeleteAttachment) {
  fake_.Push(JsonReply(200, R"({"data":{}})"));
  EXPECT_TRUE(client_.DeleteAttachment("77").has_value());
  auto r = Only();
  EXPECT_EQ(r.method, "DELETE");
  EXPECT_EQ(r.path, "/api/1.0/attachments/77");
  EXPECT_EQ(r.Header("Authorization"), std::string("Bearer ") + kToken);
  fake_.Push(ErrorReply(404, "Unknown object"));
  auto gone = client_.DeleteAttachment("77");
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace asanafs::asana

namespace asanafs::asana {
namespace {

// --- events -------------------------------------------------------------------

class EventsTest : public ::testing::Test {
 protected:
  EventsTest() : client_(fake_, Options()) {}
  FakeTransport fake_;
  AsanaClient client_;
};

TEST_F(EventsTest, FirstCallWithoutTokenGets412AndAFreshToken) {
  fake_.Push(
      JsonReply(412, R"({"errors":[{"message":"Sync token invalid or too old."}],"sync":"s1"})"));
  auto page = client_.GetEvents("77", "");
  ASSERT_TRUE(page.has_value()) << page.error().message;
  EXPECT_TRUE(page->expired);
  EXPECT_EQ(page->sync, "s1");
  EXPECT_TRUE(page->events.empty());
  auto reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Query("resource"), std::optional<std::string>("77"));
  EXPECT_EQ(reqs[0].Query("sync"), std::nullopt);
}

TEST_F(EventsTest, EventsAreDecodedAndTheTokenIsPassedBack) {
  fake_.Push(JsonReply(200, R"({"data":[
      {"action":"added","resource":{"gid":"9","resource_type":"story"},
       "parent":{"gid":"5","resource_type":"task"}},
      {"action":"deleted","resource":{"gid":"8","resource_type":"attachment"},"parent":null},
      {"action":"changed","resource":"not an object"}],
    "sync":"s2","has_more":true})"));
  auto page = client_.GetEvents("77", "s1");
  ASSERT_TRUE(page.has_value()) << page.error().message;
  EXPECT_FALSE(page->expired);
  EXPECT_TRUE(page->has_more);
  EXPECT_EQ(page->sync, "s2");
  ASSERT_EQ(page->events.size(), 2u);  // the malformed one is skipped
  EXPECT_EQ(page->events[0].resource.gid, "9");
  ASSERT_TRUE(page->events[0].parent.has_value());
  EXPECT_EQ(page->events[0].parent->gid, "5");
  EXPECT_EQ(page->events[1].action, "deleted");
  EXPECT_FALSE(page->events[1].parent.has_value());
  EXPECT_EQ(fake_.requests()[0].Query("sync"), std::optional<std::string>("s1"));
}

TEST_F(EventsTest, A412WithoutTokenOrAReplyWithoutSyncIsABadResponse) {
  fake_.Push(ErrorReply(412, "no token here"));
  auto r = client_.GetEvents("77", "old");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kBadResponse);
  fake_.Push(JsonReply(200, R"({"data":[]})"));
  r = client_.GetEvents("77", "old");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kBadResponse);
}

}  // namespace
}  // namespace asanafs::asana
