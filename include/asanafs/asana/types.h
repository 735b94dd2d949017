// asana/types: plain records for the Asana objects the filesystem shows.
// Layer: asana (no RapidJSON here; decoding lives in json.cc).
#ifndef ASANAFS_ASANA_TYPES_H_
#define ASANAFS_ASANA_TYPES_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace asanafs::asana {

using TimePoint = std::chrono::system_clock::time_point;

struct User {
  std::string gid;
  std::string name;
  std::string email;
};

struct Workspace {
  std::string gid;
  std::string name;
};

struct Project {
  std::string gid;
  std::string name;
  std::optional<TimePoint> created_at;
  std::optional<TimePoint> modified_at;
};

// A section of a project (GET /projects/{gid}/sections): every task of a
// project sits in exactly one of its sections.
struct Section {
  std::string gid;
  std::string name;
  std::optional<TimePoint> created_at;
};

struct Task {
  std::string gid;
  std::string name;
  std::optional<TimePoint> created_at;
  std::optional<TimePoint> modified_at;
  std::string permalink_url;
};

struct Attachment {
  std::string gid;
  std::string name;
  // resource_subtype / host: "asana", "gdrive", "dropbox", "box", "onedrive",
  // "vimeo", "external". Only "asana" attachments have bytes we can read.
  std::string host;
  std::optional<uint64_t> size;  // only for host == "asana"
  std::optional<TimePoint> created_at;
  std::string download_url;  // only from GetAttachment(); expires in ~2 min
  std::string view_url;
  std::string parent_gid;

  bool IsAsanaHosted() const { return host.empty() || host == "asana"; }
};

// A compact reference inside an event: {gid, resource_type}.
struct EventRef {
  std::string gid;
  std::string resource_type;
};

// One item of GET /events: `resource` changed (action: changed, added,
// removed, deleted, undeleted); `parent` is set for added/removed.
struct Event {
  EventRef resource;
  std::optional<EventRef> parent;
  std::string action;
};

// A reply of GET /events. `expired`: the sync token was missing or too old
// (412) and `sync` is a fresh one; whatever was cached must be re-listed.
struct EventPage {
  std::vector<Event> events;
  std::string sync;
  bool has_more = false;
  bool expired = false;
};

}  // namespace asanafs::asana

#endif  // ASANAFS_ASANA_TYPES_H_
