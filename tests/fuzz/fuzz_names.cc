// fuzz_names: model::AssignNames, SanitizeComponent and InternetShortcut on
// sibling sets built from arbitrary bytes, with the promises of names.h
// checked after every call. Test-only.
//
// Input layout (FuzzedDataProvider): a sequence of siblings, each made of
// flags, an optional reference to an earlier sibling's name or gid (so that
// collisions are common), a repeat count (so that names over 255 bytes are
// cheap to reach), a small created_at (so that ties are common), a gid and a
// name; the last byte seeds the reordering used for the determinism check.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "asanafs/model/names.h"
#include "fuzz_check.h"

namespace {

using asanafs::model::NameInput;

constexpr size_t kMaxSiblings = 16;

// A safe component per names.h: non-empty, valid UTF-8, no '/', no C0
// control, no DEL, never "." or "..".
FUZZ_NO_COVERAGE void CheckSafeComponent(std::string_view s) {
  FUZZ_CHECK(!s.empty());
  FUZZ_CHECK(asanafs::fuzz::IsValidUtf8(s));
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    FUZZ_CHECK(c != '/' && c >= 0x20 && c != 0x7F);
  }
  FUZZ_CHECK(s != "." && s != "..");
}

// Input that rule 1 and 2 leave alone: valid UTF-8 without '/' or controls,
// and not "", "." or "..".
FUZZ_NO_COVERAGE bool IsClean(std::string_view s) {
  if (s.empty() || s == "." || s == ".." || !asanafs::fuzz::IsValidUtf8(s)) {
    return false;
  }
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '/' || c < 0x20 || c == 0x7F) {
      return false;
    }
  }
  return true;
}

void CheckSanitize(std::string_view name) {
  const std::string out = asanafs::model::SanitizeComponent(name);
  CheckSafeComponent(out);
  FUZZ_CHECK(asanafs::model::SanitizeComponent(out) == out);  // idempotent
  if (IsClean(name)) {
    FUZZ_CHECK(out == name);  // nothing to repair: unchanged
  }
}

// InternetShortcut's documented format, checked byte by byte: printable
// ASCII other than space is copied, every other byte becomes %XX.
FUZZ_NO_COVERAGE void CheckShortcut(std::string_view url) {
  static constexpr std::string_view kHead = "[InternetShortcut]\nURL=";
  static constexpr char kHex[] = "0123456789ABCDEF";
  const std::string out = asanafs::model::InternetShortcut(url);
  FUZZ_CHECK(out.size() > kHead.size() && out.compare(0, kHead.size(), kHead) == 0);
  FUZZ_CHECK(out.back() == '\n');
  FUZZ_CHECK(std::count(out.begin(), out.end(), '\n') == 2);
  FUZZ_CHECK(out.find('\r') == std::string::npos);
  size_t pos = kHead.size();
  for (char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7F) {
      FUZZ_CHECK(pos < out.size() && out[pos] == ch);
      pos += 1;
    } else {
      FUZZ_CHECK(pos + 3 <= out.size() && out[pos] == '%' && out[pos + 1] == kHex[c >> 4] &&
                 out[pos + 2] == kHex[c & 0xF]);
      pos += 3;
    }
  }
  FUZZ_CHECK(pos + 1 == out.size());
}

using Key = std::tuple<std::string, std::string, bool, int64_t, bool, bool>;

FUZZ_NO_COVERAGE Key KeyOf(const NameInput& in) {
  return {in.gid,
          in.name,
          in.created_at.has_value(),
          in.created_at ? in.created_at->time_since_epoch().count() : 0,
          in.is_dir,
          in.is_link};
}

