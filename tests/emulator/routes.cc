// HTTP routes of the Asana emulator; see routes.h and README.md.
#include "routes.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>

#include "render.h"
#include "util.h"

namespace asanafs::emulator {

namespace {

constexpr char kApiPrefix[] = "/api/1.0";
constexpr char kJson[] = "application/json; charset=UTF-8";
// "The 100MB size limit on attachments in Asana is enforced on this endpoint." Read as MiB:
// a file of exactly 100 * 1024 * 1024 bytes is accepted, one byte more is refused.
constexpr uint64_t kMaxUploadBytes = 100ULL * 1024 * 1024;
constexpr size_t kMaxJsonBody = 8 << 20;
constexpr size_t kMaxUnpagedItems = 1000;  // real Asana truncates unpaginated lists near here
constexpr int64_t kSlowFaultMs = 40'000;

std::string ErrorBody(const std::string& message, bool with_phrase = false) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& al = doc.GetAllocator();
  rapidjson::Value err(rapidjson::kObjectType);
  err.AddMember("message", rapidjson::Value(message.c_str(), al), al);
  // "phrase: *500 errors only*. A unique error phrase which can be used when contacting Asana
  // support to help identify the exact occurrence of the problem in Asana's logs."
  if (with_phrase) err.AddMember("phrase", "6 sad squid snuggle softly", al);
  rapidjson::Value errors(rapidjson::kArrayType);
  errors.PushBack(err, al);
  doc.AddMember("errors", errors, al);
  return ToJson(doc);
}

void JsonError(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(ErrorBody(message, status == 500), kJson);
}

// S3-style error document for the blob route.
void XmlError(httplib::Response& res, int status, const std::string& code,
              const std::string& message) {
  res.status = status;
  res.set_content("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code +
                      "</Code><Message>" + message + "</Message></Error>\n",
                  "application/xml");
}

// The route template for statistics: every all-digit path segment becomes {gid}.
std::string Template(const std::string& path) {
  std::string out;
  for (const auto& seg : Split(path, '/')) {
    if (!out.empty() || !seg.empty()) out += '/';
    out += IsAllDigits(seg) ? "{gid}" : seg;
  }
  if (out.empty()) out = "/";
  return out;
}

bool HasBearer(const httplib::Request& req, const std::string& token) {
  if (!req.has_header("Authorization")) return false;
  const std::string value = req.get_header_value("Authorization");
  if (value.size() < 7 || strncasecmp(value.c_str(), "Bearer ", 7) != 0) return false;
  std::string given = value.substr(7);
  while (!given.empty() && given.front() == ' ') given.erase(given.begin());
  while (!given.empty() && given.back() == ' ') given.pop_back();
  return given == token;
}

// The socket of this request's connection, found by its peer port (cpp-httplib 0.11 does not
// hand the socket to handlers). -1 if not found.
int FindConnectionFd(const httplib::Request& req, int local_port);

// Calls fn(fd, peer_port) for each TCP socket on local_port; peer_port is 0
// for the listening socket. fn returns false to stop.
template <typename Fn>
void ForEachSocket(int local_port, Fn fn) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  while (struct dirent* e = readdir(dir)) {
    auto fd_num = ParseUint(e->d_name);
    if (!fd_num) continue;
    int fd = static_cast<int>(*fd_num);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_in local{}, peer{};
    socklen_t len = sizeof local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
        local.sin_family != AF_INET || ntohs(local.sin_port) != local_port) {
      continue;
    }
    len = sizeof peer;
    const bool listener = getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0;
    if (!fn(fd, listener ? 0 : ntohs(peer.sin_port))) break;
  }
  closedir(dir);
}

// Calls fn(fd, peer_port) for each accepted connection socket on local_port.
template <typename Fn>
void ForEachConnection(int local_port, Fn fn) {
  ForEachSocket(local_port,
                [&](int fd, int peer_port) { return peer_port == 0 || fn(fd, peer_port); });
}

int FindConnectionFd(const httplib::Request& req, int local_port) {
  int found = -1;
  ForEachConnection(local_port, [&](int fd, int peer_port) {
    if (peer_port != req.remote_port) return true;
    found = fd;
    return false;
  });
  return found;
}

// Stops reading from the connection after this reply: used when a request body could not be
// consumed, so its leftovers are never parsed as a next request.
void CloseAfterReply(const httplib::Request& req, int local_port) {
  int fd = FindConnectionFd(req, local_port);
  if (fd >= 0) shutdown(fd, SHUT_RD);
}

struct ByteRange {
  uint64_t start = 0;
  uint64_t length = 0;
};

enum class RangeResult { kNone, kOne, kUnsatisfiable };

// RFC 9110 single byte ranges: bytes=a-b, bytes=a-, bytes=-n. Malformed or multi-range
// headers are ignored (the whole file is served).
RangeResult ParseRange(const std::string& header, uint64_t size, ByteRange* out) {
  const std::string prefix = "bytes=";
  if (header.compare(0, prefix.size(), prefix) != 0) return RangeResult::kNone;
  std::string spec = header.substr(prefix.size());
  if (spec.find(',') != std::string::npos) return RangeResult::kNone;
  auto dash = spec.find('-');
  if (dash == std::string::npos) return RangeResult::kNone;
  std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {
    auto n = ParseUint(b);
    if (!n) return RangeResult::kNone;
    if (*n == 0 || size == 0) return RangeResult::kUnsatisfiable;
    uint64_t len = std::min<uint64_t>(*n, size);
    *out = {size - len, len};
    return RangeResult::kOne;
  }
  auto first = ParseUint(a);
  if (!first) return RangeResult::kNone;
  std::optional<uint64_t> last;
  if (!b.empty()) {
    last = ParseUint(b);
    if (!last || *last < *first) return RangeResult::kNone;
  }
  if (*first >= size) return RangeResult::kUnsatisfiable;
  uint64_t end = last ? std::min<uint64_t>(*last, size - 1) : size - 1;
  *out = {*first, end - *first + 1};
  return RangeResult::kOne;
}

std::string RandomSecret() {
  std::string secret(16, '\0');
  std::ifstream in("/dev/urandom", std::ios::binary);
  in.read(secret.data(), static_cast<std::streamsize>(secret.size()));
  if (!in) secret = std::to_string(NowMs()) + std::to_string(getpid());
  return secret;
}

}  // namespace

