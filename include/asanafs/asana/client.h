// asana/client: AsanaClient, the AsanaApi implementation that speaks Asana's
// REST API over any HttpTransport. Layer: asana (http and util below it).
//
// It owns the wire dialect: the bearer header (API calls only — never the
// storage host of a download URL), `limit`/`offset` pagination to the last
// page, `opt_fields` naming exactly the fields the filesystem uses (each one
// listed in the spec's enum for its operation), multipart uploads, and the
// mapping of HTTP statuses to ErrorCode. Retrying is not its job: wrap the
// transport in http::RetryingTransport for that.
#ifndef ASANAFS_ASANA_CLIENT_H_
#define ASANAFS_ASANA_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asanafs/asana/api.h"
#include "asanafs/http/transport.h"

namespace asanafs::asana {

struct ClientOptions {
  std::string api_url;   // e.g. "https://app.asana.com/api/1.0" or "http://127.0.0.1:PORT/api/1.0"
  std::string token;     // personal access token; sent as "Authorization: Bearer <token>"
  int page_limit = 100;  // `limit` of list calls, clamped to Asana's 1..100
  std::chrono::milliseconds request_timeout{30000};  // each API call
  std::chrono::milliseconds connect_timeout{10000};
  // Uploads and downloads move up to 100 MB: their deadline is long, and the
  // transport's stall detection catches a dead connection sooner.
  std::chrono::milliseconds transfer_timeout{std::chrono::minutes(30)};
  // A list longer than this many pages is treated as a looping server.
  int max_pages = 10000;
  // Asana's attachment size limit ("100MB"), read as 100 MiB.
  uint64_t max_upload_bytes = 100ull << 20;
};

// Maps a non-2xx HTTP status to an ErrorCode: 404 kNotFound, 401
// kUnauthenticated, 402/403 kPermissionDenied, 429 kRateLimited, 5xx
// kUnavailable, 400 kInvalidArgument, 413 kTooLarge, anything else
// kBadResponse.
ErrorCode ClassifyHttpStatus(int status);

// Builds the Error for a non-2xx reply to `method` `path` (no query string):
// message "<METHOD> <path> → <status>: <errors[0].message>" (the last part
// only when the body has one), http_status set, and retry_after from a 429's
// Retry-After header.
Error HttpError(std::string_view method, std::string_view path, const http::HttpResponse& resp);

class AsanaClient : public AsanaApi {
 public:
  // `transport` must outlive the client. Thread-safe if the transport is.
  AsanaClient(http::HttpTransport& transport, ClientOptions options);

  Result<User> GetMe() override;
  Result<std::vector<Workspace>> ListWorkspaces() override;
  Result<std::vector<Project>> ListProjects(const std::string& workspace_gid) override;
  Result<std::vector<Task>> ListTasks(const std::string& project_gid) override;
  Result<std::vector<Task>> ListSubtasks(const std::string& task_gid) override;
  Result<std::vector<Section>> ListSections(const std::string& project_gid) override;
  // getTasksForSection rather than GET /tasks?section=: getTasks documents
  // that it needs a project or tag unless assignee+workspace are given.
  Result<std::vector<Task>> ListSectionTasks(const std::string& section_gid) override;
  Result<std::vector<Attachment>> ListAttachments(const std::string& parent_gid) override;
  Result<Attachment> GetAttachment(const std::string& gid) override;
  // Sends no Authorization header. A 200 reply to a ranged request is skipped
  // to `offset` here; a Range starting at or past the end (416) gives 0 bytes.
  Result<uint64_t> Download(const std::string& download_url, uint64_t offset, uint64_t length,
                            const ByteSink& sink) override;
  // Refuses (kTooLarge) a local file over max_upload_bytes before sending. The
  // file name is percent-encoded in the part's filename, as the spec asks for
  // non-ASCII names; that also rules out quote/CR/LF injection.
  Result<Attachment> UploadAttachment(const std::string& parent_gid, const std::string& file_name,
                                      const std::string& local_path,
                                      const UploadProgress& progress = {}) override;
  Result<Attachment> UploadAttachmentStream(const std::string& parent_gid,
                                            const std::string& file_name,
                                            const UploadReader& reader,
                                            const UploadProgress& progress = {}) override;
  Status DeleteAttachment(const std::string& gid) override;
  Result<Task> CreateTask(const std::string& project_gid, const std::string& name) override;
  Result<Task> CreateSubtask(const std::string& parent_task_gid, const std::string& name) override;
  Result<EventPage> GetEvents(const std::string& resource_gid, const std::string& sync) override;

 private:
  using Query = std::vector<std::pair<std::string, std::string>>;  // values not yet encoded

  // Sends one API call and returns the 2xx reply (or one with status
  // `also_ok`) or the classified Error.
  Result<http::HttpResponse> Call(const std::string& method, const std::string& path,
                                  const Query& query, http::HttpRequest req, int also_ok = 0);
  // POST /attachments with `file` (its content source set) as the file part.
  Result<Attachment> PostAttachment(const std::string& parent_gid, const std::string& file_name,
                                    http::MultipartPart file, const UploadProgress& progress);
  // GETs `path` page by page until next_page is null.
  template <typename T, typename Decode>
  Result<std::vector<T>> ListAll(const std::string& path, Query query, Decode decode);
  std::string Url(const std::string& path, const Query& query) const;

  http::HttpTransport& transport_;
  ClientOptions options_;
};

}  // namespace asanafs::asana

#endif  // ASANAFS_ASANA_CLIENT_H_
