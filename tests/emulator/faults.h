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

enum class FaultKind { kNone, k429, k500, k502, k503, kReset, kSlow };

struct FaultRule {
  FaultKind kind = FaultKind::kNone;
  double prob = 1.0;
  std::string method;  // empty: any method
  std::string prefix;  // empty: any path
};

// Parses SPEC; an empty SPEC gives no rules. False with a message on a syntax error.
bool ParseFaultSpec(std::string_view spec, std::vector<FaultRule>* rules, std::string* error);
const char* FaultName(FaultKind kind);

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
