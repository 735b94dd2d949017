// tests/fakes/fake_asana: an in-memory Asana world implementing AsanaApi, for
// vfs tests without a network. Counts calls per method so tests can assert
// request budgets; `fail_next` injects one error into the next call.
#ifndef ASANAFS_TESTS_FAKES_FAKE_ASANA_H_
#define ASANAFS_TESTS_FAKES_FAKE_ASANA_H_

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "asanafs/asana/api.h"

namespace asanafs::testing {

class FakeAsana : public asana::AsanaApi {
 public:
  struct AttachmentRecord {
    asana::Attachment meta;
    std::string content;
  };

  // World building (not counted as calls).
  void AddWorkspace(const std::string& gid, const std::string& name);
  void AddProject(const std::string& ws, const asana::Project& p);
  void AddTask(const std::string& project, const asana::Task& t);
  void AddSubtask(const std::string& parent_task, const asana::Task& t);
  // Sections of a project and the tasks in each (for -o sections).
  void AddSection(const std::string& project, const asana::Section& s);
  void AddTaskToSection(const std::string& section, const asana::Task& t);
  void AddAttachment(const std::string& task, asana::Attachment a, std::string content);
  void RemoveAttachment(const std::string& gid);

  // Number of calls made to `method` ("ListAttachments", "Download", …).
  int Calls(const std::string& method) const;
  int TotalCalls() const;
  void ResetCalls();
  // The next call to `method` fails with `error`.
  void FailNext(const std::string& method, Error error);
  // Download() answers 403 (expired URL) this many more times.
  int expire_downloads = 0;
  // Bytes handed out by Download() so far.
  uint64_t DownloadedBytes() const;
  // GetEvents() answers these in order, then an empty page with token "idle".
  void PushEvents(asana::EventPage page);

  Result<asana::User> GetMe() override;
  Result<std::vector<asana::Workspace>> ListWorkspaces() override;
  Result<std::vector<asana::Project>> ListProjects(const std::string& workspace_gid) override;
  Result<std::vector<asana::Task>> ListTasks(const std::string& project_gid) override;
  Result<std::vector<asana::Task>> ListSubtasks(const std::string& task_gid) override;
  Result<std::vector<asana::Section>> ListSections(const std::string& project_gid) override;
  Result<std::vector<asana::Task>> ListSectionTasks(const std::string& section_gid) override;
  Result<std::vector<asana::Attachment>> ListAttachments(const std::string& parent_gid) override;
  Result<asana::Attachment> GetAttachment(const std::string& gid) override;
  Result<uint64_t> Download(const std::string& download_url, uint64_t offset, uint64_t length,
                            const asana::ByteSink& sink) override;
  Result<asana::Attachment> UploadAttachment(const std::string& parent_gid,
                                             const std::string& file_name,
                                             const std::string& local_path,
                                             const asana::UploadProgress& progress = {}) override;
  // Reads the body to its end, as a server would; streams_begun() counts calls.
  Result<asana::Attachment> UploadAttachmentStream(
      const std::string& parent_gid, const std::string& file_name,
      const asana::UploadReader& reader, const asana::UploadProgress& progress = {}) override;
  int streams_begun() const {
    std::lock_guard<std::mutex> lock(mu_);
    return streams_begun_;
  }
  // false: UploadAttachmentStream fails with kNotSupported (a server that
  // refuses chunked bodies).
  void SetStreamsSupported(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_supported_ = on;
  }
  Status DeleteAttachment(const std::string& gid) override;
  Result<asana::Task> CreateTask(const std::string& project_gid, const std::string& name) override;
  Result<asana::EventPage> GetEvents(const std::string& resource_gid,
                                     const std::string& sync) override;
  Result<asana::Task> CreateSubtask(const std::string& parent_task_gid,
                                    const std::string& name) override;

 private:
  // Counts the call; returns an injected error if one is pending.
  std::optional<Error> Enter(const std::string& method);
  // Records an uploaded attachment (after Enter(method) let it through).
  Result<asana::Attachment> AddUpload(const std::string& method, const std::string& parent,
                                      const std::string& name, const std::string& content);

  mutable std::mutex mu_;
  std::map<std::string, int> calls_;
  std::deque<asana::EventPage> events_;
  std::map<std::string, Error> fail_next_;
  std::vector<asana::Workspace> workspaces_;
  std::map<std::string, std::vector<asana::Project>> projects_;
  std::map<std::string, std::vector<asana::Task>> tasks_;          // by project
  std::map<std::string, std::vector<asana::Task>> subtasks_;       // by parent task
  std::map<std::string, std::vector<asana::Section>> sections_;    // by project
  std::map<std::string, std::vector<asana::Task>> section_tasks_;  // by section
  std::map<std::string, std::vector<std::string>> attachments_by_task_;
  std::map<std::string, AttachmentRecord> attachments_;
  int next_gid_ = 900000;
  int streams_begun_ = 0;
  bool streams_supported_ = true;
  uint64_t downloaded_bytes_ = 0;
};

}  // namespace asanafs::testing

#endif  // ASANAFS_TESTS_FAKES_FAKE_ASANA_H_
