// Fault injection and request statistics for the Asana emulator (test layer, tests/emulator).
// Faults follow the SPEC grammar in README.md (`KIND[:PROB][@METHOD PATH-PREFIX]`, `;`-separated)
// and draw from a PRNG seeded by --fault-seed, so a run is repeatable. Stats count requests per
// route template for tests that assert request economy. Both are thread-safe.
#ifndef TESTS_EMULATOR_FAULTS_H_
#define TESTS_EMULATOR_FAULTS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace asanafs::emulator {

enum class FaultKind {
  kNone,
  k429,
  k500,
  k502,
  k503,
  kReset,
  kSlow,
  // The connection dies half-way through a body: the download's (blob route) or the request's
  // (an upload or another request with a body; without a body it acts like kReset).
  kCut,
  // The request is carried out in full, then the connection is reset instead of replying.
  kLostReply,
  // The reply is served with its body damaged (see MangleReply).
  kBadJson,
  kWrongType,
  kHugeNumber,
  kMissingFields,
  kForeignUrl,
  // A list request's `offset` is ignored, so every page is the first one and its next_page
  // points back at the second one: a client that follows next_page blindly never stops.
  kPageLoop,
};

struct FaultRule {
  FaultKind kind = FaultKind::kNone;
  double prob = 1.0;
  std::string method;  // empty: any method
  std::string prefix;  // empty: any path
};

// Parses SPEC; an empty SPEC gives no rules. False with a message on a syntax error.
bool ParseFaultSpec(std::string_view spec, std::vector<FaultRule>* rules, std::string* error);
const char* FaultName(FaultKind kind);
// Kinds served by running the request normally and then damaging the reply body.
bool IsReplyMangling(FaultKind kind);
// Damages the JSON `body` of an /api/1.0 reply as `kind` says; other kinds leave it alone.
// kForeignUrl points every download_url at kForeignHost, keeping path and query.
void MangleReply(FaultKind kind, std::string* body);
inline constexpr char kForeignHost[] = "http://203.0.113.7:9";  // TEST-NET-3: nobody's host

class Faults {
 public:
  explicit Faults(uint64_t seed) : rng_(seed) {}
  bool Set(std::string_view spec, std::string* error);
  // `path` is the path after /api/1.0, or the /_blobs/... path. The first rule whose scope
  // matches and whose draw succeeds wins.
  FaultKind Decide(const std::string& method, const std::string& path);

 private:
  std::mutex mu_;
  std::vector<FaultRule> rules_;
  std::mt19937_64 rng_;
};

class Stats {
 public:
  // An /api/1.0 request, keyed "METHOD /route/{gid}/template".
  void CountApi(const std::string& key);
  void CountBlob(bool had_authorization);
  void AddBlobBytes(uint64_t n);
  void CountUpload();
  void CountDelete();
  void CountFault();
  void Reset();
  std::string ToJson() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> requests_;
  uint64_t total_api_ = 0;
  uint64_t blob_requests_ = 0;
  uint64_t blob_bytes_ = 0;
  uint64_t blob_auth_headers_ = 0;
  uint64_t uploads_ = 0;
  uint64_t deletes_ = 0;
  uint64_t faults_ = 0;
};

}  // namespace asanafs::emulator

#endif  // TESTS_EMULATOR_FAULTS_H_
