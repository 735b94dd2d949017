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
  static const std::map<std::string, FaultKind> kKinds = {
      {"429", FaultKind::k429}, {"500", FaultKind::k500},     {"502", FaultKind::k502},
      {"503", FaultKind::k503}, {"reset", FaultKind::kReset}, {"slow", FaultKind::kSlow}};
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
    case FaultKind::kNone:
      break;
  }
  return "none";
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
      *error = "unknown fault kind '" + kind + "' (429, 500, 502, 503, reset, slow)";
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
