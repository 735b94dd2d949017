// Fault injection and statistics; see faults.h.
#include "faults.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "render.h"
#include "util.h"

namespace asanafs::emulator {

namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool ParseKind(const std::string& s, FaultKind* kind) {
  static const std::map<std::string, FaultKind> kKinds = {{"429", FaultKind::k429},
                                                          {"500", FaultKind::k500},
                                                          {"502", FaultKind::k502},
                                                          {"503", FaultKind::k503},
                                                          {"reset", FaultKind::kReset},
                                                          {"slow", FaultKind::kSlow},
                                                          {"cut", FaultKind::kCut},
                                                          {"lostreply", FaultKind::kLostReply},
                                                          {"badjson", FaultKind::kBadJson},
                                                          {"wrongtype", FaultKind::kWrongType},
                                                          {"hugenum", FaultKind::kHugeNumber},
                                                          {"nofields", FaultKind::kMissingFields},
                                                          {"foreignurl", FaultKind::kForeignUrl},
                                                          {"pageloop", FaultKind::kPageLoop}};
  auto it = kKinds.find(s);
  if (it == kKinds.end()) return false;
  *kind = it->second;
  return true;
}

}  // namespace

const char* FaultName(FaultKind kind) {
  switch (kind) {
    case FaultKind::k429:
      return "429";
    case FaultKind::k500:
      return "500";
    case FaultKind::k502:
      return "502";
    case FaultKind::k503:
      return "503";
    case FaultKind::kReset:
      return "reset";
    case FaultKind::kSlow:
      return "slow";
    case FaultKind::kCut:
      return "cut";
    case FaultKind::kLostReply:
      return "lostreply";
    case FaultKind::kBadJson:
      return "badjson";
    case FaultKind::kWrongType:
      return "wrongtype";
    case FaultKind::kHugeNumber:
      return "hugenum";
    case FaultKind::kMissingFields:
      return "nofields";
    case FaultKind::kForeignUrl:
      return "foreignurl";
    case FaultKind::kPageLoop:
      return "pageloop";
    case FaultKind::kNone:
      break;
  }
  return "none";
}

bool IsReplyMangling(FaultKind kind) {
  switch (kind) {
    case FaultKind::kBadJson:
    case FaultKind::kWrongType:
    case FaultKind::kHugeNumber:
    case FaultKind::kMissingFields:
    case FaultKind::kForeignUrl:
      return true;
    default:
      return false;
  }
}

namespace {

constexpr char kHugeMarker[] = "@@huge-number@@";
// Larger than any uint64_t and int64_t; a double holds it only approximately (1e23).
constexpr char kHugeText[] = "99999999999999999999999";

// Every field of a record turns into another JSON type: strings become numbers, numbers
// strings, booleans and null objects, objects and arrays strings.
void WrongTypes(rapidjson::Value& record, rapidjson::Document::AllocatorType& al) {
  if (!record.IsObject()) return;
  for (auto& m : record.GetObject()) {
    rapidjson::Value& v = m.value;
    if (v.IsString()) {
      v.SetUint64(12345);
    } else if (v.IsNumber()) {
      v.SetString("12345", al);
    } else if (v.IsBool() || v.IsNull()) {
      v.SetObject();
    } else {
      v.SetString("not an object", al);
    }
  }
}

// Every number (and every `size`, also where absent) becomes too large for 64 bits; gids
// become 40-digit strings.
void HugeNumbers(rapidjson::Value& record, rapidjson::Document::AllocatorType& al) {
  if (!record.IsObject()) return;
  for (auto& m : record.GetObject()) {
    if (m.value.IsNumber()) m.value.SetString(kHugeMarker, al);
  }
  if (record.HasMember("gid"))
    record["gid"].SetString("9999999999999999999999999999999999999999", al);
  if (!record.HasMember("size")) {
    record.AddMember("size", rapidjson::Value(kHugeMarker, al), al);
  }
}

// Records lose `name` (even positions) or `gid` (odd positions); single records lose both.
void MissingFields(rapidjson::Value& record, int index) {
  if (!record.IsObject()) return;
  if (index < 0 || index % 2 == 0) record.RemoveMember("name");
  if (index < 0 || index % 2 == 1) record.RemoveMember("gid");
}

void ForeignUrl(rapidjson::Value& record, rapidjson::Document::AllocatorType& al) {
  if (!record.IsObject() || !record.HasMember("download_url")) return;
  rapidjson::Value& v = record["download_url"];
  if (!v.IsString()) return;
  std::string url = v.GetString();
  // Keep path and query: scheme://authority/rest → kForeignHost/rest.
  auto scheme = url.find("://");
  auto slash = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
  std::string rest = slash == std::string::npos ? "/" : url.substr(slash);
  v.SetString((std::string(kForeignHost) + rest).c_str(), al);
}

}  // namespace

