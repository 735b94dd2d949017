// JSON rendering; see render.h. Field lists follow the official spec's schemas (WorkspaceCompact,
// WorkspaceResponse, ProjectCompact, ProjectResponse, TaskCompact, TaskResponse,
// AttachmentCompact, AttachmentResponse, UserResponse); "[Opt In]" fields appear only when asked.
#include "render.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util.h"

namespace asanafs::emulator {

using rapidjson::Value;

const FieldSel* FieldSel::Find(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

namespace {

FieldSel& Child(FieldSel& sel, const std::string& name) {
  for (auto& [k, v] : sel.fields) {
    if (k == name) return v;
  }
  sel.fields.emplace_back(name, FieldSel{});
  return sel.fields.back().second;
}

}  // namespace

FieldSel ParseOptFields(std::string_view csv) {
  FieldSel root;
  for (const auto& item : Split(csv, ',')) {
    if (item.empty()) continue;
    FieldSel* cur = &root;
    for (const auto& part : Split(item, '.')) {
      if (part.empty()) break;
      cur = &Child(*cur, part);
    }
  }
  return root;
}

namespace {

const std::vector<std::string_view> kUserCompact = {"gid", "resource_type", "name"};
const std::vector<std::string_view> kUserFull = {"gid",   "resource_type", "name",
                                                 "email", "photo",         "workspaces"};
const std::vector<std::string_view> kWorkspaceCompact = {"gid", "resource_type", "name"};
const std::vector<std::string_view> kWorkspaceFull = {"gid", "resource_type", "name",
                                                      "email_domains", "is_organization"};
const std::vector<std::string_view> kProjectCompact = {"gid", "resource_type", "name"};
const std::vector<std::string_view> kProjectFull = {
    "gid",           "resource_type",   "name",        "archived",     "color",
    "completed",     "completed_at",    "created_at",  "default_view", "due_on",
    "followers",     "members",         "modified_at", "notes",        "owner",
    "permalink_url", "privacy_setting", "start_on",    "workspace"};
const std::vector<std::string_view> kSectionCompact = {"gid", "resource_type", "name"};
const std::vector<std::string_view> kSectionFull = {"gid",        "resource_type", "name",
                                                    "created_at", "project",       "projects"};
const std::vector<std::string_view> kTaskCompact = {"gid", "resource_type", "name",
                                                    "resource_subtype"};
const std::vector<std::string_view> kTaskFull = {
    "gid",          "resource_type", "name",          "resource_subtype", "assignee", "completed",
    "completed_at", "created_at",    "custom_fields", "due_at",           "due_on",   "followers",
    "liked",        "likes",         "memberships",   "modified_at",      "notes",    "num_likes",
    "parent",       "permalink_url", "projects",      "start_at",         "start_on", "tags",
    "workspace"};
const std::vector<std::string_view> kAttachmentCompact = {"gid", "resource_type", "name",
                                                          "resource_subtype"};
const std::vector<std::string_view> kAttachmentFull = {
    "gid",        "resource_type", "name", "resource_subtype", "connected_to_app",
    "created_at", "download_url",  "host", "parent",           "permanent_url",
    "size",       "view_url"};

}  // namespace

Value Renderer::Time(int64_t ms) { return S(FormatTimestamp(ms)); }

Value Renderer::UserRef() {
  // TaskResponse.created_by declares only gid and resource_type.
  Value v(rapidjson::kObjectType);
  v.AddMember("gid", S(world_.user().gid), alloc_);
  v.AddMember("resource_type", "user", alloc_);
  return v;
}

Value Renderer::Ref(const std::string& gid, const FieldSel* sub) {
  if (gid.empty()) return Value(rapidjson::kNullType);
  return Object(gid, (sub && !sub->empty()) ? sub : nullptr, Shape::kCompact);
}

Value Renderer::RefList(const std::vector<std::string>& gids, const FieldSel* sub) {
  Value arr(rapidjson::kArrayType);
  for (const auto& g : gids) arr.PushBack(Ref(g, sub), alloc_);
  return arr;
}

bool Renderer::UserField(const User& u, std::string_view f, const FieldSel* sub, Value& out) {
  if (f == "gid") {
    out = S(u.gid);
  } else if (f == "resource_type") {
    out.SetString("user");
  } else if (f == "name") {
    out = S(u.name);
  } else if (f == "email") {
    out = S(u.email);
  } else if (f == "photo") {
    out.SetNull();
  } else if (f == "workspaces") {
    out = RefList(world_.workspace_order(), sub);
  } else {
    return false;
  }
  return true;
}

bool Renderer::WorkspaceField(const Workspace& w, std::string_view f, const FieldSel*, Value& out) {
  if (f == "gid") {
    out = S(w.gid);
  } else if (f == "resource_type") {
    out.SetString("workspace");
  } else if (f == "name") {
    out = S(w.name);
  } else if (f == "email_domains") {
    out.SetArray();  // the spec types the items as `format: uri`; an empty list avoids guessing
  } else if (f == "is_organization") {
    out.SetBool(false);
  } else {
    return false;
  }
  return true;
}

bool Renderer::ProjectField(const Project& p, std::string_view f, const FieldSel* sub, Value& out) {
  if (f == "gid") {
    out = S(p.gid);
  } else if (f == "resource_type") {
    out.SetString("project");
  } else if (f == "name") {
    out = S(p.name);
  } else if (f == "archived" || f == "completed" || f == "public") {
    out.SetBool(false);
  } else if (f == "color") {
    out.SetString("light-blue");
  } else if (f == "completed_at" || f == "due_on" || f == "start_on" || f == "due_date" ||
             f == "owner" || f == "completed_by" || f == "current_status") {
    out.SetNull();
  } else if (f == "created_at") {
    out = Time(p.created_ms);
  } else if (f == "modified_at") {
    out = Time(p.modified_ms);
  } else if (f == "default_view") {
    out.SetString("list");
  } else if (f == "followers" || f == "members" || f == "custom_fields" ||
             f == "custom_field_settings") {
    out.SetArray();
  } else if (f == "notes") {
    out.SetString("");
  } else if (f == "html_notes") {
    out.SetString("<body></body>");
  } else if (f == "permalink_url") {
    out = S("https://app.asana.com/0/" + p.gid + "/list");
  } else if (f == "privacy_setting") {
    out.SetString("public_to_workspace");
  } else if (f == "workspace") {
    out = Ref(p.workspace, sub);
  } else {
    return false;
  }
  return true;
}

bool Renderer::SectionField(const Section& s, std::string_view f, const FieldSel* sub, Value& out) {
  if (f == "gid") {
    out = S(s.gid);
  } else if (f == "resource_type") {
    out.SetString("section");
  } else if (f == "name") {
    out = S(s.name);
  } else if (f == "created_at") {
    out = Time(s.created_ms);
  } else if (f == "project") {
    out = Ref(s.project, sub);
  } else if (f == "projects") {
    out = RefList({s.project}, sub);
  } else {
    return false;
  }
  return true;
}

bool Renderer::TaskField(const Task& t, std::string_view f, const FieldSel* sub, Value& out) {
  if (f == "gid") {
    out = S(t.gid);
  } else if (f == "resource_type") {
    out.SetString("task");
  } else if (f == "name") {
    out = S(t.name);
  } else if (f == "resource_subtype") {
    out = S(t.resource_subtype);
  } else if (f == "completed" || f == "liked" || f == "hearted" ||
             f == "is_rendered_as_separator") {
    out.SetBool(false);
  } else if (f == "assignee" || f == "completed_at" || f == "due_at" || f == "due_on" ||
             f == "start_at" || f == "start_on" || f == "completed_by" || f == "assignee_section" ||
             f == "actual_time_minutes") {
    out.SetNull();
  } else if (f == "created_at") {
    out = Time(t.created_ms);
  } else if (f == "modified_at") {
    out = Time(t.modified_ms);
  } else if (f == "custom_fields" || f == "followers" || f == "likes" || f == "hearts" ||
             f == "tags" || f == "dependencies" || f == "dependents") {
    out.SetArray();
  } else if (f == "num_likes" || f == "num_hearts") {
    out.SetInt(0);
  } else if (f == "notes") {
    out = S(t.notes);
  } else if (f == "html_notes") {
    out = S("<body></body>");
  } else if (f == "parent") {
    out = Ref(t.parent, sub);
  } else if (f == "permalink_url") {
    const std::string home = t.projects.empty() ? "0" : t.projects.front();
    out = S("https://app.asana.com/0/" + home + "/" + t.gid);
  } else if (f == "projects") {
    out = RefList(t.projects, sub);
  } else if (f == "memberships") {
    // [{project, section}] per project of the task (TaskBase.memberships).
    out.SetArray();
    const FieldSel* psub = sub ? sub->Find("project") : nullptr;
    const FieldSel* ssub = sub ? sub->Find("section") : nullptr;
    for (const auto& p : t.projects) {
      Value m(rapidjson::kObjectType);
      m.AddMember("project", Ref(p, psub), alloc_);
      m.AddMember("section", Ref(world_.SectionOf(t.gid, p), ssub), alloc_);
      out.PushBack(m, alloc_);
    }
  } else if (f == "workspace") {
    out = Ref(t.workspace, sub);
  } else if (f == "num_subtasks") {
    out.SetInt(static_cast<int>(t.subtasks.size()));
  } else if (f == "created_by") {
    out = UserRef();
  } else {
    return false;
  }
  return true;
}

bool Renderer::AttachmentField(const Attachment& a, std::string_view f, const FieldSel* sub,
                               Value& out) {
  if (f == "gid") {
    out = S(a.gid);
  } else if (f == "resource_type") {
    out.SetString("attachment");
  } else if (f == "name") {
    out = S(a.name);
  } else if (f == "resource_subtype" || f == "host") {
    out = S(a.host);
  } else if (f == "created_at") {
    out = Time(a.created_ms);
  } else if (f == "size") {
    // "Only present when the resource_subtype is asana."
    if (!a.hosted()) return false;
    out.SetUint64(a.size);
  } else if (f == "connected_to_app") {
    // "Only present when the resource_subtype is external or gdrive."
    if (a.host != "external" && a.host != "gdrive") return false;
    out.SetBool(false);
  } else if (f == "download_url") {
    if (a.hosted()) {
      out = S(signer_(a));
    } else {
      out.SetNull();
    }
  } else if (f == "permanent_url") {
    out = S("https://app.asana.com/app/asana/-/get_asset?asset_id=" + a.gid);
  } else if (f == "view_url") {
    if (a.view_url.empty()) {
      out.SetNull();
    } else {
      out = S(a.view_url);
    }
  } else if (f == "parent") {
    if (const Task* t = world_.FindTask(a.parent)) {
      out = Ref(t->gid, sub);
    } else if (const Project* p = world_.FindProject(a.parent)) {
      out = Ref(p->gid, sub);
    } else {
      out.SetNull();
    }
  } else {
    return false;
  }
  return true;
}

Value Renderer::Object(const std::string& gid, const FieldSel* sel, Shape shape) {
  Value obj(rapidjson::kObjectType);
  auto fill = [&](const std::vector<std::string_view>& compact,
                  const std::vector<std::string_view>& full, auto&& field) {
    auto add = [&](std::string_view name, const FieldSel* sub) {
      Value v;
      if (field(name, sub, v)) {
        obj.AddMember(Value(name.data(), static_cast<rapidjson::SizeType>(name.size()), alloc_), v,
                      alloc_);
      }
    };
    if (sel) {
      // "The id of included objects will always be returned, regardless of the field options."
      add("gid", nullptr);
      for (const auto& [name, sub] : sel->fields) {
        if (name != "gid" && !obj.HasMember(name.c_str())) add(name, &sub);
      }
    } else {
      for (auto name : shape == Shape::kCompact ? compact : full) add(name, nullptr);
    }
  };
  switch (world_.KindOf(gid)) {
    case Kind::kUser: {
      const User& u = world_.user();
      fill(kUserCompact, kUserFull, [&](std::string_view f, const FieldSel* s, Value& out) {
        return UserField(u, f, s, out);
      });
      break;
    }
    case Kind::kWorkspace: {
      const Workspace& w = *world_.FindWorkspace(gid);
      fill(kWorkspaceCompact, kWorkspaceFull,
           [&](std::string_view f, const FieldSel* s, Value& out) {
             return WorkspaceField(w, f, s, out);
           });
      break;
    }
    case Kind::kProject: {
      const Project& p = *world_.FindProject(gid);
      fill(kProjectCompact, kProjectFull, [&](std::string_view f, const FieldSel* s, Value& out) {
        return ProjectField(p, f, s, out);
      });
      break;
    }
    case Kind::kSection: {
      const Section& sec = *world_.FindSection(gid);
      fill(kSectionCompact, kSectionFull, [&](std::string_view f, const FieldSel* s, Value& out) {
        return SectionField(sec, f, s, out);
      });
      break;
    }
    case Kind::kTask: {
      const Task& t = *world_.FindTask(gid);
      fill(kTaskCompact, kTaskFull, [&](std::string_view f, const FieldSel* s, Value& out) {
        return TaskField(t, f, s, out);
      });
      break;
    }
    case Kind::kAttachment: {
      const Attachment& a = *world_.FindAttachment(gid);
      fill(kAttachmentCompact, kAttachmentFull,
           [&](std::string_view f, const FieldSel* s, Value& out) {
             return AttachmentField(a, f, s, out);
           });
      break;
    }
    case Kind::kNone:
      return Value(rapidjson::kNullType);
  }
  return obj;
}

std::string ToJson(const Value& value, bool pretty) {
  rapidjson::StringBuffer buf;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    value.Accept(w);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    value.Accept(w);
  }
  return std::string(buf.GetString(), buf.GetSize());
}

std::string RenderState(const World& world) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& al = doc.GetAllocator();
  auto s = [&](const std::string& v) {
    return Value(v.data(), static_cast<rapidjson::SizeType>(v.size()), al);
  };
  auto opt = [&](const std::string& v) { return v.empty() ? Value(rapidjson::kNullType) : s(v); };
  auto list = [&](const std::vector<std::string>& v) {
    Value arr(rapidjson::kArrayType);
    for (const auto& x : v) arr.PushBack(s(x), al);
    return arr;
  };
  Value user(rapidjson::kObjectType);
  user.AddMember("gid", s(world.user().gid), al);
  user.AddMember("name", s(world.user().name), al);
  user.AddMember("email", s(world.user().email), al);
  doc.AddMember("user", user, al);

