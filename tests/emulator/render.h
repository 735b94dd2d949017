// JSON rendering for the Asana emulator (test layer, tests/emulator): compact and full records
// as the official spec defines them, `opt_fields` selections (gid plus exactly the requested
// fields, dotted paths into referenced objects), and the /_control/state document.
#ifndef TESTS_EMULATOR_RENDER_H_
#define TESTS_EMULATOR_RENDER_H_

#include <rapidjson/document.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "world.h"

namespace asanafs::emulator {

// A parsed `opt_fields` value: `name,parent.name` -> {name: {}, parent: {name: {}}}.
struct FieldSel {
  std::vector<std::pair<std::string, FieldSel>> fields;
  const FieldSel* Find(std::string_view name) const;
  bool empty() const { return fields.empty(); }
};
FieldSel ParseOptFields(std::string_view csv);

// Which record shape to render without opt_fields: lists return compact records, single
// GETs and creates the full ones.
enum class Shape { kCompact, kFull };

class Renderer {
 public:
  using Alloc = rapidjson::Document::AllocatorType;
  // Makes the (signed, expiring) download URL of an asana-hosted attachment.
  using UrlSigner = std::function<std::string(const Attachment&)>;

  Renderer(const World& world, Alloc& alloc, UrlSigner signer)
      : world_(world), alloc_(alloc), signer_(std::move(signer)) {}

  // Renders any object by gid (user, workspace, project, task or attachment). With `sel`, the
  // record is gid + the selected fields; otherwise `shape` decides. Null for unknown gids.
  rapidjson::Value Object(const std::string& gid, const FieldSel* sel, Shape shape);

 private:
  rapidjson::Value Ref(const std::string& gid, const FieldSel* sub);
  rapidjson::Value RefList(const std::vector<std::string>& gids, const FieldSel* sub);
  rapidjson::Value S(const std::string& s) {
    return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc_);
  }
  rapidjson::Value Time(int64_t ms);
  rapidjson::Value UserRef();

  bool UserField(const User& u, std::string_view f, const FieldSel* sub, rapidjson::Value& out);
  bool WorkspaceField(const Workspace& w, std::string_view f, const FieldSel* sub,
                      rapidjson::Value& out);
  bool ProjectField(const Project& p, std::string_view f, const FieldSel* sub,
                    rapidjson::Value& out);
  bool SectionField(const Section& s, std::string_view f, const FieldSel* sub,
                    rapidjson::Value& out);
  bool TaskField(const Task& t, std::string_view f, const FieldSel* sub, rapidjson::Value& out);
  bool AttachmentField(const Attachment& a, std::string_view f, const FieldSel* sub,
                       rapidjson::Value& out);

  const World& world_;
  Alloc& alloc_;
  UrlSigner signer_;
};

std::string ToJson(const rapidjson::Value& value, bool pretty = false);

// The whole world for tests: {user, workspaces, projects, sections, tasks, attachments}.
std::string RenderState(const World& world);

}  // namespace asanafs::emulator

#endif  // TESTS_EMULATOR_RENDER_H_
