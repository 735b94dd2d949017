// Seed worlds; see seeds.h and README.md ("Seeds").
#include "seeds.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "util.h"

namespace asanafs::emulator {

namespace {

// 2024-01-02T03:04:05.678Z: seeded worlds live in the past, before any upload made in a test.
constexpr int64_t kBaseMs = 1704164645678LL;

// Hands out creation times: one step per object, with varying milliseconds so that
// timestamps are not all round.
class SeedClock {
 public:
  explicit SeedClock(int64_t base) : now_(base) {}
  int64_t Next() {
    ++n_;
    now_ += 60'000 + (n_ * 7919) % 1000;
    return now_;
  }

 private:
  int64_t now_;
  int64_t n_ = 0;
};

// Builds a world step by step; keeps each task's modified_at at or after its newest attachment.
class Builder {
 public:
  Builder(World& world, int64_t base) : world_(world), clock_(base) {}

  std::string Workspace(const std::string& name) {
    return world_.AddWorkspace(name, clock_.Next());
  }
  std::string Project(const std::string& ws, const std::string& name) {
    int64_t t = clock_.Next();
    return world_.AddProject(ws, name, t, t);
  }
  std::string Task(const std::string& project, const std::string& name) {
    return AddTask({project}, "", name);
  }
  std::string Section(const std::string& project, const std::string& name) {
    std::string gid = world_.AddSection(project, name, clock_.Next());
    if (gid.empty()) Fail("section " + name + ": no project " + project);
    return gid;
  }
  void MoveToSection(const std::string& task, const std::string& section) {
    if (!world_.MoveTaskToSection(task, section)) Fail("cannot move task " + task + " to section");
  }
  std::string Subtask(const std::string& parent, const std::string& name) {
    return AddTask({}, parent, name);
  }
  std::string AddTask(const std::vector<std::string>& projects, const std::string& parent,
                      const std::string& name, std::optional<int64_t> created = std::nullopt) {
    int64_t t = created ? *created : clock_.Next();
    std::string error;
    std::string gid = world_.AddTask(name, projects, parent, t, t, &error);
    if (gid.empty() && error_.empty()) error_ = error;
    return gid;
  }
  std::string File(const std::string& parent, const std::string& name, uint64_t size) {
    NewAttachment a;
    a.parent = parent;
    a.name = name;
    a.size = size;
    return Attach(std::move(a));
  }
  std::string Text(const std::string& parent, const std::string& name, const std::string& content) {
    NewAttachment a;
    a.parent = parent;
    a.name = name;
    a.content = content;
    return Attach(std::move(a));
  }
  std::string Link(const std::string& parent, const std::string& name, const std::string& host,
                   const std::string& view_url) {
    NewAttachment a;
    a.parent = parent;
    a.name = name;
    a.host = host;
    a.view_url = view_url;
    return Attach(std::move(a));
  }
  std::string Attach(NewAttachment a) {
    if (!a.created_ms) a.created_ms = clock_.Next();
    std::string error;
    const int64_t created = *a.created_ms;
    const std::string parent = a.parent;
    std::string gid = world_.AddAttachment(std::move(a), &error);
    if (gid.empty()) {
      if (error_.empty()) error_ = error;
      return gid;
    }
    if (auto* t = world_.MutableTask(parent)) t->modified_ms = std::max(t->modified_ms, created);
    return gid;
  }
  bool Finish(std::string* error) {
    if (!error_.empty()) {
      *error = error_;
      return false;
    }
    return true;
  }
  SeedClock& clock() { return clock_; }
  void Fail(const std::string& message) {
    if (error_.empty()) error_ = message;
  }