  Value workspaces(rapidjson::kArrayType);
  for (const auto& gid : world.workspace_order()) {
    const Workspace& w = *world.FindWorkspace(gid);
    Value v(rapidjson::kObjectType);
    v.AddMember("gid", s(w.gid), al);
    v.AddMember("name", s(w.name), al);
    v.AddMember("created_at", s(FormatTimestamp(w.created_ms)), al);
    v.AddMember("projects", list(w.projects), al);
    workspaces.PushBack(v, al);
  }
  doc.AddMember("workspaces", workspaces, al);

  Value projects(rapidjson::kArrayType);
  for (const auto& gid : world.workspace_order()) {
    for (const auto& pgid : world.FindWorkspace(gid)->projects) {
      const Project& p = *world.FindProject(pgid);
      Value v(rapidjson::kObjectType);
      v.AddMember("gid", s(p.gid), al);
      v.AddMember("name", s(p.name), al);
      v.AddMember("workspace", s(p.workspace), al);
      v.AddMember("created_at", s(FormatTimestamp(p.created_ms)), al);
      v.AddMember("modified_at", s(FormatTimestamp(p.modified_ms)), al);
      v.AddMember("tasks", list(p.tasks), al);
      v.AddMember("sections", list(p.sections), al);
      projects.PushBack(v, al);
    }
  }
  doc.AddMember("projects", projects, al);