void WidenListenBacklog(int local_port, int backlog) {
  ForEachSocket(local_port, [&](int fd, int peer_port) {
    if (peer_port == 0) listen(fd, backlog);  // on Linux a second listen() resizes the queue
    return true;
  });
}

void ShutdownConnections(int local_port) {
  ForEachConnection(local_port, [](int fd, int) {
    shutdown(fd, SHUT_RD);
    return true;
  });
}

// ---- Stopper -----------------------------------------------------------------------------

bool Stopper::SleepMs(int64_t ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_.load(); });
}

void Stopper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

// ---- Routes ------------------------------------------------------------------------------

struct Routes::Ctx {
  Ctx(const httplib::Request& rq, httplib::Response& rs, const httplib::ContentReader* rd,
      Routes* r)
      : req(rq), res(rs), reader(rd), routes(r) {}
  const httplib::Request& req;
  httplib::Response& res;
  const httplib::ContentReader* reader;
  std::string method;
  std::string sub;  // path after /api/1.0
  bool body_done = false;
  bool pretty = false;
  std::optional<FieldSel> sel;

  void Fail(int status, const std::string& message);
  Routes* routes = nullptr;
};

void Routes::Ctx::Fail(int status, const std::string& message) {
  routes->Drain(*this);
  JsonError(res, status, message);
}

Routes::Routes(const Options& options, World& world, Faults& faults, Stats& stats, Stopper& stopper)
    : options_(options),
      world_(world),
      faults_(faults),
      stats_(stats),
      stopper_(stopper),
      secret_(RandomSecret()) {}

void Routes::SetBaseUrl(const std::string& base_url, int port) {
  base_url_ = base_url;
  port_ = port;
}

