#include "asanafs/asana/client.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>
#include <set>

#include "asanafs/asana/json.h"
#include "asanafs/http/retry.h"
#include "asanafs/http/url.h"

namespace asanafs::asana {
namespace {

// opt_fields per operation: what the filesystem reads, each value checked
// against the operation's enum in asana_oas.yaml (Prism rejects others).
constexpr char kUserFields[] = "name,email";                      // getUser
constexpr char kWorkspaceFields[] = "name";                       // getWorkspaces
constexpr char kProjectFields[] = "name,created_at,modified_at";  // getProjectsForWorkspace
constexpr char kTaskFields[] =
    "name,created_at,modified_at,permalink_url";      // tasks, subtasks, creates
constexpr char kSectionFields[] = "name,created_at";  // getSectionsForProject
constexpr char kAttachmentListFields[] =
    "name,resource_subtype,host,size,created_at,view_url";  // getAttachmentsForObject
constexpr char kAttachmentFields[] =
    "name,resource_subtype,host,size,created_at,download_url,view_url,parent";  // getAttachment
constexpr char kUploadFields[] =
    "name,resource_subtype,host,size,created_at,view_url,parent";  // createAttachmentForObject

// Percent-encodes a query value, keeping ',' (a sub-delimiter with no
// meaning in a query value) so opt_fields lists stay readable.
std::string EncodeQueryValue(std::string_view v) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t comma = v.find(',', start);
    out += http::PercentEncode(v.substr(start, comma - start));
    if (comma == std::string_view::npos) {
      break;
    }
    out += ',';
    start = comma + 1;
  }
  return out;
}

// A server-supplied message, made safe for one log line.
std::string CleanMessage(std::string_view text) {
  std::string out(text.substr(0, 300));
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      c = ' ';
    }
  }
  if (text.size() > 300) {
    out += "…";
  }
  return out;
}

Result<std::string> Segment(const std::string& gid, const char* what) {
  if (gid.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("empty ") + what + " gid");
  }
  return http::PercentEncode(gid);
}

// Re-labels a transport or decoding error with the call it belongs to.
Error WithContext(std::string_view method, std::string_view path, Error e) {
  e.message = std::string(method) + " " + std::string(path) + ": " + e.message;
  return e;
}

bool ParseContentRangeStart(const std::string& v, uint64_t* first) {
  if (v.compare(0, 6, "bytes ") != 0) {
    return false;
  }
  const char* begin = v.data() + 6;
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(begin, end, *first);
  return ec == std::errc() && ptr != begin && ptr < end && *ptr == '-';
}

}  // namespace

ErrorCode ClassifyHttpStatus(int status) {
  switch (status) {
    case 400:
      return ErrorCode::kInvalidArgument;
    case 401:
      return ErrorCode::kUnauthenticated;
    case 402:
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 413:
      return ErrorCode::kTooLarge;
    case 429:
      return ErrorCode::kRateLimited;
    default:
      break;
  }
  if (status >= 500 && status <= 599) {
    return ErrorCode::kUnavailable;
  }
  return ErrorCode::kBadResponse;
}

Error HttpError(std::string_view method, std::string_view path, const http::HttpResponse& resp) {
  std::string message =
      std::string(method) + " " + std::string(path) + " → " + std::to_string(resp.status);
  if (auto server_message = DecodeErrorMessage(resp.body)) {
    message += ": " + CleanMessage(*server_message);
  }
  Error e = MakeError(ClassifyHttpStatus(resp.status), std::move(message), resp.status);
  if (resp.status == 429) {
    if (auto ra = http::RetryingTransport::ParseRetryAfter(resp.Header("Retry-After"))) {
      e.retry_after = *ra;
    }
  }
  return e;
}

AsanaClient::AsanaClient(http::HttpTransport& transport, ClientOptions options)
    : transport_(transport), options_(std::move(options)) {
  while (!options_.api_url.empty() && options_.api_url.back() == '/') {
    options_.api_url.pop_back();
  }
  options_.page_limit = std::clamp(options_.page_limit, 1, 100);
}

std::string AsanaClient::Url(const std::string& path, const Query& query) const {
  std::string url = options_.api_url + path;
  char sep = '?';
  for (const auto& [key, value] : query) {
    url += sep;
    url += key;
    url += '=';
    url += EncodeQueryValue(value);
    sep = '&';
  }
  return url;
}

