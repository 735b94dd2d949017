#include "fake_asana.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace asanafs::testing {

void FakeAsana::AddWorkspace(const std::string& gid, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  workspaces_.push_back({gid, name});
}

void FakeAsana::AddProject(const std::string& ws, const asana::Project& p) {
  std::lock_guard<std::mutex> lock(mu_);
  projects_[ws].push_back(p);
}

void FakeAsana::AddTask(const std::string& project, const asana::Task& t) {
  std::lock_guard<std::mutex> lock(mu_);
  tasks_[project].push_back(t);
}

void FakeAsana::AddSubtask(const std::string& parent_task, const asana::Task& t) {
  std::lock_guard<std::mutex> lock(mu_);
  subtasks_[parent_task].push_back(t);
}

void FakeAsana::AddAttachment(const std::string& task, asana::Attachment a, std::string content) {
  std::lock_guard<std::mutex> lock(mu_);
  a.parent_gid = task;
  if (a.host.empty()) {
    a.host = "asana";
  }
  if (a.IsAsanaHosted() && !a.size) {
    a.size = content.size();
  }
  attachments_by_task_[task].push_back(a.gid);
  attachments_[a.gid] = {a, std::move(content)};
}

void FakeAsana::RemoveAttachment(const std::string& gid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = attachments_.find(gid);
  if (it == attachments_.end()) {
    return;
  }
  auto& list = attachments_by_task_[it->second.meta.parent_gid];
  std::erase(list, gid);
  attachments_.erase(it);
}

int FakeAsana::Calls(const std::string& method) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

uint64_t FakeAsana::DownloadedBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return downloaded_bytes_;
}

int FakeAsana::TotalCalls() const {
  std::lock_guard<std::mutex> lock(mu_);
  int total = 0;
  for (const auto& [_, n] : calls_) {
    total += n;
  }
  return total;
}

void FakeAsana::ResetCalls() {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.clear();
}

void FakeAsana::FailNext(const std::string& method, Error error) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_next_[method] = std::move(error);
}

std::optional<Error> FakeAsana::Enter(const std::string& method) {
  calls_[method]++;
  auto it = fail_next_.find(method);
  if (it == fail_next_.end()) {
    return std::nullopt;
  }
  Error e = it->second;
  fail_next_.erase(it);
  return e;
}

Result<asana::User> FakeAsana::GetMe() {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("GetMe")) {
    return *e;
  }
  return asana::User{"1", "Test User", "test@example.com"};
}

Result<std::vector<asana::Workspace>> FakeAsana::ListWorkspaces() {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("ListWorkspaces")) {
    return *e;
  }
  return workspaces_;
}

Result<std::vector<asana::Project>> FakeAsana::ListProjects(const std::string& ws) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("ListProjects")) {
    return *e;
  }
  return projects_[ws];
}

Result<std::vector<asana::Task>> FakeAsana::ListTasks(const std::string& project) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("ListTasks")) {
    return *e;
  }
  return tasks_[project];
}

Result<std::vector<asana::Task>> FakeAsana::ListSubtasks(const std::string& task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("ListSubtasks")) {
    return *e;
  }
  return subtasks_[task];
}

void FakeAsana::AddSection(const std::string& project, const asana::Section& s) {
  std::lock_guard<std::mutex> lock(mu_);
  sections_[project].push_back(s);
}

void FakeAsana::AddTaskToSection(const std::string& section, const asana::Task& t) {
  std::lock_guard<std::mutex> lock(mu_);
  section_tasks_[section].push_back(t);
}

Result<std::vector<asana::Section>> FakeAsana::ListSections(const std::string& project) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("ListSections")) {
    return *e;
  }
  return sections_[project];
}

Result<std::vector<asana::Task>> FakeAsana::ListSectionTasks(const std::string& section) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("ListSectionTasks")) {
    return *e;
  }
  return section_tasks_[section];
}

Result<std::vector<asana::Attachment>> FakeAsana::ListAttachments(const std::string& parent) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("ListAttachments")) {
    return *e;
  }
  std::vector<asana::Attachment> out;
  for (const auto& gid : attachments_by_task_[parent]) {
    asana::Attachment a = attachments_.at(gid).meta;
    a.download_url.clear();  // lists never carry download URLs
    out.push_back(a);
  }
  return out;
}

Result<asana::Attachment> FakeAsana::GetAttachment(const std::string& gid) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("GetAttachment")) {
    return *e;
  }
  auto it = attachments_.find(gid);
  if (it == attachments_.end()) {
    return MakeError(ErrorCode::kNotFound, "GET /attachments/" + gid + " → 404", 404);
  }
  asana::Attachment a = it->second.meta;
  if (a.IsAsanaHosted()) {
    a.download_url = "https://storage.example/blob/" + gid;
  }
  return a;
}