  Value sections(rapidjson::kArrayType);
  for (const auto& [gid, sec] : world.sections()) {
    Value v(rapidjson::kObjectType);
    v.AddMember("gid", s(sec.gid), al);
    v.AddMember("name", s(sec.name), al);
    v.AddMember("project", s(sec.project), al);
    v.AddMember("created_at", s(FormatTimestamp(sec.created_ms)), al);
    v.AddMember("tasks", list(sec.tasks), al);
    sections.PushBack(v, al);
  }
  doc.AddMember("sections", sections, al);

  Value tasks(rapidjson::kArrayType);
  for (const auto& [gid, t] : world.tasks()) {
    Value v(rapidjson::kObjectType);
    v.AddMember("gid", s(t.gid), al);
    v.AddMember("name", s(t.name), al);
    v.AddMember("resource_subtype", s(t.resource_subtype), al);
    v.AddMember("workspace", s(t.workspace), al);
    v.AddMember("projects", list(t.projects), al);
    v.AddMember("parent", opt(t.parent), al);
    v.AddMember("subtasks", list(t.subtasks), al);
    v.AddMember("num_subtasks", static_cast<int>(t.subtasks.size()), al);
    v.AddMember("created_at", s(FormatTimestamp(t.created_ms)), al);
    v.AddMember("modified_at", s(FormatTimestamp(t.modified_ms)), al);
    tasks.PushBack(v, al);
  }
  doc.AddMember("tasks", tasks, al);

  Value attachments(rapidjson::kArrayType);
  for (const auto& [gid, a] : world.attachments()) {
    Value v(rapidjson::kObjectType);
    v.AddMember("gid", s(a.gid), al);
    v.AddMember("name", s(a.name), al);
    v.AddMember("parent", s(a.parent), al);
    v.AddMember("host", s(a.host), al);
    v.AddMember("resource_subtype", s(a.host), al);
    if (a.hosted()) {
      v.AddMember("size", static_cast<uint64_t>(a.size), al);
      v.AddMember("sha256", s(a.sha256), al);
    } else {
      v.AddMember("size", Value(rapidjson::kNullType), al);
      v.AddMember("sha256", Value(rapidjson::kNullType), al);
    }
    v.AddMember("created_at", s(FormatTimestamp(a.created_ms)), al);
    v.AddMember("view_url", opt(a.view_url), al);
    v.AddMember("content_type", s(a.content_type), al);
    attachments.PushBack(v, al);
  }
  doc.AddMember("attachments", attachments, al);
  return ToJson(doc);
}

}  // namespace asanafs::emulator