Result<http::HttpResponse> AsanaClient::Call(const std::string& method, const std::string& path,
                                             const Query& query, http::HttpRequest req,
                                             int also_ok) {
  req.method = method;
  req.url = Url(path, query);
  req.headers.emplace_back("Authorization", "Bearer " + options_.token);
  req.headers.emplace_back("Accept", "application/json");
  // A multipart upload may move 100 MB; everything else is a small JSON call.
  req.timeout = req.multipart.empty() ? options_.request_timeout : options_.transfer_timeout;
  // An upload may take long, but one that stalls fails within the deadline.
  req.stall_timeout = options_.request_timeout;
  req.connect_timeout = options_.connect_timeout;
  auto resp = transport_.Send(req);
  if (!resp.has_value()) {
    return WithContext(method, path, resp.error());
  }
  if ((resp->status < 200 || resp->status > 299) && resp->status != also_ok) {
    return HttpError(method, path, *resp);
  }
  return resp;
}

template <typename T, typename Decode>
Result<std::vector<T>> AsanaClient::ListAll(const std::string& path, Query query, Decode decode) {
  query.emplace_back("limit", std::to_string(options_.page_limit));
  std::vector<T> all;
  std::set<std::string> seen_offsets;
  std::string offset;
  for (int pages = 1;; ++pages) {
    Query page_query = query;
    if (!offset.empty()) {
      page_query.emplace_back("offset", offset);
    }
    ASSIGN_OR_RETURN(http::HttpResponse resp, Call("GET", path, page_query, {}));
    auto page = decode(resp.body);
    if (!page.has_value()) {
      return WithContext("GET", path, page.error());
    }
    std::move(page->items.begin(), page->items.end(), std::back_inserter(all));
    if (!page->next_offset) {
      return all;
    }
    if (pages >= options_.max_pages) {
      return MakeError(ErrorCode::kBadResponse, "GET " + path + ": more than " +
                                                    std::to_string(options_.max_pages) +
                                                    " pages; the server seems to loop");
    }
    if (!seen_offsets.insert(*page->next_offset).second) {
      return MakeError(ErrorCode::kBadResponse,
                       "GET " + path + ": next_page.offset repeats; the server loops");
    }
    offset = std::move(*page->next_offset);
  }
}

Result<User> AsanaClient::GetMe() {
  const std::string path = "/users/me";
  ASSIGN_OR_RETURN(auto resp, Call("GET", path, {{"opt_fields", kUserFields}}, {}));
  auto user = DecodeUser(resp.body);
  return user.has_value() ? user : WithContext("GET", path, user.error());
}

Result<std::vector<Workspace>> AsanaClient::ListWorkspaces() {
  return ListAll<Workspace>("/workspaces", {{"opt_fields", kWorkspaceFields}}, DecodeWorkspacePage);
}

Result<std::vector<Project>> AsanaClient::ListProjects(const std::string& workspace_gid) {
  ASSIGN_OR_RETURN(std::string ws, Segment(workspace_gid, "workspace"));
  return ListAll<Project>("/workspaces/" + ws + "/projects", {{"opt_fields", kProjectFields}},
                          DecodeProjectPage);
}

Result<std::vector<Task>> AsanaClient::ListTasks(const std::string& project_gid) {
  ASSIGN_OR_RETURN(std::string project, Segment(project_gid, "project"));
  return ListAll<Task>("/projects/" + project + "/tasks", {{"opt_fields", kTaskFields}},
                       DecodeTaskPage);
}

Result<std::vector<Task>> AsanaClient::ListSubtasks(const std::string& task_gid) {
  ASSIGN_OR_RETURN(std::string task, Segment(task_gid, "task"));
  return ListAll<Task>("/tasks/" + task + "/subtasks", {{"opt_fields", kTaskFields}},
                       DecodeTaskPage);
}

Result<std::vector<Section>> AsanaClient::ListSections(const std::string& project_gid) {
  ASSIGN_OR_RETURN(std::string project, Segment(project_gid, "project"));
  return ListAll<Section>("/projects/" + project + "/sections", {{"opt_fields", kSectionFields}},
                          DecodeSectionPage);
}

Result<std::vector<Task>> AsanaClient::ListSectionTasks(const std::string& section_gid) {
  ASSIGN_OR_RETURN(std::string section, Segment(section_gid, "section"));
  return ListAll<Task>("/sections/" + section + "/tasks", {{"opt_fields", kTaskFields}},
                       DecodeTaskPage);
}

Result<std::vector<Attachment>> AsanaClient::ListAttachments(const std::string& parent_gid) {
  if (parent_gid.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "empty parent gid");
  }
  return ListAll<Attachment>("/attachments",
                             {{"parent", parent_gid}, {"opt_fields", kAttachmentListFields}},
                             DecodeAttachmentPage);
}

Result<Attachment> AsanaClient::GetAttachment(const std::string& gid) {
  ASSIGN_OR_RETURN(std::string seg, Segment(gid, "attachment"));
  const std::string path = "/attachments/" + seg;
  ASSIGN_OR_RETURN(auto resp, Call("GET", path, {{"opt_fields", kAttachmentFields}}, {}));
  auto att = DecodeAttachment(resp.body);
  return att.has_value() ? att : WithContext("GET", path, att.error());
}