Result<uint64_t> FakeAsana::Download(const std::string& url, uint64_t offset, uint64_t length,
                                     const asana::ByteSink& sink) {
  std::string content;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto e = Enter("Download")) {
      return *e;
    }
    if (expire_downloads > 0) {
      --expire_downloads;
      return MakeError(ErrorCode::kPermissionDenied, "GET blob → 403", 403);
    }
    std::string gid = url.substr(url.rfind('/') + 1);
    auto it = attachments_.find(gid);
    if (it == attachments_.end()) {
      return MakeError(ErrorCode::kNotFound, "GET blob → 404", 404);
    }
    content = it->second.content;
    if (offset < content.size()) {
      downloaded_bytes_ +=
          std::min<uint64_t>(length == 0 ? content.size() : length, content.size() - offset);
    }
  }
  if (offset >= content.size()) {
    return uint64_t{0};
  }
  std::string_view part(content);
  part = part.substr(offset, length == 0 ? std::string_view::npos : length);
  // Deliver in two pieces to exercise sinks that see several chunks.
  size_t half = part.size() / 2;
  if (!sink(part.substr(0, half)) || !sink(part.substr(half))) {
    return MakeError(ErrorCode::kIo, "sink aborted");
  }
  return static_cast<uint64_t>(part.size());
}

Result<asana::Attachment> FakeAsana::UploadAttachment(const std::string& parent,
                                                      const std::string& name,
                                                      const std::string& path,
                                                      const asana::UploadProgress& progress) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (progress) {
    progress(ss.str().size());
  }
  return AddUpload("UploadAttachment", parent, name, ss.str());
}

Result<asana::Attachment> FakeAsana::UploadAttachmentStream(const std::string& parent,
                                                            const std::string& name,
                                                            const asana::UploadReader& reader,
                                                            const asana::UploadProgress& progress) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++streams_begun_;
    if (!streams_supported_) {
      return MakeError(ErrorCode::kNotSupported, "streamed uploads are not supported here");
    }
  }
  std::string content;
  char buf[65536];
  for (;;) {
    auto n = reader(content.size(), buf, sizeof buf);
    if (!n.has_value()) {
      return n.error();  // the body never ended: nothing is created
    }
    if (*n == 0) {
      break;
    }
    content.append(buf, *n);
    if (progress) {
      progress(content.size());
    }
  }
  return AddUpload("UploadAttachmentStream", parent, name, content);
}

Result<asana::Attachment> FakeAsana::AddUpload(const std::string& method, const std::string& parent,
                                               const std::string& name,
                                               const std::string& content) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter(method)) {
    return *e;
  }
  asana::Attachment a;
  a.gid = std::to_string(next_gid_++);
  a.name = name;
  a.host = "asana";
  a.parent_gid = parent;
  a.size = content.size();
  attachments_by_task_[parent].push_back(a.gid);
  attachments_[a.gid] = {a, content};
  return a;
}

Status FakeAsana::DeleteAttachment(const std::string& gid) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto e = Enter("DeleteAttachment")) {
      return *e;
    }
    if (!attachments_.count(gid)) {
      return MakeError(ErrorCode::kNotFound, "DELETE → 404", 404);
    }
  }
  RemoveAttachment(gid);
  return OkStatus();
}

Result<asana::Task> FakeAsana::CreateTask(const std::string& project, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("CreateTask")) {
    return *e;
  }
  asana::Task t;
  t.gid = std::to_string(next_gid_++);
  t.name = name;
  tasks_[project].push_back(t);
  return t;
}

Result<asana::Task> FakeAsana::CreateSubtask(const std::string& parent, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("CreateSubtask")) {
    return *e;
  }
  asana::Task t;
  t.gid = std::to_string(next_gid_++);
  t.name = name;
  subtasks_[parent].push_back(t);
  return t;
}

void FakeAsana::PushEvents(asana::EventPage page) {
  std::lock_guard<std::mutex> lock(mu_);
  events_.push_back(std::move(page));
}

Result<asana::EventPage> FakeAsana::GetEvents(const std::string&, const std::string&) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto e = Enter("GetEvents")) {
    return *e;
  }
  if (events_.empty()) {
    asana::EventPage idle;
    idle.sync = "idle";
    return idle;
  }
  asana::EventPage page = std::move(events_.front());
  events_.pop_front();
  return page;
}

}  // namespace asanafs::testing
