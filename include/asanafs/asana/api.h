// asana/api: the seam between the filesystem and Asana. Layer: asana.
//
// Every call returns a Result whose Error is classified by HTTP status:
// 404 → kNotFound, 401 → kUnauthenticated, 403 → kPermissionDenied,
// 429 after retries → kRateLimited, 5xx/network after retries → kUnavailable,
// deadline → kTimeout, unparsable reply → kBadResponse, 400 → kInvalidArgument,
// 413 / over 100 MB → kTooLarge. List calls follow next_page to the end.
// vfs/ is tested against fakes of this interface.
#ifndef ASANAFS_ASANA_API_H_
#define ASANAFS_ASANA_API_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "asanafs/asana/types.h"
#include "asanafs/util/result.h"

namespace asanafs::asana {

// Told how many bytes of an upload have been sent so far.
using UploadProgress = std::function<void(uint64_t sent)>;
// Gives bytes [offset, offset + len) of an upload that is still being
// produced, blocking until some are there: the count (0 = the end) or an error
// that aborts the upload. Called again from 0 if the request is re-sent.
using UploadReader = std::function<Result<size_t>(uint64_t offset, char* buf, size_t len)>;
// Receives downloaded bytes in order; returning false aborts the download.
using ByteSink = std::function<bool(std::string_view)>;

class AsanaApi {
 public:
  virtual ~AsanaApi() = default;

  // GET /users/me — used at mount to check the token.
  virtual Result<User> GetMe() = 0;
  // GET /workspaces
  virtual Result<std::vector<Workspace>> ListWorkspaces() = 0;
  // GET /workspaces/{gid}/projects (name, created_at, modified_at)
  virtual Result<std::vector<Project>> ListProjects(const std::string& workspace_gid) = 0;
  // GET /projects/{gid}/tasks (name, created_at, modified_at)
  virtual Result<std::vector<Task>> ListTasks(const std::string& project_gid) = 0;
  // GET /tasks/{gid}/subtasks (name, created_at, modified_at)
  virtual Result<std::vector<Task>> ListSubtasks(const std::string& task_gid) = 0;
  // GET /projects/{gid}/sections (name, created_at) — for -o sections.
  virtual Result<std::vector<Section>> ListSections(const std::string& project_gid) {
    (void)project_gid;
    return MakeError(ErrorCode::kNotSupported, "sections are not supported here");
  }
  // GET /sections/{gid}/tasks (name, created_at, modified_at) — for -o sections.
  virtual Result<std::vector<Task>> ListSectionTasks(const std::string& section_gid) {
    (void)section_gid;
    return MakeError(ErrorCode::kNotSupported, "sections are not supported here");
  }
  // GET /attachments?parent={gid} (a task, or a project: its Key resources) with name,
  // resource_subtype, host, size, created_at, view_url — everything stat needs, in the listing
  // itself.
  virtual Result<std::vector<Attachment>> ListAttachments(const std::string& parent_gid) = 0;
  // GET /attachments/{gid} with a fresh download_url.
  virtual Result<Attachment> GetAttachment(const std::string& gid) = 0;
  // GET `download_url` (bytes [offset, offset+length) or to the end when
  // length is 0) and streams them to `sink`. Never sends the Asana token:
  // the URL belongs to a storage host. 403 (expired URL) → kPermissionDenied.
  // Returns the number of bytes given to `sink`.
  virtual Result<uint64_t> Download(const std::string& download_url, uint64_t offset,
                                    uint64_t length, const ByteSink& sink) = 0;

  // POST /attachments (multipart: parent, file) — the only upload route.
  // `progress`, when set, is told the bytes sent so far.
  virtual Result<Attachment> UploadAttachment(const std::string& parent_gid,
                                              const std::string& file_name,
                                              const std::string& local_path,
                                              const UploadProgress& progress = {}) = 0;
  // The same POST with the file's bytes taken from `reader` as they are written
  // (chunked transfer encoding): the upload runs while the file is produced
  // and completes when `reader` says the end. An error from `reader` aborts
  // the request before its body is complete, so nothing is created.
  virtual Result<Attachment> UploadAttachmentStream(const std::string& parent_gid,
                                                    const std::string& file_name,
                                                    const UploadReader& reader,
                                                    const UploadProgress& progress = {}) {
    (void)parent_gid;
    (void)file_name;
    (void)reader;
    (void)progress;
    return MakeError(ErrorCode::kNotSupported, "streamed uploads are not supported here");
  }
  // DELETE /attachments/{gid}
  virtual Status DeleteAttachment(const std::string& gid) = 0;
  // POST /tasks with projects=[project_gid]
  virtual Result<Task> CreateTask(const std::string& project_gid, const std::string& name) = 0;
  // POST /tasks/{gid}/subtasks
  virtual Result<Task> CreateSubtask(const std::string& parent_task_gid,
                                     const std::string& name) = 0;
  // GET /events?resource={gid}&sync={token}. A missing or expired token is not
  // an error: the page says `expired` and carries a fresh token (Asana's 412).
  virtual Result<EventPage> GetEvents(const std::string& resource_gid, const std::string& sync) {
    (void)resource_gid;
    (void)sync;
    return MakeError(ErrorCode::kNotSupported, "events are not supported here");
  }
};

}  // namespace asanafs::asana

#endif  // ASANAFS_ASANA_API_H_