Result<uint64_t> AsanaClient::Download(const std::string& download_url, uint64_t offset,
                                       uint64_t length, const ByteSink& sink) {
  const std::string path = http::UrlPathForLog(download_url);
  // A download URL comes from the server: it gets the same scheme rule as api_url (https, or
  // http to a loopback host), and plain http only when the API itself is plain http, so a
  // hostile reply cannot send us to a plain-text host (checked before any connection).
  if (auto safe = http::CheckApiUrlIsSafe(download_url); !safe) {
    return MakeError(ErrorCode::kBadResponse,
                     "GET " + path + ": download_url refused: " + safe.error().message);
  }
  auto scheme = [](const std::string& url) {
    auto parsed = http::ParseUrl(url);
    return parsed.has_value() ? parsed->scheme : std::string();
  };
  if (scheme(download_url) == "http" && scheme(options_.api_url) != "http") {
    return MakeError(ErrorCode::kBadResponse,
                     "GET " + path + ": download_url refused: plain http:// from an https API");
  }
  http::HttpRequest req;
  req.method = "GET";
  req.url = download_url;
  // Deliberately no Authorization: the URL is signed and points at a storage
  // host that must never see the Asana token.
  req.timeout = options_.transfer_timeout;
  // A storage host that stops sending fails the read within the deadline.
  req.stall_timeout = options_.request_timeout;
  req.connect_timeout = options_.connect_timeout;
  const bool ranged = offset > 0 || length > 0;
  if (ranged) {
    if (length > 0 && offset > http::kRangeToEnd - length) {
      return MakeError(ErrorCode::kInvalidArgument, "download range overflows");
    }
    req.range = std::make_pair(offset, length > 0 ? offset + length - 1 : http::kRangeToEnd);
  }
  uint64_t skip = 0;
  uint64_t delivered = 0;
  bool complete = false;      // `length` bytes delivered: we stopped the transfer
  bool sink_stopped = false;  // the caller's sink returned false
  bool wrong_range = false;
  bool partial_reply = false;  // a 206: its body ends with the range
  req.on_response = [&](int status, const http::Headers& headers) {
    if (status == 206) {
      partial_reply = true;
      http::HttpResponse probe;
      probe.headers = headers;
      uint64_t first = 0;
      if (!ParseContentRangeStart(probe.Header("Content-Range"), &first) || first != offset) {
        wrong_range = true;
        return false;
      }
    } else {
      skip = offset;  // the server ignored Range and sends the whole file
    }
    return true;
  };
  req.on_body = [&](std::string_view bytes) {
    if (complete) {
      return false;  // more than the range asked for
    }
    if (skip > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(skip, bytes.size()));
      skip -= n;
      bytes.remove_prefix(n);
      if (bytes.empty()) {
        return true;
      }
    }
    if (length > 0 && bytes.size() > length - delivered) {
      bytes = bytes.substr(0, static_cast<size_t>(length - delivered));
    }
    // A sink may say "stop" with the last byte it wanted: that is the end of the range,
    // not an abort.
    const bool more = sink(bytes);
    delivered += bytes.size();
    if (!more && !(length > 0 && delivered == length)) {
      sink_stopped = true;
      return false;
    }
    if (length > 0 && delivered == length) {
      complete = true;
      // A 206 ends here by itself: letting curl finish the reply keeps the connection
      // for the next range (stopping it closed the connection: one TCP/TLS handshake
      // per range). A 200 (Range ignored) may carry more: stop it.
      return partial_reply;
    }
    return true;
  };
  auto resp = transport_.Send(req);
  if (complete) {
    return delivered;
  }
  if (sink_stopped) {
    Error e = MakeError(ErrorCode::kIo, "GET " + path + ": download stopped by the receiver");
    e.sys_errno = EIO;
    return e;
  }
  if (wrong_range) {
    return MakeError(
        ErrorCode::kBadResponse,
        "GET " + path + " → 206 with a Content-Range not starting at " + std::to_string(offset));
  }
  if (!resp.has_value()) {
    return WithContext("GET", path, resp.error());
  }
  if (resp->status == 416 && ranged) {
    return uint64_t{0};  // the range starts at or past the end: nothing to read
  }
  if (resp->status < 200 || resp->status > 299) {
    return HttpError("GET", path, *resp);
  }
  return delivered;
}

