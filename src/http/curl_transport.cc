#include "asanafs/http/curl_transport.h"

#include <curl/curl.h>
#include <strings.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "asanafs/http/idle_pool.h"
#include "asanafs/http/url.h"
#include "asanafs/util/log.h"

#ifndef ASANAFS_VERSION
#define ASANAFS_VERSION "dev"
#endif

namespace asanafs::http {
namespace {

// RAII owners for curl's C handles.
struct CurlEasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct CurlMimeDeleter {
  void operator()(curl_mime* m) const { curl_mime_free(m); }
};
struct CurlShareDeleter {
  void operator()(CURLSH* s) const { curl_share_cleanup(s); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;
using CurlMimePtr = std::unique_ptr<curl_mime, CurlMimeDeleter>;
using CurlSharePtr = std::unique_ptr<CURLSH, CurlShareDeleter>;

std::once_flag g_curl_init_once;
CURLcode g_curl_init_rc = CURLE_OK;

void GlobalInit() {
  // curl_global_init is not thread-safe itself; call_once makes it so.
  std::call_once(g_curl_init_once, [] { g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One reply being received: written by curl's callbacks on the sending thread.
struct Transfer {
  const HttpRequest* req = nullptr;
  CURL* easy = nullptr;
  uint64_t max_buffered = 0;
  HttpResponse resp;
  bool announced = false;            // on_response was called for this reply
  bool aborted_by_receiver = false;  // on_body / on_response returned false
  bool body_too_large = false;
};

bool IsSuccess(long code) { return code >= 200 && code < 300; }

// CURLOPT_BUFFERSIZE for streamed bodies (at most 512 KiB before curl 7.88).
constexpr long kStreamBufferBytes = 256L * 1024;
// CURLOPT_UPLOAD_BUFFERSIZE for multipart uploads (curl allows up to 2 MiB).
constexpr long kUploadBufferBytes = 1024L * 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

size_t OnHeader(char* data, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  const size_t n = size * nitems;
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {
    // A new status line (after 1xx or a followed redirect): forget the headers
    // of the previous reply so only the final one's remain.
    t->resp.headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return n;  // the blank line ending a block, or obsolete line folding
  }
  t->resp.headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                               std::string(Trim(line.substr(colon + 1))));
  return n;
}

long ResponseCode(CURL* easy) {
  long code = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

// Calls on_response once per 2xx reply. Returns false when it aborted.
bool Announce(Transfer* t, long code) {
  if (t->announced) {
    return true;
  }
  t->announced = true;
  if (t->req->on_response && !t->req->on_response(static_cast<int>(code), t->resp.headers)) {
    t->aborted_by_receiver = true;
    return false;
  }
  return true;
}

int OnProgress(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(userdata);
  t->req->on_upload_progress(static_cast<uint64_t>(ulnow));
  return 0;
}

size_t OnWrite(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  const size_t n = size * nmemb;
  const long code = ResponseCode(t->easy);
  if (t->req->on_body && IsSuccess(code)) {
    if (!Announce(t, code)) {
      return 0;
    }
    t->resp.body_bytes += n;
    if (!t->req->on_body(std::string_view(data, n))) {
      t->aborted_by_receiver = true;
      return 0;
    }
    return n;
  }
  if (t->resp.body.size() + n > t->max_buffered) {
    t->body_too_large = true;
    return 0;
  }
  t->resp.body.append(data, n);
  t->resp.body_bytes += n;
  return n;
}

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool IsToken(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

bool IsAuthorization(std::string_view name) {
  return name.size() == 13 && strncasecmp(name.data(), "Authorization", 13) == 0;
}

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// Builds the header list. Rejects names/values that could inject headers.
Result<CurlSlistPtr> BuildHeaders(const HttpRequest& req, bool* has_auth) {
  *has_auth = false;
  CurlSlistPtr list;
  auto append = [&list](const std::string& line) -> Status {
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    if (next == nullptr) {
      return MakeError(ErrorCode::kInternal, "out of memory building request headers");
    }
    (void)list.release();
    list.reset(next);
    return OkStatus();
  };
  for (const auto& [name, value] : req.headers) {
    if (!IsToken(name) || HasCrLf(value) || value.find('\0') != std::string::npos) {
      return Invalid("malformed request header (name or value)");
    }
    if (IsAuthorization(name)) {
      *has_auth = true;
    }
    RETURN_IF_ERROR(append(name + ": " + value));
  }
  // No "Expect: 100-continue" round trip (and its 1 s stall on servers that
  // ignore it): uploads are capped at 100 MB and refused before sending.
  RETURN_IF_ERROR(append("Expect:"));
  return list;
}

// A multipart part produced while it is sent (MultipartPart::reader): where
// curl is in it, and why it was aborted when the reader failed.
struct PartStream {
  const PartReader* reader = nullptr;
  uint64_t offset = 0;
  std::optional<Error> error;
};

size_t ReadPart(char* buf, size_t size, size_t nitems, void* arg) {
  auto* p = static_cast<PartStream*>(arg);
  Result<size_t> n = (*p->reader)(p->offset, buf, size * nitems);
  if (!n.has_value()) {
    p->error = n.error();
    return CURL_READFUNC_ABORT;
  }
  p->offset += *n;
  return *n;
}

// curl rewinds a part before sending it again (a redirect, a lost connection).
int SeekPart(void* arg, curl_off_t offset, int origin) {
  auto* p = static_cast<PartStream*>(arg);
  if (origin != SEEK_SET || offset < 0) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  p->offset = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

Result<CurlMimePtr> BuildMime(CURL* easy, const std::vector<MultipartPart>& parts,
                              std::vector<std::unique_ptr<PartStream>>* streams) {
  CurlMimePtr mime(curl_mime_init(easy));
  if (!mime) {
    return MakeError(ErrorCode::kInternal, "curl_mime_init failed");
  }
  for (const MultipartPart& p : parts) {
    curl_mimepart* part = curl_mime_addpart(mime.get());
    if (part == nullptr || HasCrLf(p.name) || HasCrLf(p.filename) || HasCrLf(p.content_type)) {
      return Invalid("malformed multipart part");
    }
    curl_mime_name(part, p.name.c_str());
    if (!p.file_path.empty()) {
      // Streamed from disk by curl: a 100 MB upload never sits in memory.
      CURLcode rc = curl_mime_filedata(part, p.file_path.c_str());
      if (rc != CURLE_OK) {
        Error e = MakeError(ErrorCode::kIo, "cannot read the file to upload (" +
                                                std::string(curl_easy_strerror(rc)) + ")");
        e.sys_errno = EIO;
        return e;
      }
      curl_mime_filename(part, p.filename.c_str());
    } else if (p.reader) {
      // Size unknown (-1): curl sends the body with chunked transfer encoding.
      streams->push_back(std::make_unique<PartStream>());
      streams->back()->reader = &p.reader;
      curl_mime_data_cb(part, -1, ReadPart, SeekPart, nullptr, streams->back().get());
      curl_mime_filename(part, p.filename.c_str());
    } else {
      curl_mime_data(part, p.value.data(), p.value.size());
    }
    if (!p.content_type.empty()) {
      curl_mime_type(part, p.content_type.c_str());
    }
  }
  return mime;
}

// Removes the URL's query string from a curl error text, should curl echo it.
std::string ScrubQuery(std::string text, const std::string& url) {
  size_t q = url.find('?');
  if (q == std::string::npos || q + 1 >= url.size()) {
    return text;
  }
  const std::string query = url.substr(q + 1);
  for (size_t pos; (pos = text.find(query)) != std::string::npos;) {
    text.replace(pos, query.size(), "…");
  }
  return text;
}

Error CurlError(CURLcode rc, const char* errbuf, const HttpRequest& req) {
  std::string message =
      "curl error " + std::to_string(static_cast<int>(rc)) + " (" + curl_easy_strerror(rc) + ")";
  if (errbuf[0] != '\0') {
    message += ": " + ScrubQuery(errbuf, req.url);
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return MakeError(ErrorCode::kTimeout, std::move(message));
  }
  Error e = MakeError(ErrorCode::kUnavailable, std::move(message));
  if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
      rc == CURLE_COULDNT_RESOLVE_PROXY) {
    e.sys_errno = ECONNREFUSED;  // nothing was sent: see RequestNotSent()
  }
  return e;
}

}  // namespace

struct CurlTransport::Impl {
  explicit Impl(CurlTransportOptions o)
      : options(std::move(o)), idle(options.max_idle_handles, options.max_idle_age) {
    if (options.user_agent.empty()) {
      options.user_agent = std::string("asanafs/") + ASANAFS_VERSION;
    }
    share.reset(curl_share_init());
    if (share) {
      curl_share_setopt(share.get(), CURLSHOPT_LOCKFUNC, &Impl::Lock);
      curl_share_setopt(share.get(), CURLSHOPT_UNLOCKFUNC, &Impl::Unlock);
      curl_share_setopt(share.get(), CURLSHOPT_USERDATA, this);
      // Not CURL_LOCK_DATA_CONNECT: libcurl does not support one connection
      // cache used by concurrent threads; pooled easy handles keep their own.
      curl_share_setopt(share.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
      curl_share_setopt(share.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
  }

  ~Impl() {
    idle.clear();  // easy handles before the share they use
  }

  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* userptr) {
    static_cast<Impl*>(userptr)->locks[Index(data)].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* userptr) {
    static_cast<Impl*>(userptr)->locks[Index(data)].unlock();
  }
  static size_t Index(curl_lock_data data) {
    auto i = static_cast<size_t>(data);
    return i < CURL_LOCK_DATA_LAST ? i : 0;
  }

  CurlEasyPtr Acquire() {
    std::vector<CurlEasyPtr> stale;  // closed after the lock is released
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      stale = idle.Trim(std::chrono::steady_clock::now());
      if (auto easy = idle.Take()) {
        return std::move(*easy);
      }
    }
    return CurlEasyPtr(curl_easy_init());
  }

  // Takes back a handle that was curl_easy_reset() (which drops every option
  // and the share but keeps live connections for the next request).
  void Release(CurlEasyPtr easy) {
    std::vector<CurlEasyPtr> dropped;  // closed after the lock is released
    std::lock_guard<std::mutex> lock(pool_mu);
    dropped = idle.Put(std::move(easy), std::chrono::steady_clock::now());
  }

  Status Configure(CURL* easy, const HttpRequest& req, Transfer* t, curl_slist* headers,
                   curl_mime* mime, bool has_auth, char* errbuf);

  CurlTransportOptions options;
  // One mutex per kind of shared data (DNS, TLS sessions), as libcurl asks.
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
  CurlSharePtr share;  // declared before `idle`: outlives the handles using it
  std::mutex pool_mu;  // guards `idle`
  IdlePool<CurlEasyPtr> idle;
};

Status CurlTransport::Impl::Configure(CURL* easy, const HttpRequest& req, Transfer* t,
                                      curl_slist* headers, curl_mime* mime, bool has_auth,
                                      char* errbuf) {
  auto set = [easy](CURLoption opt, auto value) -> Status {
    CURLcode rc = curl_easy_setopt(easy, opt, value);
    if (rc != CURLE_OK) {
      return MakeError(ErrorCode::kInternal,
                       std::string("curl_easy_setopt failed: ") + curl_easy_strerror(rc));
    }
    return OkStatus();
  };
  RETURN_IF_ERROR(set(CURLOPT_URL, req.url.c_str()));
  RETURN_IF_ERROR(set(CURLOPT_PROTOCOLS_STR, "http,https"));
  RETURN_IF_ERROR(set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
  RETURN_IF_ERROR(set(CURLOPT_NOSIGNAL, 1L));
  RETURN_IF_ERROR(set(CURLOPT_VERBOSE, 0L));
  RETURN_IF_ERROR(set(CURLOPT_SSL_VERIFYPEER, 1L));
  RETURN_IF_ERROR(set(CURLOPT_SSL_VERIFYHOST, 2L));
  if (!options.ca_bundle.empty()) {
    RETURN_IF_ERROR(set(CURLOPT_CAINFO, options.ca_bundle.c_str()));
  }
  if (share) {
    RETURN_IF_ERROR(set(CURLOPT_SHARE, share.get()));
  }
  RETURN_IF_ERROR(set(CURLOPT_ERRORBUFFER, errbuf));
  RETURN_IF_ERROR(set(CURLOPT_USERAGENT, options.user_agent.c_str()));
  RETURN_IF_ERROR(set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count())));
  RETURN_IF_ERROR(set(CURLOPT_TIMEOUT_MS,
                      static_cast<long>(req.timeout.count() > 0 ? req.timeout.count() : 0)));
  RETURN_IF_ERROR(set(CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes_per_s));
  const long stall_s = req.stall_timeout.count() > 0
                           ? static_cast<long>((req.stall_timeout.count() + 999) / 1000)
                           : static_cast<long>(options.low_speed_time.count());
  RETURN_IF_ERROR(set(CURLOPT_LOW_SPEED_TIME, stall_s));
  RETURN_IF_ERROR(set(CURLOPT_TCP_KEEPALIVE, 1L));
  // Each pooled handle keeps its own connections (libcurl cannot share them):
  // one to the API and one to the storage host is all it needs. The default
  // of 5 let a soak's sockets (and their buffers) follow every past burst.
  RETURN_IF_ERROR(set(CURLOPT_MAXCONNECTS, 2L));
  // A bearer token must never be replayed to wherever a Location points.
  RETURN_IF_ERROR(set(CURLOPT_FOLLOWLOCATION, has_auth ? 0L : 1L));
  RETURN_IF_ERROR(set(CURLOPT_MAXREDIRS, 5L));
  RETURN_IF_ERROR(set(CURLOPT_HEADERFUNCTION, &OnHeader));
  RETURN_IF_ERROR(set(CURLOPT_HEADERDATA, t));
  RETURN_IF_ERROR(set(CURLOPT_WRITEFUNCTION, &OnWrite));
  RETURN_IF_ERROR(set(CURLOPT_WRITEDATA, t));
  if (req.on_upload_progress) {
    RETURN_IF_ERROR(set(CURLOPT_XFERINFOFUNCTION, &OnProgress));
    RETURN_IF_ERROR(set(CURLOPT_XFERINFODATA, t));
    RETURN_IF_ERROR(set(CURLOPT_NOPROGRESS, 0L));
  }
  if (req.on_body) {
    // Streamed bodies (content downloads) are received 256 KiB at a time rather than
    // curl's default 16 KiB: a 100 MB download costs ~450 recv/poll rounds instead of
    // ~6,600 (on_body still gets pieces of at most CURL_MAX_WRITE_SIZE, 16 KiB).
    RETURN_IF_ERROR(set(CURLOPT_BUFFERSIZE, kStreamBufferBytes));
  }
  RETURN_IF_ERROR(set(CURLOPT_HTTPHEADER, headers));
  // libcurl silently re-sends a request whose reused connection died before any reply byte
  // ("Connection died, retrying a fresh connect"): for a POST that may already have been
  // carried out (an upload whose reply was lost) that is a duplicate. Such requests get a
  // connection of their own, so a failure reaches the caller, which checks before retrying.
  RETURN_IF_ERROR(set(CURLOPT_FRESH_CONNECT, req.idempotent ? 0L : 1L));
  if (req.range) {
    std::string range = std::to_string(req.range->first) + "-";
    if (req.range->second != kRangeToEnd) {
      range += std::to_string(req.range->second);
    }
    RETURN_IF_ERROR(set(CURLOPT_RANGE, range.c_str()));  // curl copies the string
  }
  if (req.method == "GET") {
    RETURN_IF_ERROR(set(CURLOPT_HTTPGET, 1L));
  } else if (req.method == "HEAD") {
    RETURN_IF_ERROR(set(CURLOPT_NOBODY, 1L));
  } else {
    if (mime != nullptr) {
      // Uploads are sent from the staged file 1 MiB per read/send round
      // rather than curl's default 64 KiB.
      RETURN_IF_ERROR(set(CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferBytes));
      RETURN_IF_ERROR(set(CURLOPT_MIMEPOST, mime));
    } else if (req.method == "POST" || !req.body.empty()) {
      RETURN_IF_ERROR(set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size())));
      RETURN_IF_ERROR(set(CURLOPT_POSTFIELDS, req.body.data()));
    }
    if (req.method != "POST") {
      RETURN_IF_ERROR(set(CURLOPT_CUSTOMREQUEST, req.method.c_str()));
    }
  }
  return OkStatus();
}

CurlTransport::CurlTransport() : CurlTransport(CurlTransportOptions{}) {}

CurlTransport::CurlTransport(CurlTransportOptions options) {
  GlobalInit();
  impl_ = std::make_unique<Impl>(std::move(options));
}

CurlTransport::~CurlTransport() = default;

Result<HttpResponse> CurlTransport::Send(const HttpRequest& req) {
  const auto start = std::chrono::steady_clock::now();
  Result<HttpResponse> result = SendOnce(req);
  if (GetLogLevel() <= LogLevel::kDebug) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    // Method and path only: the query may hold a signature, headers the token.
    const std::string what = req.method + " " + UrlPathForLog(req.url);
    if (result.has_value()) {
      LOG(DEBUG) << "HTTP " << what << " → " << result->status << " (" << result->body_bytes
                 << " bytes, " << ms << " ms)";
    } else {
      LOG(DEBUG) << "HTTP " << what << " failed after " << ms << " ms: " << result.error().message;
    }
  }
  return result;
}

Result<HttpResponse> CurlTransport::SendOnce(const HttpRequest& req) {
  if (g_curl_init_rc != CURLE_OK || !impl_->share) {
    return MakeError(ErrorCode::kInternal, "libcurl failed to initialise");
  }
  if (!IsToken(req.method)) {
    return Invalid("malformed HTTP method");
  }
  bool has_auth = false;
  ASSIGN_OR_RETURN(CurlSlistPtr headers, BuildHeaders(req, &has_auth));
  CurlEasyPtr easy = impl_->Acquire();
  if (!easy) {
    return MakeError(ErrorCode::kInternal, "curl_easy_init failed");
  }
  CurlMimePtr mime;
  std::vector<std::unique_ptr<PartStream>> part_streams;
  if (!req.multipart.empty()) {
    auto built = BuildMime(easy.get(), req.multipart, &part_streams);
    if (!built.has_value()) {
      curl_easy_reset(easy.get());
      impl_->Release(std::move(easy));
      return built.error();
    }
    mime = std::move(built).value();
  }
  Transfer t;
  t.req = &req;
  t.easy = easy.get();
  t.max_buffered = impl_->options.max_buffered_body;
  char errbuf[CURL_ERROR_SIZE];
  errbuf[0] = '\0';
  Status configured =
      impl_->Configure(easy.get(), req, &t, headers.get(), mime.get(), has_auth, errbuf);
  CURLcode rc = configured.has_value() ? curl_easy_perform(easy.get()) : CURLE_OK;
  const long code = ResponseCode(easy.get());
  // The handle must stop pointing at `errbuf`, `t`, headers and mime before
  // they go away, and go back to the pool only after the mime it made.
  curl_easy_reset(easy.get());
  mime.reset();
  impl_->Release(std::move(easy));
  if (!configured.has_value()) {
    return configured.error();
  }
  if (t.aborted_by_receiver) {
    Error e = MakeError(ErrorCode::kIo, "transfer stopped by the body receiver");
    e.sys_errno = EIO;
    return e;
  }
  for (const auto& p : part_streams) {
    if (p->error) {
      return *p->error;  // the body's producer gave up: nothing was completed
    }
  }
  if (t.body_too_large) {
    return MakeError(ErrorCode::kBadResponse,
                     "reply body larger than " + std::to_string(t.max_buffered) + " bytes");
  }
  if (rc != CURLE_OK) {
    return CurlError(rc, errbuf, req);
  }
  t.resp.status = static_cast<int>(code);
  if (req.on_body && IsSuccess(code) && !Announce(&t, code)) {
    Error e = MakeError(ErrorCode::kIo, "transfer stopped by the body receiver");
    e.sys_errno = EIO;
    return e;
  }
  return std::move(t.resp);
}

}  // namespace asanafs::http
