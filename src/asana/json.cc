#include "asanafs/asana/json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <utility>

namespace asanafs::asana {
namespace {

using rapidjson::Value;

Error Bad(std::string message) {
  return MakeError(ErrorCode::kBadResponse, "bad reply: " + std::move(message));
}

// Parses `body` into `doc`; the top level must be an object.
Status Parse(std::string_view body, rapidjson::Document* doc) {
  // Iterative: a hostile "[[[[…" cannot exhaust the stack.
  doc->Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc->HasParseError()) {
    return Bad(std::string("not JSON (") + rapidjson::GetParseError_En(doc->GetParseError()) +
               " at byte " + std::to_string(doc->GetErrorOffset()) + ")");
  }
  if (!doc->IsObject()) {
    return Bad("top level is not an object");
  }
  return OkStatus();
}

const Value* Member(const Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return nullptr;  // missing and null mean the same: not given
  }
  return &it->value;
}

// Reads an optional string field; wrong type is an error.
Status GetString(const Value& obj, const char* key, const std::string& where, std::string* out) {
  const Value* v = Member(obj, key);
  if (v == nullptr) {
    return OkStatus();
  }
  if (!v->IsString()) {
    return Bad(where + "." + key + " is not a string");
  }
  out->assign(v->GetString(), v->GetStringLength());
  return OkStatus();
}

Status GetTime(const Value& obj, const char* key, const std::string& where,
               std::optional<TimePoint>* out) {
  std::string text;
  RETURN_IF_ERROR(GetString(obj, key, where, &text));
  if (Member(obj, key) == nullptr) {
    return OkStatus();
  }
  auto t = ParseTimestamp(text);
  if (!t.has_value()) {
    return Bad(where + "." + key + ": " + t.error().message);
  }
  *out = *t;
  return OkStatus();
}

Status GetGid(const Value& obj, const std::string& where, std::string* out) {
  const Value* v = Member(obj, "gid");
  if (v == nullptr || !v->IsString() || v->GetStringLength() == 0) {
    return Bad(where + ".gid is missing or not a non-empty string");
  }
  out->assign(v->GetString(), v->GetStringLength());
  return OkStatus();
}

Status DecodeRecord(const Value& v, const std::string& where, User* out) {
  RETURN_IF_ERROR(GetGid(v, where, &out->gid));
  RETURN_IF_ERROR(GetString(v, "name", where, &out->name));
  return GetString(v, "email", where, &out->email);
}

Status DecodeRecord(const Value& v, const std::string& where, Workspace* out) {
  RETURN_IF_ERROR(GetGid(v, where, &out->gid));
  return GetString(v, "name", where, &out->name);
}

Status DecodeRecord(const Value& v, const std::string& where, Project* out) {
  RETURN_IF_ERROR(GetGid(v, where, &out->gid));
  RETURN_IF_ERROR(GetString(v, "name", where, &out->name));
  RETURN_IF_ERROR(GetTime(v, "created_at", where, &out->created_at));
  return GetTime(v, "modified_at", where, &out->modified_at);
}

Status DecodeRecord(const Value& v, const std::string& where, Section* out) {
  RETURN_IF_ERROR(GetGid(v, where, &out->gid));
  RETURN_IF_ERROR(GetString(v, "name", where, &out->name));
  return GetTime(v, "created_at", where, &out->created_at);
}

Status DecodeRecord(const Value& v, const std::string& where, Task* out) {
  RETURN_IF_ERROR(GetGid(v, where, &out->gid));
  RETURN_IF_ERROR(GetString(v, "name", where, &out->name));
  RETURN_IF_ERROR(GetTime(v, "created_at", where, &out->created_at));
  RETURN_IF_ERROR(GetTime(v, "modified_at", where, &out->modified_at));
  return GetString(v, "permalink_url", where, &out->permalink_url);
}

Status DecodeRecord(const Value& v, const std::string& where, Attachment* out) {
  RETURN_IF_ERROR(GetGid(v, where, &out->gid));
  RETURN_IF_ERROR(GetString(v, "name", where, &out->name));
  RETURN_IF_ERROR(GetString(v, "host", where, &out->host));
  std::string subtype;
  RETURN_IF_ERROR(GetString(v, "resource_subtype", where, &subtype));
  if (out->host.empty()) {
    out->host = subtype;  // both name the hosting service; either may be asked for
  }
  if (const Value* size = Member(v, "size")) {
    if (!size->IsUint64()) {
      return Bad(where + ".size is not a non-negative integer");
    }
    out->size = size->GetUint64();
  }
  RETURN_IF_ERROR(GetTime(v, "created_at", where, &out->created_at));
  RETURN_IF_ERROR(GetString(v, "download_url", where, &out->download_url));
  RETURN_IF_ERROR(GetString(v, "view_url", where, &out->view_url));
  if (const Value* parent = Member(v, "parent")) {
    if (!parent->IsObject()) {
      return Bad(where + ".parent is not an object");
    }
    RETURN_IF_ERROR(GetString(*parent, "gid", where + ".parent", &out->parent_gid));
  }
  return OkStatus();
}

