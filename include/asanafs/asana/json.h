// asana/json: pure functions between Asana's JSON and the records of types.h.
// Layer: asana. RapidJSON is used only in src/asana/json.cc.
//
// Decoding is tolerant where Asana is (a null or missing optional field gives
// the default) and strict where a wrong shape means we misunderstand the reply:
// a body that is not JSON, `data` of the wrong kind, a record without a string
// gid, or a field of the wrong type (e.g. a string `size`, a negative or
// fractional or out-of-range number) is kBadResponse. Nothing here crashes on
// hostile input: deep nesting is parsed iteratively.
#ifndef ASANAFS_ASANA_JSON_H_
#define ASANAFS_ASANA_JSON_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asanafs/asana/types.h"
#include "asanafs/util/result.h"

namespace asanafs::asana {

// One page of a list reply `{"data": [...], "next_page": {"offset": ...}|null}`.
template <typename T>
struct Page {
  std::vector<T> items;
  // next_page.offset; nullopt when next_page is null or absent (the last page).
  std::optional<std::string> next_offset;
};

// Single-object envelopes `{"data": {...}}`.
Result<User> DecodeUser(std::string_view body);
Result<Workspace> DecodeWorkspace(std::string_view body);
Result<Project> DecodeProject(std::string_view body);
Result<Task> DecodeTask(std::string_view body);
Result<Attachment> DecodeAttachment(std::string_view body);

// List envelopes.
Result<Page<Workspace>> DecodeWorkspacePage(std::string_view body);
Result<Page<Project>> DecodeProjectPage(std::string_view body);
Result<Page<Task>> DecodeTaskPage(std::string_view body);
Result<Page<Section>> DecodeSectionPage(std::string_view body);
Result<Page<Attachment>> DecodeAttachmentPage(std::string_view body);

// `{"data": [Event...], "sync": TOKEN, "has_more": BOOL}` (GET /events, 200).
// Events of unknown shape are skipped; a missing sync token is kBadResponse.
Result<EventPage> DecodeEventPage(std::string_view body);
// The fresh `sync` of a 412 reply of GET /events, or nullopt.
std::optional<std::string> DecodeSyncToken(std::string_view body);

// Returns errors[0].message of an error envelope `{"errors": [{"message":
// ...}]}`, or nullopt when the body has no such message (not JSON, HTML, ...).
std::optional<std::string> DecodeErrorMessage(std::string_view body);

// Parses an ISO-8601 UTC timestamp as Asana writes them:
// "2024-01-02T03:04:05.678Z", "2024-01-02T03:04:05Z", any number of fraction
// digits (kept to microseconds), and a "+HH:MM"/"-HH:MM" offset instead of Z.
Result<TimePoint> ParseTimestamp(std::string_view text);
// Formats as "2024-01-02T03:04:05.678Z" (milliseconds, UTC).
std::string FormatTimestamp(TimePoint t);

// `{"data": {"name": NAME, "projects": [PROJECT_GID]}}` for POST /tasks.
std::string EncodeCreateTask(std::string_view name, std::string_view project_gid);
// `{"data": {"name": NAME}}` for POST /tasks/{gid}/subtasks.
std::string EncodeCreateSubtask(std::string_view name);

}  // namespace asanafs::asana

#endif  // ASANAFS_ASANA_JSON_H_
