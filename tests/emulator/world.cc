// The emulator's world model and its persistence; see world.h.
#include "world.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util.h"

namespace asanafs::emulator {

namespace {

constexpr uint64_t kFirstGid = 1205000000000001ULL;
constexpr int kFormat = 1;

bool MakeDir(const std::string& path, std::string* error) {
  if (mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return true;
  *error = "mkdir " + path + ": " + strerror(errno);
  return false;
}

bool WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Writes `path` atomically (temp file + rename) so a crash never leaves half a file.
bool WriteFileAtomically(const std::string& path, std::string_view data, std::string* error) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "open " + tmp + ": " + strerror(errno);
    return false;
  }
  bool ok = WriteAll(fd, data.data(), data.size());
  ok = (close(fd) == 0) && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "write " + path + ": " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void Str(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void StrList(Writer& w, const char* key, const std::vector<std::string>& values) {
  w.Key(key);
  w.StartArray();
  for (const auto& v : values) w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  w.EndArray();
}

std::string GetStr(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

int64_t GetInt(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsInt64()) return 0;
  return it->value.GetInt64();
}

std::vector<std::string> GetStrList(const rapidjson::Value& obj, const char* key) {
  std::vector<std::string> out;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsArray()) return out;
  for (const auto& v : it->value.GetArray()) {
    if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

void Erase(std::vector<std::string>& list, const std::string& value) {
  list.erase(std::remove(list.begin(), list.end(), value), list.end());
}

}  // namespace

std::string GuessContentType(const std::string& name) {
  static const std::map<std::string, std::string> kTypes = {
      {"txt", "text/plain"},        {"csv", "text/csv"},        {"md", "text/markdown"},
      {"json", "application/json"}, {"png", "image/png"},       {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},       {"gif", "image/gif"},       {"pdf", "application/pdf"},
      {"mp4", "video/mp4"},         {"zip", "application/zip"}, {"html", "text/html"},
  };
  auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return "application/octet-stream";
  std::string ext = name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

World::World(std::string state_dir) : state_dir_(std::move(state_dir)), next_gid_(kFirstGid) {}

std::string World::WorldPath() const { return state_dir_ + "/world.json"; }
std::string World::BlobDir() const { return state_dir_ + "/blobs"; }
std::string World::BlobPath(const std::string& gid) const { return BlobDir() + "/" + gid; }

bool World::Prepare(std::string* error) {
  return MakeDir(state_dir_, error) && MakeDir(BlobDir(), error);
}

bool World::HasSavedWorld() const {
  struct stat st;
  return stat(WorldPath().c_str(), &st) == 0;
}

std::string World::NewGid() { return std::to_string(next_gid_++); }

void World::SetUser(std::string name, std::string email) {
  if (user_.gid.empty()) user_.gid = NewGid();
  user_.name = std::move(name);
  user_.email = std::move(email);
}

std::string World::AddWorkspace(const std::string& name, int64_t created_ms) {
  Workspace ws;
  ws.gid = NewGid();
  ws.name = name;
  ws.created_ms = created_ms;
  workspace_order_.push_back(ws.gid);
  std::string gid = ws.gid;
  workspaces_.emplace(gid, std::move(ws));
  return gid;
}

std::string World::AddProject(const std::string& workspace, const std::string& name,
                              int64_t created_ms, int64_t modified_ms) {
  auto ws = workspaces_.find(workspace);
  if (ws == workspaces_.end()) return "";
  Project p;
  p.gid = NewGid();
  p.name = name;
  p.workspace = workspace;
  p.created_ms = created_ms;
  p.modified_ms = std::max(created_ms, modified_ms);
  ws->second.projects.push_back(p.gid);
  std::string gid = p.gid;
  projects_.emplace(gid, std::move(p));
  return gid;
}

std::string World::AddTask(const std::string& name, const std::vector<std::string>& projects,
                           const std::string& parent, int64_t created_ms, int64_t modified_ms,
                           std::string* error) {
  std::string workspace;
  for (const auto& p : projects) {
    auto it = projects_.find(p);
    if (it == projects_.end()) {
      *error = "project " + p + " does not exist";
      return "";
    }
    if (!workspace.empty() && workspace != it->second.workspace) {
      *error = "projects are in different workspaces";
      return "";
    }
    workspace = it->second.workspace;
  }
  Task* parent_task = nullptr;
  if (!parent.empty()) {
    auto it = tasks_.find(parent);
    if (it == tasks_.end()) {
      *error = "task " + parent + " does not exist";
      return "";
    }
    parent_task = &it->second;
    if (workspace.empty()) workspace = parent_task->workspace;
  }
  if (workspace.empty()) {
    *error = "a task needs a project or a parent task";
    return "";
  }
  Task t;
  t.gid = NewGid();
  t.name = name;
  t.workspace = workspace;
  t.projects = projects;
  t.parent = parent;
  t.created_ms = created_ms;
  t.modified_ms = std::max(created_ms, modified_ms);
  for (const auto& p : projects) projects_[p].tasks.push_back(t.gid);
  if (parent_task) parent_task->subtasks.push_back(t.gid);
  std::string gid = t.gid;
  tasks_.emplace(gid, std::move(t));
  for (const auto& p : projects) PlaceInDefaultSection(gid, p, created_ms);
  {
    const Task& nt = tasks_.at(gid);
    Ref parent_ref = !nt.parent.empty()
                         ? Ref{nt.parent, "task", tasks_.at(nt.parent).name}
                         : Ref{nt.projects.front(), "project", projects_.at(nt.projects.front()).name};
    events_.Record("added", {gid, "task", nt.name}, parent_ref, ScopesOf(*this, gid));
  }
  return gid;
}

bool World::AddTaskToProject(const std::string& task, const std::string& project) {
  auto t = tasks_.find(task);
  auto p = projects_.find(project);
  if (t == tasks_.end() || p == projects_.end()) return false;
  if (p->second.workspace != t->second.workspace) return false;
  if (std::find(t->second.projects.begin(), t->second.projects.end(), project) !=
      t->second.projects.end()) {
    return true;
  }
  t->second.projects.push_back(project);
  p->second.tasks.push_back(task);
  PlaceInDefaultSection(task, project, t->second.created_ms);
  return true;
}

void World::PlaceInDefaultSection(const std::string& task, const std::string& project,
                                  int64_t created_ms) {
  Project& p = projects_.at(project);
  if (p.sections.empty()) AddSection(project, "Untitled section", created_ms);
  sections_.at(p.sections.front()).tasks.push_back(task);
}

std::string World::AddSection(const std::string& project, const std::string& name,
                              int64_t created_ms) {
  auto p = projects_.find(project);
  if (p == projects_.end()) return "";
  Section sec;
  sec.gid = NewGid();
  sec.name = name;
  sec.project = project;
  sec.created_ms = created_ms;
  p->second.sections.push_back(sec.gid);
  std::string gid = sec.gid;
  sections_.emplace(gid, std::move(sec));
  return gid;
}

bool World::MoveTaskToSection(const std::string& task, const std::string& section) {
  auto sec = sections_.find(section);
  auto t = tasks_.find(task);
  if (sec == sections_.end() || t == tasks_.end()) return false;
  const std::string project = sec->second.project;
  if (std::find(t->second.projects.begin(), t->second.projects.end(), project) ==
      t->second.projects.end()) {
    return false;
  }
  for (const auto& g : projects_.at(project).sections) Erase(sections_.at(g).tasks, task);
  sec->second.tasks.push_back(task);
  return true;
}

std::string World::SectionOf(const std::string& task, const std::string& project) const {
  auto p = projects_.find(project);
  if (p == projects_.end()) return "";
  for (const auto& g : p->second.sections) {
    const auto& tasks = sections_.at(g).tasks;
    if (std::find(tasks.begin(), tasks.end(), task) != tasks.end()) return g;
  }
  return "";
}

std::string World::AddAttachment(NewAttachment spec, std::string* error) {
  Kind parent_kind = KindOf(spec.parent);
  if (parent_kind != Kind::kTask && parent_kind != Kind::kProject) {
    *error = "parent " + spec.parent + " is not a task or project";
    return "";
  }
  Attachment a;
  a.gid = NewGid();
  a.name = spec.name;
  a.parent = spec.parent;
  a.host = spec.host.empty() ? "asana" : spec.host;
  a.created_ms = spec.created_ms ? *spec.created_ms : NowMs();
  a.content_type = spec.content_type.empty() ? GuessContentType(a.name) : spec.content_type;
  if (a.hosted()) {
    const std::string path = BlobPath(a.gid);
    if (!spec.temp_file.empty()) {
      struct stat st;
      if (stat(spec.temp_file.c_str(), &st) != 0 ||
          rename(spec.temp_file.c_str(), path.c_str()) != 0) {
        *error = "cannot move " + spec.temp_file + ": " + strerror(errno);
        return "";
      }
      a.size = static_cast<uint64_t>(st.st_size);
      a.sha256 = spec.temp_sha256;
    } else {
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) {
        *error = "open " + path + ": " + strerror(errno);
        return "";
      }
      Sha256 hash;
      bool ok = true;
      if (spec.content) {
        ok = WriteAll(fd, spec.content->data(), spec.content->size());
        hash.Update(spec.content->data(), spec.content->size());
        a.size = spec.content->size();
      } else {
        const uint64_t total = spec.size.value_or(0);
        std::string chunk;
        for (uint64_t off = 0; ok && off < total; off += chunk.size()) {
          chunk.resize(static_cast<size_t>(std::min<uint64_t>(total - off, 1 << 20)));
          FillContent(a.gid, off, chunk);
          ok = WriteAll(fd, chunk.data(), chunk.size());
          hash.Update(chunk.data(), chunk.size());
        }
        a.size = total;
      }
      ok = (close(fd) == 0) && ok;
      if (!ok) {
        *error = "write " + path + ": " + strerror(errno);
        unlink(path.c_str());
        return "";
      }
      a.sha256 = hash.FinishHex();
    }
    a.view_url = spec.view_url.empty()
                     ? "https://app.asana.com/app/asana/-/get_asset?asset_id=" + a.gid
                     : spec.view_url;
  } else {
    a.view_url = spec.view_url;
    if (a.view_url.empty()) {
      if (a.host == "gdrive") {
        a.view_url = "https://drive.google.com/file/d/emu" + a.gid + "/view";
      } else if (a.host == "dropbox") {
        a.view_url = "https://www.dropbox.com/s/emu" + a.gid + "/" + PercentEncode(a.name);
      } else {
        a.view_url = "https://example.com/" + a.host + "/" + a.gid;
      }
    }
  }
  attachments_by_parent_[a.parent].push_back(a.gid);
  std::string gid = a.gid;
  attachments_.emplace(gid, std::move(a));
  {
    // Asana shows an upload as a story on the task (API-NOTES: no attachment "added").
    const Attachment& na = attachments_.at(gid);
    Ref parent_ref{na.parent, KindOf(na.parent) == Kind::kTask ? "task" : "project", ""};
    events_.Record("added", {events_.NewStoryGid(), "story", "attached " + na.name}, parent_ref,
                   ScopesOf(*this, na.parent));
  }
  return gid;
}

void World::RemoveAttachment(const std::string& gid) {
  auto it = attachments_.find(gid);
  if (it == attachments_.end()) return;
  Erase(attachments_by_parent_[it->second.parent], gid);
  if (attachments_by_parent_[it->second.parent].empty()) {
    attachments_by_parent_.erase(it->second.parent);
  }
  if (it->second.hosted()) unlink(BlobPath(gid).c_str());
  attachments_.erase(it);
}

void World::RemoveAttachmentsOf(const std::string& parent) {
  auto it = attachments_by_parent_.find(parent);
  if (it == attachments_by_parent_.end()) return;
  std::vector<std::string> gids = it->second;
  for (const auto& g : gids) RemoveAttachment(g);
}

void World::RemoveTaskTree(const std::string& gid) {
  auto it = tasks_.find(gid);
  if (it == tasks_.end()) return;
  std::vector<std::string> subtasks = it->second.subtasks;
  for (const auto& s : subtasks) RemoveTaskTree(s);
  it = tasks_.find(gid);
  RemoveAttachmentsOf(gid);
  for (const auto& p : it->second.projects) {
    auto pit = projects_.find(p);
    if (pit == projects_.end()) continue;
    Erase(pit->second.tasks, gid);
    for (const auto& sec : pit->second.sections) Erase(sections_.at(sec).tasks, gid);
  }
  if (!it->second.parent.empty()) {
    auto pit = tasks_.find(it->second.parent);
    if (pit != tasks_.end()) Erase(pit->second.subtasks, gid);
  }
  tasks_.erase(it);
}

bool World::Remove(const std::string& gid) {
  switch (KindOf(gid)) {
    case Kind::kAttachment:
    case Kind::kTask:
    case Kind::kProject: {
      const Kind kind = KindOf(gid);
      const char* type = kind == Kind::kAttachment ? "attachment"
                         : kind == Kind::kTask     ? "task"
                                                   : "project";
      std::string name = kind == Kind::kAttachment ? attachments_.at(gid).name
                         : kind == Kind::kTask     ? tasks_.at(gid).name
                                                   : projects_.at(gid).name;
      events_.Record("deleted", {gid, type, std::move(name)}, {}, ScopesOf(*this, gid));
      break;
    }
    default:
      break;
  }
  switch (KindOf(gid)) {
    case Kind::kAttachment:
      RemoveAttachment(gid);
      return true;
    case Kind::kTask:
      RemoveTaskTree(gid);
      return true;
    case Kind::kProject: {
      Project& p = projects_[gid];
      std::vector<std::string> tasks = p.tasks;
      for (const auto& t : tasks) {
        auto it = tasks_.find(t);
        if (it == tasks_.end()) continue;
        Erase(it->second.projects, gid);
        // A task that lived only here (and is not a subtask) goes with the project.
        if (it->second.projects.empty() && it->second.parent.empty()) RemoveTaskTree(t);
      }
      RemoveAttachmentsOf(gid);
      for (const auto& sec : p.sections) sections_.erase(sec);
      Erase(workspaces_[p.workspace].projects, gid);
      projects_.erase(gid);
      return true;
    }
    case Kind::kWorkspace: {
      std::vector<std::string> projects = workspaces_[gid].projects;
      for (const auto& p : projects) Remove(p);
      std::vector<std::string> orphans;
      for (const auto& [tgid, t] : tasks_) {
        if (t.workspace == gid && t.parent.empty()) orphans.push_back(tgid);
      }
      for (const auto& t : orphans) RemoveTaskTree(t);
      Erase(workspace_order_, gid);
      workspaces_.erase(gid);
      return true;
    }
    case Kind::kSection:  // not supported: its tasks would need another section
    case Kind::kUser:
    case Kind::kNone:
      return false;
  }
  return false;
}

Kind World::KindOf(const std::string& gid) const {
  if (gid.empty()) return Kind::kNone;
  if (gid == user_.gid) return Kind::kUser;
  if (workspaces_.count(gid)) return Kind::kWorkspace;
  if (projects_.count(gid)) return Kind::kProject;
  if (sections_.count(gid)) return Kind::kSection;
  if (tasks_.count(gid)) return Kind::kTask;
  if (attachments_.count(gid)) return Kind::kAttachment;
  return Kind::kNone;
}

const Workspace* World::FindWorkspace(const std::string& gid) const {
  auto it = workspaces_.find(gid);
  return it == workspaces_.end() ? nullptr : &it->second;
}

const Project* World::FindProject(const std::string& gid) const {
  auto it = projects_.find(gid);
  return it == projects_.end() ? nullptr : &it->second;
}

const Section* World::FindSection(const std::string& gid) const {
  auto it = sections_.find(gid);
  return it == sections_.end() ? nullptr : &it->second;
}

const Task* World::FindTask(const std::string& gid) const {
  auto it = tasks_.find(gid);
  return it == tasks_.end() ? nullptr : &it->second;
}

Task* World::MutableTask(const std::string& gid) {
  auto it = tasks_.find(gid);
  return it == tasks_.end() ? nullptr : &it->second;
}

const Attachment* World::FindAttachment(const std::string& gid) const {
  auto it = attachments_.find(gid);
  return it == attachments_.end() ? nullptr : &it->second;
}

std::vector<const Attachment*> World::AttachmentsOf(const std::string& parent) const {
  std::vector<const Attachment*> out;
  auto it = attachments_by_parent_.find(parent);
  if (it == attachments_by_parent_.end()) return out;
  for (const auto& g : it->second) out.push_back(&attachments_.at(g));
  return out;
}

bool World::Save(std::string* error) const {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.SetIndent(' ', 1);
  w.StartObject();
  w.Key("format");
  w.Int(kFormat);
  w.Key("next_gid");
  w.Uint64(next_gid_);
  w.Key("user");
  w.StartObject();
  Str(w, "gid", user_.gid);
  Str(w, "name", user_.name);
  Str(w, "email", user_.email);
  w.EndObject();
  w.Key("workspaces");
  w.StartArray();
  for (const auto& gid : workspace_order_) {
    const Workspace& ws = workspaces_.at(gid);
    w.StartObject();
    Str(w, "gid", ws.gid);
    Str(w, "name", ws.name);
    w.Key("created_ms");
    w.Int64(ws.created_ms);
    StrList(w, "projects", ws.projects);
    w.EndObject();
  }
  w.EndArray();
  w.Key("projects");
  w.StartArray();
  for (const auto& [gid, p] : projects_) {
    w.StartObject();
    Str(w, "gid", p.gid);
    Str(w, "name", p.name);
    Str(w, "workspace", p.workspace);
    w.Key("created_ms");
    w.Int64(p.created_ms);
    w.Key("modified_ms");
    w.Int64(p.modified_ms);
    StrList(w, "tasks", p.tasks);
    StrList(w, "sections", p.sections);
    w.EndObject();
  }
  w.EndArray();
  w.Key("sections");
  w.StartArray();
  for (const auto& [gid, sec] : sections_) {
    w.StartObject();
    Str(w, "gid", sec.gid);
    Str(w, "name", sec.name);
    Str(w, "project", sec.project);
    w.Key("created_ms");
    w.Int64(sec.created_ms);
    StrList(w, "tasks", sec.tasks);
    w.EndObject();
  }
  w.EndArray();
  w.Key("tasks");
  w.StartArray();
  for (const auto& [gid, t] : tasks_) {
    w.StartObject();
    Str(w, "gid", t.gid);
    Str(w, "name", t.name);
    Str(w, "workspace", t.workspace);
    StrList(w, "projects", t.projects);
    Str(w, "parent", t.parent);
    w.Key("created_ms");
    w.Int64(t.created_ms);
    w.Key("modified_ms");
    w.Int64(t.modified_ms);
    Str(w, "resource_subtype", t.resource_subtype);
    Str(w, "notes", t.notes);
    StrList(w, "subtasks", t.subtasks);
    w.EndObject();
  }
  w.EndArray();
  w.Key("attachments");
  w.StartArray();
  // Per-parent order is creation order, which is gid order.
  for (const auto& [gid, a] : attachments_) {
    w.StartObject();
    Str(w, "gid", a.gid);
    Str(w, "name", a.name);
    Str(w, "parent", a.parent);
    Str(w, "host", a.host);
    Str(w, "view_url", a.view_url);
    Str(w, "content_type", a.content_type);
    Str(w, "sha256", a.sha256);
    w.Key("size");
    w.Uint64(a.size);
    w.Key("created_ms");
    w.Int64(a.created_ms);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return WriteFileAtomically(WorldPath(), std::string_view(buf.GetString(), buf.GetSize()), error);
}

bool World::Load(std::string* error) {
  std::ifstream in(WorldPath(), std::ios::binary);
  if (!in) {
    *error = "cannot open " + WorldPath();
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject() || GetInt(doc, "format") != kFormat) {
    *error =
        WorldPath() + " is not a saved emulator world (format " + std::to_string(kFormat) + ")";
    return false;
  }
  auto ng = doc.FindMember("next_gid");
  if (ng == doc.MemberEnd() || !ng->value.IsUint64()) {
    *error = WorldPath() + ": next_gid missing";
    return false;
  }
  next_gid_ = ng->value.GetUint64();
  if (doc.HasMember("user") && doc["user"].IsObject()) {
    user_.gid = GetStr(doc["user"], "gid");
    user_.name = GetStr(doc["user"], "name");
    user_.email = GetStr(doc["user"], "email");
  }
  auto array = [&](const char* key) -> const rapidjson::Value* {
    auto it = doc.FindMember(key);
    return (it != doc.MemberEnd() && it->value.IsArray()) ? &it->value : nullptr;
  };
  if (const auto* list = array("workspaces")) {
    for (const auto& v : list->GetArray()) {
      Workspace ws;
      ws.gid = GetStr(v, "gid");
      ws.name = GetStr(v, "name");
      ws.created_ms = GetInt(v, "created_ms");
      ws.projects = GetStrList(v, "projects");
      workspace_order_.push_back(ws.gid);
      workspaces_.emplace(ws.gid, std::move(ws));
    }
  }
  if (const auto* list = array("projects")) {
    for (const auto& v : list->GetArray()) {
      Project p;
      p.gid = GetStr(v, "gid");
      p.name = GetStr(v, "name");
      p.workspace = GetStr(v, "workspace");
      p.created_ms = GetInt(v, "created_ms");
      p.modified_ms = GetInt(v, "modified_ms");
      p.tasks = GetStrList(v, "tasks");
      p.sections = GetStrList(v, "sections");
      projects_.emplace(p.gid, std::move(p));
    }
  }
  if (const auto* list = array("sections")) {
    for (const auto& v : list->GetArray()) {
      Section sec;
      sec.gid = GetStr(v, "gid");
      sec.name = GetStr(v, "name");
      sec.project = GetStr(v, "project");
      sec.created_ms = GetInt(v, "created_ms");
      sec.tasks = GetStrList(v, "tasks");
      sections_.emplace(sec.gid, std::move(sec));
    }
  }
  if (const auto* list = array("tasks")) {
    for (const auto& v : list->GetArray()) {
      Task t;
      t.gid = GetStr(v, "gid");
      t.name = GetStr(v, "name");
      t.workspace = GetStr(v, "workspace");
      t.projects = GetStrList(v, "projects");
      t.parent = GetStr(v, "parent");
      t.created_ms = GetInt(v, "created_ms");
      t.modified_ms = GetInt(v, "modified_ms");
      t.resource_subtype = GetStr(v, "resource_subtype");
      if (t.resource_subtype.empty()) t.resource_subtype = "default_task";
      t.notes = GetStr(v, "notes");
      t.subtasks = GetStrList(v, "subtasks");
      tasks_.emplace(t.gid, std::move(t));
    }
  }
  if (const auto* list = array("attachments")) {
    for (const auto& v : list->GetArray()) {
      Attachment a;
      a.gid = GetStr(v, "gid");
      a.name = GetStr(v, "name");
      a.parent = GetStr(v, "parent");
      a.host = GetStr(v, "host");
      a.view_url = GetStr(v, "view_url");
      a.content_type = GetStr(v, "content_type");
      a.sha256 = GetStr(v, "sha256");
      auto size = v.FindMember("size");
      a.size = (size != v.MemberEnd() && size->value.IsUint64()) ? size->value.GetUint64() : 0;
      a.created_ms = GetInt(v, "created_ms");
      attachments_by_parent_[a.parent].push_back(a.gid);
      attachments_.emplace(a.gid, std::move(a));
    }
  }
  return true;
}

}  // namespace asanafs::emulator