template <typename T>
Result<T> DecodeSingle(std::string_view body) {
  rapidjson::Document doc;
  RETURN_IF_ERROR(Parse(body, &doc));
  const Value* data = Member(doc, "data");
  if (data == nullptr || !data->IsObject()) {
    return Bad("data is missing or not an object");
  }
  T out;
  RETURN_IF_ERROR(DecodeRecord(*data, "data", &out));
  return out;
}

template <typename T>
Result<Page<T>> DecodeList(std::string_view body) {
  rapidjson::Document doc;
  RETURN_IF_ERROR(Parse(body, &doc));
  const Value* data = Member(doc, "data");
  if (data == nullptr || !data->IsArray()) {
    return Bad("data is missing or not an array");
  }
  Page<T> page;
  page.items.reserve(data->Size());
  for (rapidjson::SizeType i = 0; i < data->Size(); ++i) {
    const std::string where = "data[" + std::to_string(i) + "]";
    const Value& item = (*data)[i];
    if (!item.IsObject()) {
      return Bad(where + " is not an object");
    }
    T record;
    RETURN_IF_ERROR(DecodeRecord(item, where, &record));
    page.items.push_back(std::move(record));
  }
  if (const Value* next = Member(doc, "next_page")) {
    if (!next->IsObject()) {
      return Bad("next_page is not an object");
    }
    const Value* offset = Member(*next, "offset");
    if (offset == nullptr || !offset->IsString() || offset->GetStringLength() == 0) {
      return Bad("next_page.offset is missing or not a non-empty string");
    }
    page.next_offset = std::string(offset->GetString(), offset->GetStringLength());
  }
  return page;
}

// Reads exactly `n` digits at `*pos` into `*out`.
bool Digits(std::string_view s, size_t* pos, int n, int* out) {
  if (*pos + n > s.size()) {
    return false;
  }
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos < s.size() && s[*pos] == c) {
    ++*pos;
    return true;
  }
  return false;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

}  // namespace

Result<TimePoint> ParseTimestamp(std::string_view s) {
  auto bad = [&] {
    return MakeError(ErrorCode::kBadResponse,
                     "not an ISO-8601 timestamp: \"" + std::string(s.substr(0, 40)) + "\"");
  };
  size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!Digits(s, &pos, 4, &year) || !Expect(s, &pos, '-') || !Digits(s, &pos, 2, &month) ||
      !Expect(s, &pos, '-') || !Digits(s, &pos, 2, &day) || !Expect(s, &pos, 'T') ||
      !Digits(s, &pos, 2, &hour) || !Expect(s, &pos, ':') || !Digits(s, &pos, 2, &minute) ||
      !Expect(s, &pos, ':') || !Digits(s, &pos, 2, &second)) {
    return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return bad();
  }
  int64_t micros = 0;
  if (Expect(s, &pos, '.')) {
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 6) {
        micros = micros * 10 + (s[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) {
      return bad();
    }
    for (int i = digits; i < 6; ++i) {
      micros *= 10;
    }
  }
  int64_t offset_s = 0;
  if (Expect(s, &pos, 'Z')) {
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos] == '+' ? 1 : -1;
    ++pos;
    int oh, om;
    if (!Digits(s, &pos, 2, &oh) || !Expect(s, &pos, ':') || !Digits(s, &pos, 2, &om) || oh > 23 ||
        om > 59) {
      return bad();
    }
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return bad();
  }
  if (pos != s.size()) {
    return bad();
  }
  const int64_t secs =
      DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  // TimePoint counts nanoseconds in an int64 (libstdc++), about 1677-09-21 to
  // 2262-04-11: a year outside that (e.g. "5088-...") would overflow the
  // conversion below (undefined behaviour, a garbage time). Refuse it as a bad
  // reply (fuzz finding F1, tests/fuzz/regressions/fuzz_json/).
  constexpr int64_t kMaxSecs =
      std::chrono::duration_cast<std::chrono::seconds>(TimePoint::duration::max()).count() - 1;
  if (secs > kMaxSecs || secs < -kMaxSecs) {
    return bad();
  }
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::seconds(secs) + std::chrono::microseconds(micros)));
}

std::string FormatTimestamp(TimePoint t) {
  using std::chrono::milliseconds;
  const int64_t ms = std::chrono::floor<milliseconds>(t.time_since_epoch()).count();
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const int64_t frac = ms - secs * 1000;
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm_buf;
  gmtime_r(&tt, &tm_buf);
  char out[96];
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm_buf.tm_year + 1900,
                tm_buf.tm_mon + 1, tm_buf.tm_mday, tm_buf.tm_hour, tm_buf.tm_min, tm_buf.tm_sec,
                static_cast<int>(frac));
  return out;
}