void Routes::Install(httplib::Server& server) {
  const std::string api = R"(/api/1\.0(/.*)?)";
  server.Get(api, [this](const httplib::Request& req, httplib::Response& res) {
    HandleApi(req, res, nullptr);
  });
  auto with_reader = [this](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) { HandleApi(req, res, &reader); };
  auto without_reader = [this](const httplib::Request& req, httplib::Response& res) {
    HandleApi(req, res, nullptr);
  };
  server.Post(api, with_reader);
  server.Post(api, without_reader);
  server.Put(api, with_reader);
  server.Put(api, without_reader);
  server.Patch(api, with_reader);
  server.Patch(api, without_reader);
  server.Delete(api, with_reader);
  server.Delete(api, without_reader);

  server.Get(R"(/_blobs/([^/]*))",
             [this](const httplib::Request& req, httplib::Response& res) { HandleBlob(req, res); });

  server.Get("/_control/stats", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(stats_.ToJson(), kJson);
  });
  server.Post("/_control/reset_stats", [this](const httplib::Request&, httplib::Response& res) {
    stats_.Reset();
    res.set_content("{}", kJson);
  });
  server.Post("/_control/expire_sync", [this](const httplib::Request&, httplib::Response& res) {
    auto lock = world_.Lock();
    world_.events().Expire();
    res.set_content("{}", "application/json");
  });
  server.Post("/_control/faults", [this](const httplib::Request& req, httplib::Response& res) {
    std::string error;
    if (!faults_.Set(req.body, &error)) {
      JsonError(res, 400, error);
      return;
    }
    std::cerr << "asana-emulator: faults set to '" << req.body << "'\n";
    res.set_content("{}", kJson);
  });
  server.Get("/_control/state", [this](const httplib::Request&, httplib::Response& res) {
    auto lock = world_.Lock();
    res.set_content(RenderState(world_), kJson);
  });
  server.Get(
      R"(/_control/content/(\d+))",
      [this](const httplib::Request& req, httplib::Response& res) { ControlContent(req, res); });
  server.Post("/_control/objects", [this](const httplib::Request& req, httplib::Response& res) {
    ControlAddObject(req, res);
  });
  server.Delete(R"(/_control/objects/(\d+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  ControlDeleteObject(req, res);
                });
  server.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                   httplib::Response& res) {
    // Replies cpp-httplib makes itself (no route, unreadable request) get a body too.
    if (res.body.empty() && !res.content_length_) {
      if (req.path.rfind("/_blobs/", 0) == 0) {
        XmlError(res, res.status, "Error", "Request failed");
      } else {
        res.set_content(ErrorBody(res.status == 404 ? "No matching route for request"
                                                    : "HTTP error " + std::to_string(res.status),
                                  res.status == 500),
                        kJson);
      }
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
}

bool Routes::SaveWorld() {
  std::string error;
  if (!world_.Save(&error)) {
    std::cerr << "asana-emulator: ERROR saving the world: " << error << "\n";
    return false;
  }
  return true;
}

void Routes::KillConnection(const httplib::Request& req) {
  int fd = FindConnectionFd(req, port_);
  if (fd < 0) {
    std::cerr << "asana-emulator: reset fault: connection socket not found\n";
    return;
  }
  // Linger 0 makes the close that follows send a RST; shutdown stops the reply from leaving.
  struct linger lg {
    1, 0
  };
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  shutdown(fd, SHUT_RDWR);
}

bool Routes::ReadBody(Ctx& c, std::string* body) {
  if (c.body_done || !c.reader) {
    c.body_done = true;
    *body = c.req.body;
    return true;
  }
  c.body_done = true;
  bool too_big = false;
  bool ok;
  if (c.req.is_multipart_form_data()) {
    ok = (*c.reader)([](const httplib::MultipartFormData&) { return true; },
                     [&](const char* data, size_t len) {
                       if (body->size() + len > kMaxJsonBody) too_big = true;
                       if (!too_big) body->append(data, len);
                       return true;
                     });
  } else {
    ok = (*c.reader)([&](const char* data, size_t len) {
      if (body->size() + len > kMaxJsonBody) too_big = true;
      if (!too_big) body->append(data, len);
      return true;
    });
  }
  if (!ok) CloseAfterReply(c.req, port_);
  return ok && !too_big;
}

void Routes::Drain(Ctx& c) {
  if (c.body_done) return;
  std::string ignored;
  ReadBody(c, &ignored);
}

std::string Routes::SignedUrl(const Attachment& a) const {
  const int64_t expires = NowMs() / 1000 + options_.url_ttl_s;
  const std::string payload = a.gid + ":" + std::to_string(expires);
  return base_url_ + "/_blobs/" + a.gid + "?expires=" + std::to_string(expires) +
         "&sig=" + Sign(secret_, "blob:" + payload);
}

std::string Routes::OffsetToken(const std::string& list_key, size_t index,
                                const std::string& last_gid) const {
  const std::string payload = std::to_string(index) + ":" + last_gid;
  return Base64UrlEncode(payload + ":" + Sign(secret_, "offset:" + list_key + "|" + payload, 20));
}

bool Routes::ParseOffset(const std::string& list_key, const std::string& token, size_t* index,
                         std::string* last_gid) const {
  auto raw = Base64UrlDecode(token);
  if (!raw) return false;
  auto parts = Split(*raw, ':');
  if (parts.size() != 3) return false;
  const std::string payload = parts[0] + ":" + parts[1];
  if (Sign(secret_, "offset:" + list_key + "|" + payload, 20) != parts[2]) return false;
  auto i = ParseUint(parts[0]);
  if (!i) return false;
  *index = static_cast<size_t>(*i);
  *last_gid = parts[1];
  return true;
}

void Routes::HandleApi(const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader* reader) {
  // Range handling is ours alone; cpp-httplib would otherwise re-slice JSON replies.
  const_cast<httplib::Request&>(req).ranges.clear();
  Ctx c(req, res, reader, this);
  c.method = req.method == "HEAD" ? "GET" : req.method;
  c.sub = req.path.substr(std::strlen(kApiPrefix));
  if (c.sub.empty()) c.sub = "/";
  stats_.CountApi(c.method + " " + Template(c.sub));

  if (options_.latency_ms > 0) stopper_.SleepMs(options_.latency_ms);

  const FaultKind fault = faults_.Decide(c.method, c.sub);
  switch (fault) {
    case FaultKind::kNone:
      break;
    case FaultKind::kCut:
      if (reader) {  // read about half of the body, then drop the connection
        const size_t want =
            static_cast<size_t>(ParseUint(req.get_header_value("Content-Length")).value_or(0) / 2);
        size_t got = 0;
        auto take = [&](const char*, size_t len) { return (got += len) < want; };
        if (req.is_multipart_form_data()) {
          (*reader)([](const httplib::MultipartFormData&) { return true; }, take);
        } else {
          (*reader)(take);
        }
      }
      [[fallthrough]];
    case FaultKind::kReset:
      stats_.CountFault();
      KillConnection(req);
      res.status = 500;
      return;
    case FaultKind::kLostReply:
    case FaultKind::kPageLoop:
    case FaultKind::kBadJson:
    case FaultKind::kWrongType:
    case FaultKind::kHugeNumber:
    case FaultKind::kMissingFields:
    case FaultKind::kForeignUrl:
      stats_.CountFault();
      if (fault == FaultKind::kPageLoop) const_cast<httplib::Request&>(req).params.erase("offset");
      break;
    case FaultKind::kSlow:
      stats_.CountFault();
      if (!stopper_.SleepMs(kSlowFaultMs)) {
        c.Fail(503, "The emulator is shutting down.");
        return;
      }
      break;
    case FaultKind::k429:
      stats_.CountFault();
      res.set_header("Retry-After", "1");
      c.Fail(429,
             "You've made too many requests and hit a rate limit. Please retry after the given "
             "amount of time.");
      return;
    case FaultKind::k500:
    case FaultKind::k502:
    case FaultKind::k503: {
      stats_.CountFault();
      int status = fault == FaultKind::k500 ? 500 : fault == FaultKind::k502 ? 502 : 503;
      c.Fail(status, status == 500   ? "Server Error"
                     : status == 502 ? "Bad Gateway: the load balancer could not reach the API."
                                     : "Service Unavailable: please retry later.");
      return;
    }
  }

  if (!HasBearer(req, options_.token)) {
    c.Fail(401, "Not Authorized");
    return;
  }

  if (req.has_param("opt_fields")) c.sel = ParseOptFields(req.get_param_value("opt_fields"));
  if (c.sel && c.sel->empty()) c.sel.reset();
  if (req.has_param("opt_pretty")) c.pretty = req.get_param_value("opt_pretty") != "false";
  Dispatch(c);
  if (fault == FaultKind::kLostReply) {
    Drain(c);
    KillConnection(req);
  }
  MangleReply(fault, &res.body);
}

namespace {

// Path gids must be numeric; Asana answers 400 for anything else.
bool CheckGid(const std::string& value, const char* name, std::string* message) {
  if (IsAllDigits(value)) return true;
  *message = std::string(name) + ": Not a valid gid: " + value;
  return false;
}

}  // namespace

void Routes::Dispatch(Ctx& c) {
  static const std::regex kOne(R"(^/(\w+)/([^/]+)$)");
  static const std::regex kSub(R"(^/(\w+)/([^/]+)/(\w+)$)");
  const std::string& m = c.method;
  const std::string& p = c.sub;
  std::smatch match;
  std::string msg;

  if (m == "GET" && p == "/workspaces") return GetWorkspaces(c);
  if (m == "GET" && p == "/attachments") return GetAttachments(c);
  if (m == "POST" && p == "/attachments") return PostAttachment(c);
  if (m == "POST" && p == "/tasks") return PostTask(c, "");
  if (m == "GET" && p == "/events") {
    if (!c.req.has_param("resource")) return c.Fail(400, "resource: Missing input");
    return GetEvents(c, c.req.get_param_value("resource"));
  }
  if (std::regex_match(p, match, kOne)) {
    const std::string kind = match[1], gid = match[2];
    if (m == "GET" && kind == "users") return GetUser(c, gid);
    const char* param = kind == "workspaces"    ? "workspace"
                        : kind == "projects"    ? "project"
                        : kind == "sections"    ? "section"
                        : kind == "tasks"       ? "task"
                        : kind == "attachments" ? "attachment"
                                                : nullptr;
    if (param && (m == "GET" || (m == "DELETE" && kind == "attachments"))) {
      if (!CheckGid(gid, param, &msg)) return c.Fail(400, msg);
      if (m == "DELETE") return DeleteAttachment(c, gid);
      Kind k = kind == "workspaces" ? Kind::kWorkspace
               : kind == "projects" ? Kind::kProject
               : kind == "sections" ? Kind::kSection
               : kind == "tasks"    ? Kind::kTask
                                    : Kind::kAttachment;
      return GetOne(c, gid, k, param);
    }
  } else if (std::regex_match(p, match, kSub)) {
    const std::string kind = match[1], gid = match[2], rel = match[3];
    if (m == "GET" && kind == "workspaces" && rel == "projects") {
      if (!CheckGid(gid, "workspace", &msg)) return c.Fail(400, msg);
      return GetProjectsOf(c, gid);
    }
    if (m == "GET" && kind == "projects" && rel == "tasks") {
      if (!CheckGid(gid, "project", &msg)) return c.Fail(400, msg);
      return GetTasksOf(c, gid);
    }
    if (m == "GET" && kind == "projects" && rel == "sections") {
      if (!CheckGid(gid, "project", &msg)) return c.Fail(400, msg);
      return GetSectionsOf(c, gid);
    }
    if (m == "GET" && kind == "sections" && rel == "tasks") {
      if (!CheckGid(gid, "section", &msg)) return c.Fail(400, msg);
      return GetTasksOfSection(c, gid);
    }
    if (m == "GET" && rel == "events" && (kind == "projects" || kind == "tasks")) {
      return GetEvents(c, gid);  // "/[path_to_resource]/events" in lieu of ?resource=
    }
    if (kind == "tasks" && rel == "subtasks" && (m == "GET" || m == "POST")) {
      if (!CheckGid(gid, "task", &msg)) return c.Fail(400, msg);
      return m == "GET" ? GetSubtasksOf(c, gid) : PostTask(c, gid);
    }
  }
  c.Fail(404, "No matching route for request");
}

void Routes::ReplyObject(Ctx& c, int status, const std::string& gid, bool full) {
  Drain(c);
  rapidjson::Document doc(rapidjson::kObjectType);
  Renderer r(world_, doc.GetAllocator(), [this](const Attachment& a) { return SignedUrl(a); });
  doc.AddMember("data",
                r.Object(gid, c.sel ? &*c.sel : nullptr, full ? Shape::kFull : Shape::kCompact),
                doc.GetAllocator());
  c.res.status = status;
  c.res.set_content(ToJson(doc, c.pretty), kJson);
}

void Routes::ReplyList(Ctx& c, const std::vector<std::string>& gids, const std::string& list_key) {
  Drain(c);
  const httplib::Request& req = c.req;
  std::optional<size_t> limit;
  if (req.has_param("limit")) {
    const std::string raw = req.get_param_value("limit");
    auto v = ParseUint(raw);
    if (!v || *v < 1 || *v > 100) {
      return c.Fail(400, "limit: Value must be an integer between 1 and 100, got: " + raw);
    }
    limit = static_cast<size_t>(*v);
  }
  size_t start = 0;
  if (req.has_param("offset")) {
    size_t index = 0;
    std::string last;
    if (!ParseOffset(list_key, req.get_param_value("offset"), &index, &last)) {
      return c.Fail(400,
                    "offset: Your pagination token is invalid or was not issued for this "
                    "request. Use the offset from the previous page's next_page.");
    }
    // Continue after the last item served, even if the list changed in between.
    auto it = std::find(gids.begin(), gids.end(), last);
    start = it != gids.end() ? static_cast<size_t>(it - gids.begin()) + 1
                             : std::min(index, gids.size());
  }
  const size_t page = limit ? *limit : kMaxUnpagedItems;
  const size_t end = std::min(gids.size(), start + page);

  rapidjson::Document doc(rapidjson::kObjectType);
  auto& al = doc.GetAllocator();
  Renderer r(world_, al, [this](const Attachment& a) { return SignedUrl(a); });
  rapidjson::Value data(rapidjson::kArrayType);
  for (size_t i = start; i < end; ++i) {
    data.PushBack(r.Object(gids[i], c.sel ? &*c.sel : nullptr, Shape::kCompact), al);
  }
  doc.AddMember("data", data, al);
  if (limit) {
    // NextPage: "only present when a limit query parameter is provided"; null at the end.
    if (end < gids.size()) {
      const std::string token = OffsetToken(list_key, end, gids[end - 1]);
      std::string query;
      for (const auto& [k, v] : req.params) {
        if (k == "limit" || k == "offset") continue;
        query += PercentEncode(k) + "=" + PercentEncode(v) + "&";
      }
      query += "limit=" + std::to_string(*limit) + "&offset=" + token;
      const std::string path = c.sub + "?" + query;
      rapidjson::Value next(rapidjson::kObjectType);
      next.AddMember("offset", rapidjson::Value(token.c_str(), al), al);
      next.AddMember("path", rapidjson::Value(path.c_str(), al), al);
      next.AddMember("uri", rapidjson::Value((base_url_ + kApiPrefix + path).c_str(), al), al);
      doc.AddMember("next_page", next, al);
    } else {
      doc.AddMember("next_page", rapidjson::Value(rapidjson::kNullType), al);
    }
  }
  c.res.status = 200;
  c.res.set_content(ToJson(doc, c.pretty), kJson);
}

void Routes::GetUser(Ctx& c, const std::string& user) {
  auto lock = world_.Lock();
  if (user != "me" && user != world_.user().gid) {
    if (!IsAllDigits(user) && user.find('@') == std::string::npos) {
      return c.Fail(400, "user: Not a valid user identifier: " + user);
    }
    return c.Fail(404, "user: Unknown object: " + user);
  }
  ReplyObject(c, 200, world_.user().gid, true);
}

void Routes::GetWorkspaces(Ctx& c) {
  auto lock = world_.Lock();
  ReplyList(c, world_.workspace_order(), "/workspaces");
}

void Routes::GetOne(Ctx& c, const std::string& gid, Kind kind, const char* param) {
  auto lock = world_.Lock();
  if (world_.KindOf(gid) != kind) {
    return c.Fail(404, std::string(param) + ": Unknown object: " + gid);
  }
  ReplyObject(c, 200, gid, true);
}

void Routes::GetProjectsOf(Ctx& c, const std::string& workspace) {
  auto lock = world_.Lock();
  const Workspace* ws = world_.FindWorkspace(workspace);
  if (!ws) return c.Fail(404, "workspace: Unknown object: " + workspace);
  ReplyList(c, ws->projects, c.sub);
}

void Routes::GetTasksOf(Ctx& c, const std::string& project) {
  auto lock = world_.Lock();
  const Project* p = world_.FindProject(project);
  if (!p) return c.Fail(404, "project: Unknown object: " + project);
  ReplyList(c, p->tasks, c.sub);
}

void Routes::GetSectionsOf(Ctx& c, const std::string& project) {
  auto lock = world_.Lock();
  const Project* p = world_.FindProject(project);
  if (!p) return c.Fail(404, "project: Unknown object: " + project);
  ReplyList(c, p->sections, c.sub);
}

void Routes::GetTasksOfSection(Ctx& c, const std::string& section) {
  auto lock = world_.Lock();
  const Section* sec = world_.FindSection(section);
  if (!sec) return c.Fail(404, "section: Unknown object: " + section);
  ReplyList(c, sec->tasks, c.sub);
}

void Routes::GetSubtasksOf(Ctx& c, const std::string& task) {
  auto lock = world_.Lock();
  const Task* t = world_.FindTask(task);
  if (!t) return c.Fail(404, "task: Unknown object: " + task);
  ReplyList(c, t->subtasks, c.sub);
}

void Routes::GetAttachments(Ctx& c) {
  if (!c.req.has_param("parent")) return c.Fail(400, "parent: Missing input");
  const std::string parent = c.req.get_param_value("parent");
  std::string msg;
  if (!CheckGid(parent, "parent", &msg)) return c.Fail(400, msg);
  auto lock = world_.Lock();
  Kind kind = world_.KindOf(parent);
  if (kind == Kind::kNone) return c.Fail(404, "parent: Unknown object: " + parent);
  if (kind != Kind::kTask && kind != Kind::kProject) {
    return c.Fail(400, "parent: Must be a GID for a project, project_brief, or task: " + parent);
  }
  std::vector<std::string> gids;
  for (const Attachment* a : world_.AttachmentsOf(parent)) gids.push_back(a->gid);
  ReplyList(c, gids, "/attachments?parent=" + parent);
}

// GET /events (OAS getEvents): 412 with a fresh token when the token is missing or
// too old; otherwise up to 100 events after it, has_more, and the next token.
void Routes::GetEvents(Ctx& c, const std::string& resource) {
  std::string msg;
  if (!CheckGid(resource, "resource", &msg)) return c.Fail(400, msg);
  auto lock = world_.Lock();
  Kind kind = world_.KindOf(resource);
  if (kind == Kind::kNone) return c.Fail(404, "resource: Unknown object: " + resource);
  Drain(c);
  EventLog& log = world_.events();
  std::vector<const RecordedEvent*> events;
  bool has_more = false;
  std::string next;
  const std::string token = c.req.has_param("sync") ? c.req.get_param_value("sync") : "";
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& alloc = doc.GetAllocator();
  auto str = [&](const std::string& v) { return rapidjson::Value(v.c_str(), alloc); };
  if (!log.Since(token, resource, 100, &events, &has_more, &next)) {
    rapidjson::Value errors(rapidjson::kArrayType);
    rapidjson::Value err(rapidjson::kObjectType);
    err.AddMember("message",
                  "Sync token invalid or too old. If you are attempting to keep resources in "
                  "sync, you must fetch the full dataset for this query now and use the new "
                  "sync token for the next sync.",
                  alloc);
    errors.PushBack(err, alloc);
    doc.AddMember("errors", errors, alloc);
    doc.AddMember("sync", str(log.HeadToken()), alloc);
    c.res.status = 412;
    c.res.set_content(ToJson(doc, c.pretty), kJson);
    return;
  }
  auto ref = [&](const Ref& r) {
    rapidjson::Value v(rapidjson::kObjectType);
    v.AddMember("gid", str(r.gid), alloc);
    v.AddMember("resource_type", str(r.type), alloc);
    if (!r.name.empty()) v.AddMember("name", str(r.name), alloc);
    return v;
  };
  rapidjson::Value data(rapidjson::kArrayType);
  for (const RecordedEvent* e : events) {
    rapidjson::Value ev(rapidjson::kObjectType);
    ev.AddMember("user", ref({world_.user().gid, "user", world_.user().name}), alloc);
    ev.AddMember("created_at", str(FormatTimestamp(e->created_ms)), alloc);
    ev.AddMember("type", str(e->resource.type), alloc);
    ev.AddMember("action", str(e->action), alloc);
    ev.AddMember("resource", ref(e->resource), alloc);
    if (e->parent.gid.empty()) {
      ev.AddMember("parent", rapidjson::Value(), alloc);
    } else {
      ev.AddMember("parent", ref(e->parent), alloc);
    }
    data.PushBack(ev, alloc);
  }
  doc.AddMember("data", data, alloc);
  doc.AddMember("sync", str(next), alloc);
  doc.AddMember("has_more", has_more, alloc);
  c.res.status = 200;
  c.res.set_content(ToJson(doc, c.pretty), kJson);
}

void Routes::DeleteAttachment(Ctx& c, const std::string& gid) {
  Drain(c);
  auto lock = world_.Lock();
  const Attachment* a = world_.FindAttachment(gid);
  if (!a) return c.Fail(404, "attachment: Unknown object: " + gid);
  const std::string parent = a->parent;
  world_.Remove(gid);
  // Task.modified_at changes when "attachment is trashed on a task".
  if (Task* t = world_.MutableTask(parent)) t->modified_ms = std::max(t->modified_ms, NowMs());
  SaveWorld();
  stats_.CountDelete();
  c.res.status = 200;
  c.res.set_content(c.pretty ? "{\n  \"data\": {}\n}" : "{\"data\":{}}", kJson);
}

void Routes::PostAttachment(Ctx& c) {
  if (!c.reader || !c.req.is_multipart_form_data()) {
    return c.Fail(400, "file: Missing input. Uploads must be multipart/form-data.");
  }
  c.body_done = true;
  // Stream the file part to a temporary file under the state dir, hashing as we go.
  const std::string temp = world_.BlobDir() + "/upload-" + Base64UrlEncode(RandomSecret()) + ".tmp";
  std::string current;
  std::map<std::string, std::string> fields;
  bool have_file = false, too_big = false, io_error = false;
  std::string filename, content_type;
  uint64_t size = 0;
  Sha256 hash;
  int fd = -1;
  bool ok = (*c.reader)(
      [&](const httplib::MultipartFormData& part) {
        current = part.name;
        if (part.name == "file" && !have_file) {
          have_file = true;
          filename = part.filename;
          content_type = part.content_type;
          fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
          if (fd < 0) io_error = true;
        } else if (part.name == "file") {
          current = "file#2";  // a second file part is ignored
        }
        return true;
      },
      [&](const char* data, size_t len) {
        if (current == "file") {
          size += len;
          if (size > kMaxUploadBytes) too_big = true;
          if (too_big || io_error) return true;  // keep draining; the reply is an error
          hash.Update(data, len);
          while (len > 0) {
            ssize_t n = write(fd, data, len);
            if (n < 0) {
              if (errno == EINTR) continue;
              io_error = true;
              break;
            }
            data += n;
            len -= static_cast<size_t>(n);
          }
        } else if (current != "file#2") {
          std::string& v = fields[current];
          if (v.size() + len <= 64 * 1024) v.append(data, len);
        }
        return true;
      });
  if (fd >= 0) io_error = (close(fd) != 0) || io_error;
  auto discard = [&] { unlink(temp.c_str()); };
  if (!ok) {
    discard();
    CloseAfterReply(c.req, port_);
    return c.Fail(400, "Could not parse the multipart/form-data request body.");
  }
  if (too_big) {
    discard();
    return c.Fail(413, "file: File is too large. The maximum attachment size is 100MB (" +
                           std::to_string(kMaxUploadBytes) + " bytes).");
  }
  if (io_error) {
    discard();
    return c.Fail(500, "Server Error");
  }
  auto field = [&](const char* name) -> std::optional<std::string> {
    auto it = fields.find(name);
    if (it == fields.end()) return std::nullopt;
    return it->second;
  };
  const auto parent = field("parent");
  if (!parent || parent->empty()) {
    discard();
    return c.Fail(400, "parent: Missing input");
  }
  std::string msg;
  if (!CheckGid(*parent, "parent", &msg)) {
    discard();
    return c.Fail(400, msg);
  }
  const std::string subtype = field("resource_subtype").value_or("asana");
  if (subtype != "asana" && subtype != "external") {
    discard();
    return c.Fail(400, "resource_subtype: Must be one of asana, external");
  }
  NewAttachment spec;
  spec.parent = *parent;
  if (subtype == "external") {
    discard();
    spec.host = "external";
    spec.name = field("name").value_or("");
    spec.view_url = field("url").value_or("");
    if (spec.name.empty()) return c.Fail(400, "name: Missing input");
    if (spec.view_url.empty()) return c.Fail(400, "url: Missing input");
  } else {
    if (!have_file) return c.Fail(400, "file: Missing input");
    // "For file names that contain non-ASCII characters, the file name should be URL-encoded."
    spec.name = PercentDecode(filename);
    if (spec.name.empty()) {
      discard();
      return c.Fail(400, "file: Missing file name (the filename of the file part)");
    }
    spec.temp_file = temp;
    spec.temp_sha256 = hash.FinishHex();
    if (!content_type.empty()) spec.content_type = content_type;
  }
  auto lock = world_.Lock();
  Kind kind = world_.KindOf(*parent);
  if (kind == Kind::kNone) {
    discard();
    return c.Fail(404, "parent: Unknown object: " + *parent);
  }
  if (kind != Kind::kTask && kind != Kind::kProject) {
    discard();
    return c.Fail(400, "parent: Must be a GID for a project, project_brief, or task");
  }
  spec.created_ms = NowMs();
  std::string error;
  const std::string gid = world_.AddAttachment(std::move(spec), &error);
  if (gid.empty()) {
    discard();
    std::cerr << "asana-emulator: ERROR upload failed: " << error << "\n";
    return c.Fail(500, "Server Error");
  }
  // Task.modified_at changes when "attachments" is updated.
  if (Task* t = world_.MutableTask(*parent)) {
    t->modified_ms = std::max(t->modified_ms, world_.FindAttachment(gid)->created_ms);
  }
  SaveWorld();
  stats_.CountUpload();
  ReplyObject(c, 200, gid, true);
}

void Routes::PostTask(Ctx& c, const std::string& parent) {
  std::string body;
  if (!ReadBody(c, &body)) return c.Fail(400, "The request body could not be read.");
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("data") || !doc["data"].IsObject()) {
    return c.Fail(400, "data: Missing input. Send a JSON body {\"data\": {...}}.");
  }
  const auto& data = doc["data"];
  std::string name;
  if (data.HasMember("name")) {
    if (!data["name"].IsString()) return c.Fail(400, "name: Not a string");
    name.assign(data["name"].GetString(), data["name"].GetStringLength());
  }
  std::vector<std::string> projects;
  if (data.HasMember("projects")) {
    if (!data["projects"].IsArray()) return c.Fail(400, "projects: Not an array");
    for (const auto& v : data["projects"].GetArray()) {
      if (!v.IsString() || !IsAllDigits(v.GetString())) {
        return c.Fail(400, "projects: Not a valid gid");
      }
      projects.emplace_back(v.GetString());
    }
  }
  std::string task_parent = parent;
  if (parent.empty() && data.HasMember("parent") && data["parent"].IsString()) {
    task_parent = data["parent"].GetString();
  }
  std::string workspace;
  if (data.HasMember("workspace") && data["workspace"].IsString()) {
    workspace = data["workspace"].GetString();
  }
  // Options in the body ("options": {"fields": [...]}) work like opt_fields.
  if (doc.HasMember("options") && doc["options"].IsObject() && doc["options"].HasMember("fields") &&
      doc["options"]["fields"].IsArray()) {
    std::string csv;
    for (const auto& f : doc["options"]["fields"].GetArray()) {
      if (f.IsString()) csv += std::string(f.GetString()) + ",";
    }
    c.sel = ParseOptFields(csv);
    if (c.sel->empty()) c.sel.reset();
  }
  auto lock = world_.Lock();
  if (!task_parent.empty() && !world_.FindTask(task_parent)) {
    return c.Fail(404, (parent.empty() ? "parent" : "task") + std::string(": Unknown object: ") +
                           task_parent);
  }
  for (const auto& p : projects) {
    if (!world_.FindProject(p)) return c.Fail(404, "projects: Unknown object: " + p);
  }
  if (projects.empty() && task_parent.empty()) {
    if (workspace.empty()) {
      return c.Fail(400,
                    "workspace: Missing input. A task needs projects, a parent or a workspace.");
    }
    if (!world_.FindWorkspace(workspace)) {
      return c.Fail(404, "workspace: Unknown object: " + workspace);
    }
    return c.Fail(400,
                  "projects: The emulator keeps tasks in projects or under a parent task; "
                  "give projects or a parent.");
  }
  const int64_t now = NowMs();
  std::string error;
  const std::string gid = world_.AddTask(name, projects, task_parent, now, now, &error);
  if (gid.empty()) return c.Fail(400, error);
  if (data.HasMember("notes") && data["notes"].IsString()) {
    world_.MutableTask(gid)->notes = data["notes"].GetString();
  }
  SaveWorld();
  ReplyObject(c, 201, gid, true);
}