 private:
  World& world_;
  SeedClock clock_;
  std::string error_;
};

// A 1x1 PNG, so the demo's images open in a viewer.
constexpr char kTinyPngBase64[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg"
    "==";

void SeedDemo(Builder& b) {
  const std::string png = Base64Decode(kTinyPngBase64).value_or("");
  std::string acme = b.Workspace("Acme Inc.");
  std::string web = b.Project(acme, "Website launch");
  b.Text(web, "launch-plan.md", "# Launch plan\n\n1. mockups\n2. SEO\n3. ship\n");
  std::string mock = b.Task(web, "Design mockups");
  b.Text(mock, "homepage.png", png);
  b.Text(mock, "copy.txt",
         "Welcome to Acme!\n\nWe make the finest anvils, rockets and giant magnets.\n");
  std::string mobile = b.Subtask(mock, "Mobile layout");
  b.Text(mobile, "mobile.png", png);
  b.Text(mobile, "breakpoints.txt", "phone: < 600px\ntablet: 600-1024px\ndesktop: > 1024px\n");
  std::string seo = b.Task(web, "SEO checklist");
  b.Text(seo, "checklist.md",
         "# SEO checklist\n\n- [x] titles\n- [ ] meta descriptions\n- [ ] sitemap.xml\n");
  b.Link(seo, "Keyword research", "gdrive", "https://drive.google.com/file/d/1DemoKeywords/view");
  std::string budget = b.Project(acme, "Budget 2024");
  std::string q3 = b.Task(budget, "Q3 budget");
  b.Text(q3, "budget.csv",
         "item,amount_usd\nrockets,12000\nanvils,800\nmagnets,2300\ntotal,15100\n");
  b.File(q3, "forecast.bin", 64 * 1024);
  std::string hiring = b.Project(acme, "Hiring");
  std::string be = b.Task(hiring, "Backend engineer");
  b.Text(be, "job-description.md",
         "# Backend engineer\n\nYou will build the systems behind our rockets.\n");
  b.Task(hiring, "Designer");
  std::string personal = b.Workspace("Personal");
  std::string trips = b.Project(personal, "Trips");
  std::string lisbon = b.Task(trips, "Lisbon");
  b.Text(lisbon, "itinerary.txt", "Day 1: Alfama and the castle\nDay 2: Belem\nDay 3: Sintra\n");
  b.Link(lisbon, "Packing list", "gdrive", "https://drive.google.com/file/d/1DemoPacking/view");
}

void SeedSmall(Builder& b) {
  std::string acme = b.Workspace("Acme Corp");
  std::string design = b.Project(acme, "Design / Marketing");  // a '/' in a name
  // Sections (-o sections): tasks go to the first one unless moved.
  b.Section(design, "Backlog");
  std::string doing = b.Section(design, "Doing / now");
  b.Section(design, "Done");  // empty
  std::string logo = b.Task(design, "Logo refresh");
  b.File(logo, "logo.png", 2048);
  b.Text(logo, "brief.txt", "Make the logo pop.\nKeep the anvil.\n");
  b.File(logo, "logo.png", 3000);  // same name, newer created_at
  b.File(logo, "empty.txt", 0);
  b.Text(logo, "NOTES", "A file name without an extension.\n");
  std::string palette = b.Subtask(logo, "Color palette");
  b.Text(palette, "palette.csv", "name,hex\nanvil grey,#5a5a5a\nrocket red,#d0312d\n");
  std::string pantone = b.Subtask(palette, "Pantone check");
  b.File(pantone, "pantone.txt", 512);
  std::string video = b.Task(design, "Launch video");
  b.MoveToSection(video, doing);
  b.File(video, "launch.mp4", 5 * 1024 * 1024);
  b.Link(video, "Storyboard", "gdrive", "https://drive.google.com/file/d/1EmuStoryboard/view");
  std::string dup1 = b.Task(design, "Duplicate name");
  b.File(dup1, "first.txt", 100);
  std::string dup2 = b.Task(design, "Duplicate name");
  b.File(dup2, "second.txt", 200);
  // Key resources: files attached to the project itself.
  b.File(design, "brand-guide.pdf", 4096);
  b.Link(design, "Moodboard", "gdrive", "https://drive.google.com/file/d/1EmuMoodboard/view");
  b.File(design, "Logo refresh", 64);  // same name as a task directory

  std::string eng = b.Project(acme, "Engineering");  // 120 tasks: two pages at limit=100
  for (int i = 1; i <= 120; ++i) {
    char name[32];
    snprintf(name, sizeof name, "Ticket %03d", i);
    std::string t = b.Task(eng, name);
    if (i == 1 || i == 120) b.File(t, "log.txt", 700 + i);
  }

  std::string hostile = b.Project(acme, "Hostile names");
  std::string dot = b.Task(hostile, ".");
  b.File(dot, "inside-dot.txt", 16);
  b.Task(hostile, "..");
  b.Task(hostile, "");
  b.Task(hostile, "Tab\there\nand newline");
  std::string odd = b.Task(hostile, "Odd files");
  b.File(odd, "", 10);
  b.File(odd, "bell\x07.txt", 11);
  std::string long_name = "Quarterly report ";
  for (int i = 0; i < 130; ++i) long_name += "\xc3\xa9";  // é, 260 bytes
  long_name += ".pr\xc3\xa9sentation";
  b.File(odd, long_name, 12);
  b.File(odd, ".hidden", 13);
  b.File(odd, "archive.tar.gz", 14);
  b.Text(odd, "r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.txt", "non-ASCII name\n");

  std::string personal = b.Workspace("Personal");
  std::string home = b.Project(personal, "Home");
  std::string taxes = b.Task(home, "Taxes 2023");
  b.File(taxes, "receipt.pdf", 10000);
  b.Text(home, "house-rules.txt", "Shoes off.\nWater the plants on Sundays.\n");
  b.Task(home, "Groceries");
  b.Project(personal, "Empty project");
}

void SeedMedium(Builder& b) {
  std::string ws = b.Workspace("Medium Co");
  for (int p = 1; p <= 20; ++p) {
    char name[64];
    snprintf(name, sizeof name, "Project %02d", p);
    std::string project = b.Project(ws, name);
    b.File(project, "brief.txt", 500 + static_cast<uint64_t>(p));  // one Key resource each
    for (int t = 1; t <= 50; ++t) {
      snprintf(name, sizeof name, "Task %02d-%02d", p, t);
      std::string task = b.Task(project, name);
      b.File(task, "notes.txt", 1000 + static_cast<uint64_t>((p * 131 + t * 17) % 3000));
      b.File(task, "data.bin", 2000 + static_cast<uint64_t>((p * 61 + t * 29) % 6000));
    }
  }
}

// ---- FILE.json -------------------------------------------------------------------------

std::string Str(const rapidjson::Value& v, const char* key, const std::string& fallback = "") {
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return fallback;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

const rapidjson::Value* List(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  return (it != v.MemberEnd() && it->value.IsArray()) ? &it->value : nullptr;
}

class FileSeeder {
 public:
  FileSeeder(Builder& b, World& world) : b_(b), world_(world) {}

  std::optional<int64_t> Time(const rapidjson::Value& v, const char* key) {
    auto it = v.FindMember(key);
    if (it == v.MemberEnd()) return std::nullopt;
    if (!it->value.IsString()) {
      b_.Fail(std::string(key) + " must be a string");
      return std::nullopt;
    }
    auto t = ParseTimestamp(it->value.GetString());
    if (!t) b_.Fail(std::string("bad timestamp in ") + key + ": " + it->value.GetString());
    return t;
  }

  void Attachments(const rapidjson::Value& owner, const std::string& parent) {
    const auto* list = List(owner, "attachments");
    if (!list) return;
    for (const auto& a : list->GetArray()) {
      if (!a.IsObject()) {
        b_.Fail("an attachment must be an object");
        return;
      }
      NewAttachment spec;
      spec.parent = parent;
      spec.name = Str(a, "name");
      spec.host = Str(a, "host", "asana");
      spec.view_url = Str(a, "view_url");
      spec.content_type = Str(a, "content_type");
      spec.created_ms = Time(a, "created_at");
      if (a.HasMember("content")) {
        spec.content = Str(a, "content");
      } else if (a.HasMember("content_base64")) {
        auto bytes = Base64Decode(Str(a, "content_base64"));
        if (!bytes) {
          b_.Fail("bad content_base64 for attachment " + spec.name);
          return;
        }
        spec.content = std::move(*bytes);
      } else if (a.HasMember("size")) {
        if (!a["size"].IsUint64()) {
          b_.Fail("size must be a non-negative integer for attachment " + spec.name);
          return;
        }
        spec.size = a["size"].GetUint64();
      } else {
        spec.size = 0;
      }
      b_.Attach(std::move(spec));
    }
  }

  std::string Task(const rapidjson::Value& v, const std::vector<std::string>& projects,
                   const std::string& parent) {
    if (!v.IsObject()) {
      b_.Fail("a task must be an object");
      return "";
    }
    if (v.HasMember("same_as")) {  // multi-homing: an earlier task joins this project too
      auto it = refs_.find(Str(v, "same_as"));
      if (it == refs_.end() || projects.empty()) {
        b_.Fail("same_as names no earlier task: " + Str(v, "same_as"));
        return "";
      }
      if (!world_.AddTaskToProject(it->second, projects.front())) {
        b_.Fail("same_as across workspaces: " + Str(v, "same_as"));
      }
      return it->second;
    }
    std::string gid = b_.AddTask(projects, parent, Str(v, "name"), Time(v, "created_at"));
    if (gid.empty()) return "";
    if (v.HasMember("ref")) refs_[Str(v, "ref")] = gid;
    Attachments(v, gid);
    if (const auto* subs = List(v, "subtasks")) {
      for (const auto& s : subs->GetArray()) Task(s, {}, gid);
    }
    extra_modified_.emplace_back(gid, Time(v, "modified_at"));
    return gid;
  }

  void Run(const rapidjson::Value& doc, World& world) {
    if (doc.HasMember("user") && doc["user"].IsObject()) {
      world.SetUser(Str(doc["user"], "name", "Emulator User"),
                    Str(doc["user"], "email", "emulator@example.com"));
    }
    const auto* wss = List(doc, "workspaces");
    if (!wss) {
      b_.Fail("the seed file needs a \"workspaces\" array");
      return;
    }
    for (const auto& w : wss->GetArray()) {
      std::string ws = b_.Workspace(Str(w, "name"));
      const auto* projects = List(w, "projects");
      if (!projects) continue;
      for (const auto& p : projects->GetArray()) {
        std::string project = b_.Project(ws, Str(p, "name"));
        // "sections": [{"name", "tasks": [...]}], in order; "tasks" outside them go to the
        // first section.
        if (const auto* sections = List(p, "sections")) {
          std::vector<std::pair<std::string, const rapidjson::Value*>> made;
          for (const auto& sec : sections->GetArray()) {
            made.emplace_back(b_.Section(project, Str(sec, "name")), List(sec, "tasks"));
          }
          for (const auto& [section, tasks] : made) {
            if (!tasks) continue;
            for (const auto& t : tasks->GetArray()) {
              std::string gid = Task(t, {project}, "");
              if (!gid.empty()) b_.MoveToSection(gid, section);
            }
          }
        }
        if (const auto* tasks = List(p, "tasks")) {
          for (const auto& t : tasks->GetArray()) Task(t, {project}, "");
        }
        Attachments(p, project);
      }
    }
    for (const auto& [task, modified] : extra_modified_) {
      if (auto* t = world.MutableTask(task); t && modified) {
        t->modified_ms = std::max(t->created_ms, *modified);
      }
    }
  }

 private:
  Builder& b_;
  World& world_;
  std::map<std::string, std::string> refs_;
  std::vector<std::pair<std::string, std::optional<int64_t>>> extra_modified_;
};

bool SeedFromFile(World& world, const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read seed file " + path;
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    *error = path + ": not a JSON object";
    return false;
  }
  int64_t base = kBaseMs;
  if (doc.HasMember("base_time")) {
    auto t =
        doc["base_time"].IsString() ? ParseTimestamp(doc["base_time"].GetString()) : std::nullopt;
    if (!t) {
      *error = path + ": bad base_time";
      return false;
    }
    base = *t;
  }
  if (world.user().gid.empty()) world.SetUser("Emulator User", "emulator@example.com");
  Builder b(world, base);
  FileSeeder(b, world).Run(doc, world);
  if (!b.Finish(error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

}  // namespace

bool SeedWorld(World& world, const std::string& seed, std::string* error) {
  if (seed == "demo" || seed == "small" || seed == "medium") {
    world.SetUser("Emulator User", "emulator@example.com");
    Builder b(world, kBaseMs);
    if (seed == "demo") SeedDemo(b);
    if (seed == "small") SeedSmall(b);
    if (seed == "medium") SeedMedium(b);
    return b.Finish(error);
  }
  if (seed.size() > 5 && seed.compare(seed.size() - 5, 5, ".json") == 0) {
    return SeedFromFile(world, seed, error);
  }
  *error = "unknown seed '" + seed + "' (demo, small, medium or FILE.json)";
  return false;
}

}  // namespace asanafs::emulator