void MangleReply(FaultKind kind, std::string* body) {
  if (!IsReplyMangling(kind)) return;
  if (kind == FaultKind::kBadJson) {
    // Cut in the middle and end in garbage: no parser can accept it.
    *body = body->substr(0, body->size() / 2) + "\x01\"{[";
    return;
  }
  rapidjson::Document doc;
  doc.Parse(body->data(), body->size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("data")) return;
  auto& al = doc.GetAllocator();
  rapidjson::Value& data = doc["data"];
  auto apply = [&](rapidjson::Value& record, int index) {
    switch (kind) {
      case FaultKind::kWrongType:
        WrongTypes(record, al);
        break;
      case FaultKind::kHugeNumber:
        HugeNumbers(record, al);
        break;
      case FaultKind::kMissingFields:
        MissingFields(record, index);
        break;
      case FaultKind::kForeignUrl:
        ForeignUrl(record, al);
        break;
      default:
        break;
    }
  };
  if (data.IsArray()) {
    int i = 0;
    for (auto& record : data.GetArray()) apply(record, i++);
  } else {
    apply(data, -1);
  }
  std::string out = asanafs::emulator::ToJson(doc);
  if (kind == FaultKind::kHugeNumber) {
    const std::string marker = std::string("\"") + kHugeMarker + "\"";
    for (size_t pos; (pos = out.find(marker)) != std::string::npos;) {
      out.replace(pos, marker.size(), kHugeText);
    }
  }
  *body = std::move(out);
}

bool ParseFaultSpec(std::string_view spec, std::vector<FaultRule>* rules, std::string* error) {
  rules->clear();
  for (const auto& raw : Split(spec, ';')) {
    std::string rule = Trim(raw);
    if (rule.empty()) continue;
    FaultRule r;
    std::string head = rule, scope;
    if (auto at = rule.find('@'); at != std::string::npos) {
      head = Trim(rule.substr(0, at));
      scope = Trim(rule.substr(at + 1));
      if (scope.empty()) {
        *error = "empty scope after '@' in fault rule '" + rule + "'";
        return false;
      }
    }
    std::string kind = head, prob;
    if (auto colon = head.find(':'); colon != std::string::npos) {
      kind = Trim(head.substr(0, colon));
      prob = Trim(head.substr(colon + 1));
    }
    if (!ParseKind(kind, &r.kind)) {
      *error = "unknown fault kind '" + kind +
               "' (429, 500, 502, 503, reset, slow, cut, lostreply, badjson, wrongtype, "
               "hugenum, nofields, foreignurl, pageloop)";
      return false;
    }
    if (!prob.empty()) {
      char* end = nullptr;
      double p = std::strtod(prob.c_str(), &end);
      if (end != prob.c_str() + prob.size() || !(p >= 0.0 && p <= 1.0)) {
        *error = "fault probability must be a number in [0, 1]: '" + prob + "'";
        return false;
      }
      r.prob = p;
    }
    if (!scope.empty()) {
      auto space = scope.find_first_of(" \t");
      if (space != std::string::npos) {
        r.method = scope.substr(0, space);
        r.prefix = Trim(scope.substr(space + 1));
      } else if (scope[0] == '/') {
        r.prefix = scope;
      } else {
        r.method = scope;
      }
      std::transform(r.method.begin(), r.method.end(), r.method.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      if (r.method == "*") r.method.clear();
      if (!r.prefix.empty() && r.prefix[0] != '/') {
        *error = "fault path prefix must start with '/': '" + r.prefix + "'";
        return false;
      }
    }
    rules->push_back(std::move(r));
  }
  return true;
}

bool Faults::Set(std::string_view spec, std::string* error) {
  std::vector<FaultRule> rules;
  if (!ParseFaultSpec(spec, &rules, error)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  rules_ = std::move(rules);
  return true;
}

FaultKind Faults::Decide(const std::string& method, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& r : rules_) {
    if (!r.method.empty() && r.method != method) continue;
    if (path.compare(0, r.prefix.size(), r.prefix) != 0) continue;
    if (r.prob >= 1.0) return r.kind;
    if (r.prob <= 0.0) continue;
    double draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    if (draw < r.prob) return r.kind;
  }
  return FaultKind::kNone;
}

void Stats::CountApi(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[key];
  ++total_api_;
}

void Stats::CountBlob(bool had_authorization) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_["GET /_blobs"];
  ++blob_requests_;
  if (had_authorization) ++blob_auth_headers_;
}

void Stats::AddBlobBytes(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  blob_bytes_ += n;
}

void Stats::CountUpload() {
  std::lock_guard<std::mutex> lock(mu_);
  ++uploads_;
}

void Stats::CountDelete() {
  std::lock_guard<std::mutex> lock(mu_);
  ++deletes_;
}

void Stats::CountFault() {
  std::lock_guard<std::mutex> lock(mu_);
  ++faults_;
}

void Stats::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.clear();
  total_api_ = blob_requests_ = blob_bytes_ = blob_auth_headers_ = uploads_ = deletes_ = faults_ =
      0;
}

std::string Stats::ToJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& al = doc.GetAllocator();
  rapidjson::Value requests(rapidjson::kObjectType);
  for (const auto& [key, n] : requests_) {
    requests.AddMember(rapidjson::Value(key.c_str(), al), rapidjson::Value(n), al);
  }
  doc.AddMember("requests", requests, al);
  doc.AddMember("total_api_requests", total_api_, al);
  doc.AddMember("blob_requests", blob_requests_, al);
  doc.AddMember("blob_bytes", blob_bytes_, al);
  doc.AddMember("blob_auth_headers", blob_auth_headers_, al);
  doc.AddMember("uploads", uploads_, al);
  doc.AddMember("deletes", deletes_, al);
  doc.AddMember("faults_injected", faults_, al);
  return asanafs::emulator::ToJson(doc);
}

}  // namespace asanafs::emulator