void Routes::HandleBlob(const httplib::Request& req, httplib::Response& res) {
  httplib::Request& mreq = const_cast<httplib::Request&>(req);
  mreq.ranges.clear();  // see HandleApi
  stats_.CountBlob(req.has_header("Authorization"));
  const FaultKind fault = faults_.Decide("GET", req.path);
  switch (fault) {
    case FaultKind::kNone:
      break;
    case FaultKind::kCut:  // below: the body stops half-way
      stats_.CountFault();
      break;
    case FaultKind::kLostReply:
    case FaultKind::kPageLoop:
    case FaultKind::kBadJson:
    case FaultKind::kWrongType:
    case FaultKind::kHugeNumber:
    case FaultKind::kMissingFields:
    case FaultKind::kForeignUrl:
      break;  // API-only kinds
    case FaultKind::kReset:
      stats_.CountFault();
      KillConnection(req);
      res.status = 500;
      return;
    case FaultKind::kSlow:
      stats_.CountFault();
      if (!stopper_.SleepMs(kSlowFaultMs)) return XmlError(res, 503, "SlowDown", "Shutting down");
      break;
    case FaultKind::k429:
      stats_.CountFault();
      res.set_header("Retry-After", "1");
      return XmlError(res, 429, "SlowDown", "Please reduce your request rate.");
    case FaultKind::k500:
      stats_.CountFault();
      return XmlError(res, 500, "InternalError", "We encountered an internal error.");
    case FaultKind::k502:
      stats_.CountFault();
      return XmlError(res, 502, "BadGateway", "Bad gateway.");
    case FaultKind::k503:
      stats_.CountFault();
      return XmlError(res, 503, "ServiceUnavailable", "Please reduce your request rate.");
  }
  const std::string gid = req.matches[1];
  const std::string expires_raw = req.get_param_value("expires");
  const std::string sig = req.get_param_value("sig");
  auto expires = ParseUint(expires_raw);
  if (!expires || sig.empty()) {
    return XmlError(res, 403, "AccessDenied",
                    "Query-string authentication requires expires and sig");
  }
  if (Sign(secret_, "blob:" + gid + ":" + expires_raw) != sig) {
    return XmlError(
        res, 403, "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.");
  }
  if (static_cast<int64_t>(*expires) < NowMs() / 1000) {
    return XmlError(res, 403, "AccessDenied", "Request has expired");
  }
  uint64_t size = 0;
  std::string content_type, etag;
  int fd = -1;
  {
    auto lock = world_.Lock();
    const Attachment* a = world_.FindAttachment(gid);
    if (a && a->hosted()) {
      size = a->size;
      content_type = a->content_type;
      etag = "\"" + a->sha256.substr(0, 32) + "\"";
      fd = open(world_.BlobPath(gid).c_str(), O_RDONLY | O_CLOEXEC);
    }
  }
  if (fd < 0) return XmlError(res, 404, "NoSuchKey", "The specified key does not exist.");
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("ETag", etag);
  ByteRange range{0, size};
  res.status = 200;
  if (req.has_header("Range")) {
    switch (ParseRange(req.get_header_value("Range"), size, &range)) {
      case RangeResult::kNone:
        range = {0, size};
        break;
      case RangeResult::kOne:
        res.status = 206;
        res.set_header("Content-Range", "bytes " + std::to_string(range.start) + "-" +
                                            std::to_string(range.start + range.length - 1) + "/" +
                                            std::to_string(size));
        break;
      case RangeResult::kUnsatisfiable:
        close(fd);
        res.set_header("Content-Range", "bytes */" + std::to_string(size));
        return XmlError(res, 416, "InvalidRange", "The requested range is not satisfiable");
    }
  }
  if (range.length == 0) {
    close(fd);
    res.set_content("", content_type);
    return;
  }
  struct Stream {
    Stream(int f, uint64_t s) : fd(f), start(s) {}
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    ~Stream() { close(fd); }
    int fd;
    uint64_t start;
    uint64_t sent = 0;
    std::chrono::steady_clock::time_point began = std::chrono::steady_clock::now();
  };
  auto stream = std::make_shared<Stream>(fd, range.start);
  const uint64_t bandwidth = options_.conn_bandwidth;
  // A cut download sends its first half (at least one byte), then the connection dies.
  const uint64_t cut_at = fault == FaultKind::kCut ? std::max<uint64_t>(range.length / 2, 1) : 0;
  res.set_content_provider(
      static_cast<size_t>(range.length), content_type,
      [this, &req, stream, bandwidth, cut_at](size_t offset, size_t length,
                                              httplib::DataSink& sink) {
        if (cut_at > 0 && offset >= cut_at) {
          KillConnection(req);
          return false;
        }
        size_t chunk = std::min<size_t>(length, 64 * 1024);
        if (cut_at > 0) chunk = std::min<size_t>(chunk, static_cast<size_t>(cut_at - offset));
        if (bandwidth > 0) chunk = std::min<size_t>(chunk, std::max<uint64_t>(bandwidth / 20, 512));
        std::string buf(chunk, '\0');
        ssize_t n =
            pread(stream->fd, buf.data(), chunk, static_cast<off_t>(stream->start + offset));
        if (n <= 0) return false;
        if (bandwidth > 0) {
          // Pace so that bytes sent so far never run ahead of the allowed rate.
          const auto due =
              stream->began + std::chrono::microseconds((stream->sent + static_cast<uint64_t>(n)) *
                                                        1000000 / bandwidth);
          const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
              due - std::chrono::steady_clock::now());
          if (wait.count() > 0 && !stopper_.SleepMs(wait.count())) return false;
        }
        if (!sink.write(buf.data(), static_cast<size_t>(n))) return false;
        stream->sent += static_cast<uint64_t>(n);
        stats_.AddBlobBytes(static_cast<uint64_t>(n));
        return true;
      },
      [stream](bool) {});
}

