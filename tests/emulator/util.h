// Small helpers for the Asana emulator (test layer, tests/emulator): timestamps in Asana's format,
// hashing (SHA-256, keyed signatures), base64, URL coding and the deterministic content PRNG.
// Standalone: the emulator links no asanafs library.
#ifndef TESTS_EMULATOR_UTIL_H_
#define TESTS_EMULATOR_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asanafs::emulator {

// Milliseconds since the Unix epoch, UTC.
int64_t NowMs();

// `2024-01-02T03:04:05.678Z`.
std::string FormatTimestamp(int64_t ms);
// Accepts `YYYY-MM-DDTHH:MM:SS[.fff]Z`; nullopt on anything else.
std::optional<int64_t> ParseTimestamp(std::string_view text);

std::string Sha256Hex(std::string_view data);

// Incremental SHA-256 for streamed uploads and large seeded files.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t len);
  std::string FinishHex();

 private:
  void* ctx_;
};

// HMAC-SHA256 of `data` under `key`, hex, cut to `hex_chars`.
std::string Sign(std::string_view key, std::string_view data, size_t hex_chars = 32);

std::string Base64UrlEncode(std::string_view data);  // no padding
std::optional<std::string> Base64UrlDecode(std::string_view text);
std::optional<std::string> Base64Decode(std::string_view text);  // standard alphabet, padded

// Percent-decodes %XX sequences; malformed ones are kept literally. '+' stays '+'.
std::string PercentDecode(std::string_view text);
// Encodes everything except RFC 3986 unreserved characters.
std::string PercentEncode(std::string_view text);

// Strictly parses a non-negative decimal integer (no sign, no spaces).
std::optional<uint64_t> ParseUint(std::string_view text);
bool IsAllDigits(std::string_view text);

// Deterministic bytes for an attachment: a splitmix64 stream seeded by the gid. Fills `out`
// with bytes [offset, offset + out.size()) of that stream; offset must be a multiple of 8.
void FillContent(const std::string& gid, uint64_t offset, std::string& out);

std::vector<std::string> Split(std::string_view text, char sep);

}  // namespace asanafs::emulator

#endif  // TESTS_EMULATOR_UTIL_H_