Result<User> DecodeUser(std::string_view body) { return DecodeSingle<User>(body); }
Result<Workspace> DecodeWorkspace(std::string_view body) { return DecodeSingle<Workspace>(body); }
Result<Project> DecodeProject(std::string_view body) { return DecodeSingle<Project>(body); }
Result<Task> DecodeTask(std::string_view body) { return DecodeSingle<Task>(body); }
Result<Attachment> DecodeAttachment(std::string_view body) {
  return DecodeSingle<Attachment>(body);
}

Result<Page<Workspace>> DecodeWorkspacePage(std::string_view body) {
  return DecodeList<Workspace>(body);
}
Result<Page<Project>> DecodeProjectPage(std::string_view body) { return DecodeList<Project>(body); }
Result<Page<Task>> DecodeTaskPage(std::string_view body) { return DecodeList<Task>(body); }
Result<Page<Section>> DecodeSectionPage(std::string_view body) { return DecodeList<Section>(body); }
Result<Page<Attachment>> DecodeAttachmentPage(std::string_view body) {
  return DecodeList<Attachment>(body);
}

namespace {

// {gid, resource_type} of an event's resource or parent; false if malformed.
bool DecodeEventRef(const Value& v, EventRef* out) {
  if (!v.IsObject()) {
    return false;
  }
  const Value* gid = Member(v, "gid");
  const Value* type = Member(v, "resource_type");
  if (gid == nullptr || !gid->IsString() || gid->GetStringLength() == 0) {
    return false;
  }
  out->gid.assign(gid->GetString(), gid->GetStringLength());
  if (type != nullptr && type->IsString()) {
    out->resource_type.assign(type->GetString(), type->GetStringLength());
  }
  return true;
}

}  // namespace

Result<EventPage> DecodeEventPage(std::string_view body) {
  rapidjson::Document doc;
  RETURN_IF_ERROR(Parse(body, &doc));
  EventPage page;
  const Value* data = Member(doc, "data");
  if (data != nullptr && !data->IsArray()) {
    return Bad("events: data is not an array");
  }
  if (data != nullptr) {
    for (const Value& item : data->GetArray()) {
      Event e;
      if (!item.IsObject() || Member(item, "resource") == nullptr ||
          !DecodeEventRef(*Member(item, "resource"), &e.resource)) {
        continue;  // at-most-once anyway: the listing TTL covers what we skip
      }
      if (const Value* parent = Member(item, "parent")) {
        EventRef ref;
        if (DecodeEventRef(*parent, &ref)) {
          e.parent = std::move(ref);
        }
      }
      if (const Value* action = Member(item, "action"); action != nullptr && action->IsString()) {
        e.action.assign(action->GetString(), action->GetStringLength());
      }
      page.events.push_back(std::move(e));
    }
  }
  RETURN_IF_ERROR(GetString(doc, "sync", "events", &page.sync));
  if (page.sync.empty()) {
    return Bad("events: no sync token");
  }
  if (const Value* more = Member(doc, "has_more")) {
    if (!more->IsBool()) {
      return Bad("events: has_more is not a boolean");
    }
    page.has_more = more->GetBool();
  }
  return page;
}

std::optional<std::string> DecodeSyncToken(std::string_view body) {
  rapidjson::Document doc;
  if (!Parse(body, &doc).has_value()) {
    return std::nullopt;
  }
  const Value* sync = Member(doc, "sync");
  if (sync == nullptr || !sync->IsString() || sync->GetStringLength() == 0) {
    return std::nullopt;
  }
  return std::string(sync->GetString(), sync->GetStringLength());
}

std::optional<std::string> DecodeErrorMessage(std::string_view body) {
  rapidjson::Document doc;
  if (!Parse(body, &doc).has_value()) {
    return std::nullopt;
  }
  const Value* errors = Member(doc, "errors");
  if (errors == nullptr || !errors->IsArray() || errors->Empty() || !(*errors)[0].IsObject()) {
    return std::nullopt;
  }
  const Value* message = Member((*errors)[0], "message");
  if (message == nullptr || !message->IsString()) {
    return std::nullopt;
  }
  return std::string(message->GetString(), message->GetStringLength());
}

namespace {

template <typename Fn>
std::string WriteData(Fn&& fill) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("data");
  writer.StartObject();
  fill(writer);
  writer.EndObject();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

std::string EncodeCreateTask(std::string_view name, std::string_view project_gid) {
  return WriteData([&](auto& w) {
    w.Key("name");
    w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.Key("projects");
    w.StartArray();
    w.String(project_gid.data(), static_cast<rapidjson::SizeType>(project_gid.size()));
    w.EndArray();
  });
}

std::string EncodeCreateSubtask(std::string_view name) {
  return WriteData([&](auto& w) {
    w.Key("name");
    w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  });
}

}  // namespace asanafs::asana