Result<Attachment> AsanaClient::UploadAttachment(const std::string& parent_gid,
                                                 const std::string& file_name,
                                                 const std::string& local_path,
                                                 const UploadProgress& progress) {
  if (parent_gid.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "empty parent gid");
  }
  struct stat st;
  if (::stat(local_path.c_str(), &st) != 0) {
    Error e = MakeError(ErrorCode::kIo,
                        "cannot stat the file to upload: " + std::string(std::strerror(errno)));
    e.sys_errno = errno;
    return e;
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument, "the file to upload is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > options_.max_upload_bytes) {
    return MakeError(ErrorCode::kTooLarge, "file is " + std::to_string(st.st_size) +
                                               " bytes; Asana accepts at most " +
                                               std::to_string(options_.max_upload_bytes));
  }
  http::MultipartPart file;
  file.file_path = local_path;
  return PostAttachment(parent_gid, file_name, std::move(file), progress);
}

Result<Attachment> AsanaClient::UploadAttachmentStream(const std::string& parent_gid,
                                                       const std::string& file_name,
                                                       const UploadReader& reader,
                                                       const UploadProgress& progress) {
  if (parent_gid.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "empty parent gid");
  }
  if (!reader) {
    return MakeError(ErrorCode::kInvalidArgument, "no reader for a streamed upload");
  }
  // The 100 MB cap is the writer's to keep (it knows the size); the server
  // refuses more anyway.
  http::MultipartPart file;
  file.reader = reader;
  return PostAttachment(parent_gid, file_name, std::move(file), progress);
}

Result<Attachment> AsanaClient::PostAttachment(const std::string& parent_gid,
                                               const std::string& file_name,
                                               http::MultipartPart file,
                                               const UploadProgress& progress) {
  http::HttpRequest req;
  req.on_upload_progress = progress;
  req.idempotent = false;
  http::MultipartPart parent;
  parent.name = "parent";
  parent.value = parent_gid;
  file.name = "file";
  file.filename = http::PercentEncode(file_name);
  file.content_type = "application/octet-stream";
  req.multipart = {std::move(parent), std::move(file)};
  const std::string path = "/attachments";
  ASSIGN_OR_RETURN(auto resp, Call("POST", path, {{"opt_fields", kUploadFields}}, std::move(req)));
  auto att = DecodeAttachment(resp.body);
  return att.has_value() ? att : WithContext("POST", path, att.error());
}

Status AsanaClient::DeleteAttachment(const std::string& gid) {
  ASSIGN_OR_RETURN(std::string seg, Segment(gid, "attachment"));
  ASSIGN_OR_RETURN(auto resp, Call("DELETE", "/attachments/" + seg, {}, {}));
  (void)resp;
  return OkStatus();
}

Result<Task> AsanaClient::CreateTask(const std::string& project_gid, const std::string& name) {
  if (project_gid.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "empty project gid");
  }
  http::HttpRequest req;
  req.idempotent = false;
  req.body = EncodeCreateTask(name, project_gid);
  req.headers.emplace_back("Content-Type", "application/json");
  const std::string path = "/tasks";
  ASSIGN_OR_RETURN(auto resp, Call("POST", path, {{"opt_fields", kTaskFields}}, std::move(req)));
  auto task = DecodeTask(resp.body);
  return task.has_value() ? task : WithContext("POST", path, task.error());
}

Result<EventPage> AsanaClient::GetEvents(const std::string& resource_gid, const std::string& sync) {
  if (resource_gid.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "empty resource gid");
  }
  const std::string path = "/events";
  Query query{{"resource", resource_gid}};
  if (!sync.empty()) {
    query.emplace_back("sync", sync);
  }
  ASSIGN_OR_RETURN(auto resp, Call("GET", path, query, {}, /*also_ok=*/412));
  if (resp.status == 412) {
    auto fresh = DecodeSyncToken(resp.body);
    if (!fresh) {
      return MakeError(ErrorCode::kBadResponse, "GET /events → 412 without a sync token");
    }
    EventPage page;
    page.sync = std::move(*fresh);
    page.expired = true;
    return page;
  }
  auto page = DecodeEventPage(resp.body);
  return page.has_value() ? page : WithContext("GET", path, page.error());
}

Result<Task> AsanaClient::CreateSubtask(const std::string& parent_task_gid,
                                        const std::string& name) {
  ASSIGN_OR_RETURN(std::string seg, Segment(parent_task_gid, "task"));
  http::HttpRequest req;
  req.idempotent = false;
  req.body = EncodeCreateSubtask(name);
  req.headers.emplace_back("Content-Type", "application/json");
  const std::string path = "/tasks/" + seg + "/subtasks";
  ASSIGN_OR_RETURN(auto resp, Call("POST", path, {{"opt_fields", kTaskFields}}, std::move(req)));
  auto task = DecodeTask(resp.body);
  return task.has_value() ? task : WithContext("POST", path, task.error());
}

}  // namespace asanafs::asana