void Routes::ControlContent(const httplib::Request& req, httplib::Response& res) {
  const std::string gid = req.matches[1];
  std::string path;
  {
    auto lock = world_.Lock();
    const Attachment* a = world_.FindAttachment(gid);
    if (!a || !a->hosted()) return JsonError(res, 404, "no asana-hosted attachment " + gid);
    path = world_.BlobPath(gid);
  }
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  res.set_content(std::move(data), "application/octet-stream");
}

void Routes::ControlAddObject(const httplib::Request& req, httplib::Response& res) {
  rapidjson::Document doc;
  doc.Parse(req.body.data(), req.body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return JsonError(res, 400, "body must be a JSON object");
  auto str = [&](const char* key) -> std::string {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || !it->value.IsString()) return "";
    return std::string(it->value.GetString(), it->value.GetStringLength());
  };
  auto time = [&](const char* key, int64_t fallback) -> std::optional<int64_t> {
    if (!doc.HasMember(key)) return fallback;
    if (!doc[key].IsString()) return std::nullopt;
    return ParseTimestamp(doc[key].GetString());
  };
  const std::string type = str("type");
  const std::string name = str("name");
  const int64_t now = NowMs();
  auto created = time("created_at", now);
  if (!created) return JsonError(res, 400, "created_at: bad timestamp");
  auto modified = time("modified_at", *created);
  if (!modified) return JsonError(res, 400, "modified_at: bad timestamp");
  auto lock = world_.Lock();
  std::string gid, error;
  int fail_status = 400;
  if (type == "workspace") {
    gid = world_.AddWorkspace(name, *created);
  } else if (type == "project") {
    std::string ws = str("workspace").empty() ? str("parent") : str("workspace");
    gid = world_.AddProject(ws, name, *created, *modified);
    if (gid.empty()) {
      error = "unknown workspace " + ws;
      fail_status = 404;
    }
  } else if (type == "task") {
    std::vector<std::string> projects;
    std::string parent = str("parent");
    if (!str("project").empty()) projects.push_back(str("project"));
    if (doc.HasMember("projects") && doc["projects"].IsArray()) {
      for (const auto& p : doc["projects"].GetArray()) {
        if (p.IsString()) projects.emplace_back(p.GetString());
      }
    }
    if (world_.KindOf(parent) == Kind::kProject) {  // "parent" may name the project
      projects.push_back(parent);
      parent.clear();
    }
    if (const Section* sec = world_.FindSection(str("section")); sec && projects.empty()) {
      projects.push_back(sec->project);  // "section" alone names the project too
    }
    gid = world_.AddTask(name, projects, parent, *created, *modified, &error);
    if (gid.empty()) fail_status = 404;
    if (!gid.empty() && !str("section").empty() && !world_.MoveTaskToSection(gid, str("section"))) {
      world_.Remove(gid);
      gid.clear();
      error = "section " + str("section") + " is not a section of the task's projects";
    }
  } else if (type == "section") {
    const std::string project = str("project").empty() ? str("parent") : str("project");
    gid = world_.AddSection(project, name, *created);
    if (gid.empty()) {
      error = "unknown project " + project;
      fail_status = 404;
    }
  } else if (type == "attachment") {
    NewAttachment spec;
    spec.parent = str("parent");
    spec.name = name;
    spec.host = str("host").empty() ? "asana" : str("host");
    spec.view_url = str("view_url");
    spec.content_type = str("content_type");
    spec.created_ms = *created;
    if (doc.HasMember("content_base64")) {
      auto bytes = Base64Decode(str("content_base64"));
      if (!bytes) return JsonError(res, 400, "content_base64: not base64");
      spec.content = std::move(*bytes);
    } else if (doc.HasMember("content")) {
      spec.content = str("content");
    } else if (doc.HasMember("size")) {
      if (!doc["size"].IsUint64()) return JsonError(res, 400, "size: not a non-negative integer");
      spec.size = doc["size"].GetUint64();
    } else {
      spec.size = 0;
    }
    Kind parent_kind = world_.KindOf(spec.parent);
    const std::string parent = spec.parent;
    if (parent_kind == Kind::kNone) {
      error = "unknown parent " + parent;
      fail_status = 404;
    } else {
      gid = world_.AddAttachment(std::move(spec), &error);
      if (!gid.empty()) {
        if (Task* t = world_.MutableTask(parent)) {
          t->modified_ms = std::max(t->modified_ms, *created);
        }
      }
    }
  } else {
    return JsonError(res, 400, "type must be workspace, project, section, task or attachment");
  }
  if (gid.empty()) return JsonError(res, fail_status, error);
  SaveWorld();
  res.set_content("{\"gid\":\"" + gid + "\"}", kJson);
}

void Routes::ControlDeleteObject(const httplib::Request& req, httplib::Response& res) {
  const std::string gid = req.matches[1];
  auto lock = world_.Lock();
  if (!world_.Remove(gid)) return JsonError(res, 404, "no object " + gid);
  SaveWorld();
  res.set_content("{\"deleted\":\"" + gid + "\"}", kJson);
}

}  // namespace asanafs::emulator