// Pairs each input with its name, sorted: equal for two orders of the same set
// even when some inputs are exact duplicates (which may swap names).
FUZZ_NO_COVERAGE std::vector<std::pair<Key, std::string>> Canonical(const std::vector<NameInput>& in,
                                                   const std::vector<std::string>& names) {
  std::vector<std::pair<Key, std::string>> out;
  for (size_t i = 0; i < in.size(); ++i) {
    out.emplace_back(KeyOf(in[i]), names[i]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void CheckAssign(const std::vector<NameInput>& siblings, uint8_t order_seed) {
  const std::vector<std::string> names = asanafs::model::AssignNames(siblings);
  FUZZ_CHECK(names.size() == siblings.size());
  std::set<std::string> unique;
  for (const std::string& n : names) {
    CheckSafeComponent(n);
    FUZZ_CHECK(n.size() <= asanafs::model::kMaxComponentBytes);
    FUZZ_CHECK(unique.insert(n).second);
  }

  // Rule 4: a name that no other sibling shares, and that needs no cut,
  // is given out unchanged (plus ".url" for a link file).
  std::vector<std::string> plain;
  bool all_short = true;
  for (const NameInput& in : siblings) {
    std::string p = asanafs::model::SanitizeComponent(in.name);
    if (in.is_link && !in.is_dir) {
      p += ".url";
    }
    all_short = all_short && p.size() <= asanafs::model::kMaxComponentBytes;
    plain.push_back(std::move(p));
  }
  if (all_short) {
    std::map<std::string, int> count;
    for (const std::string& p : plain) {
      ++count[p];
    }
    for (size_t i = 0; i < siblings.size(); ++i) {
      if (count[plain[i]] == 1) {
        FUZZ_CHECK(names[i] == plain[i]);
      }
    }
  }

  // Determinism: a reversed and rotated copy names every input the same.
  std::vector<NameInput> shuffled(siblings.rbegin(), siblings.rend());
  if (!shuffled.empty()) {
    std::rotate(shuffled.begin(), shuffled.begin() + order_seed % shuffled.size(), shuffled.end());
  }
  const std::vector<std::string> again = asanafs::model::AssignNames(shuffled);
  FUZZ_CHECK(Canonical(siblings, names) == Canonical(shuffled, again));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The whole input as one name and one URL first: the simplest shape.
  const std::string_view whole(reinterpret_cast<const char*>(data), size);
  CheckSanitize(whole);
  CheckShortcut(whole);

  FuzzedDataProvider fdp(data, size);
  const uint8_t order_seed = size > 0 ? data[size - 1] : 0;
  std::vector<NameInput> siblings;
  while (fdp.remaining_bytes() > 0 && siblings.size() < kMaxSiblings) {
    NameInput in;
    const uint8_t flags = fdp.ConsumeIntegral<uint8_t>();
    in.is_dir = flags & 1;
    in.is_link = flags & 2;
    if ((flags & 4) && fdp.remaining_bytes() > 0) {
      in.created_at = std::chrono::system_clock::time_point(
          std::chrono::seconds(fdp.ConsumeIntegralInRange<int>(0, 7)));
    }
    const bool reuse_name = (flags & 8) && !siblings.empty();
    const bool reuse_gid = (flags & 16) && !siblings.empty();
    const size_t ref =
        siblings.empty() ? 0 : fdp.ConsumeIntegralInRange<size_t>(0, siblings.size() - 1);
    const int repeat = (flags & 32) ? fdp.ConsumeIntegralInRange<int>(1, 120) : 1;
    in.gid = reuse_gid ? siblings[ref].gid : fdp.ConsumeRandomLengthString(80);
    std::string piece = reuse_name ? siblings[ref].name : fdp.ConsumeRandomLengthString(300);
    if (reuse_name && (flags & 64)) {
      piece += fdp.ConsumeRandomLengthString(8);  // a near-collision
    }
    for (int r = 0; r < repeat && in.name.size() < 700; ++r) {
      in.name += piece;
    }
    CheckSanitize(in.name);
    siblings.push_back(std::move(in));
  }
  CheckAssign(siblings, order_seed);
  return 0;
}
