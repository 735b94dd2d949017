#include "asanafs/model/names.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

namespace asanafs::model {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";    // U+FFFD
constexpr std::string_view kDivisionSlash = "\xE2\x88\x95";  // U+2215
constexpr std::string_view kFullwidthStop = "\xEF\xBC\x8E";  // U+FF0E
constexpr std::string_view kNoName = "(no name)";
// A gid longer than this (a server bug) is cut inside the suffix, so that the
// suffix always leaves room for a stem; the counter keeps names unique.
constexpr size_t kMaxSuffixGidBytes = 64;

bool InRange(unsigned char c, unsigned char lo, unsigned char hi) { return c >= lo && c <= hi; }

// Returns the length of the well-formed UTF-8 sequence starting at s[i], or 0
// if there is none; then *bad is the length of the maximal ill-formed subpart
// to replace with one U+FFFD (at least 1).
size_t Utf8SequenceLength(std::string_view s, size_t i, size_t* bad) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t need;
  unsigned char lo2 = 0x80, hi2 = 0xBF;  // range of the second byte (Unicode Table 3-7)
  if (c < 0x80) {
    return 1;
  } else if (InRange(c, 0xC2, 0xDF)) {
    need = 2;
  } else if (InRange(c, 0xE0, 0xEF)) {
    need = 3;
    if (c == 0xE0) {
      lo2 = 0xA0;  // no overlong forms
    } else if (c == 0xED) {
      hi2 = 0x9F;  // no UTF-16 surrogates
    }
  } else if (InRange(c, 0xF0, 0xF4)) {
    need = 4;
    if (c == 0xF0) {
      lo2 = 0x90;  // no overlong forms
    } else if (c == 0xF4) {
      hi2 = 0x8F;  // nothing above U+10FFFF
    }
  } else {
    *bad = 1;  // continuation byte without a lead, C0, C1, F5–FF
    return 0;
  }
  for (size_t k = 1; k < need; ++k) {
    if (i + k >= s.size()) {
      *bad = k;
      return 0;
    }
    const auto b = static_cast<unsigned char>(s[i + k]);
    const bool ok = k == 1 ? InRange(b, lo2, hi2) : InRange(b, 0x80, 0xBF);
    if (!ok) {
      *bad = k;
      return 0;
    }
  }
  return need;
}

// Rule 1.
std::string SanitizeBytes(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  size_t i = 0;
  while (i < name.size()) {
    size_t bad = 0;
    const size_t len = Utf8SequenceLength(name, i, &bad);
    if (len == 0) {
      out += kReplacement;
      i += bad;
      continue;
    }
    if (len == 1) {
      const auto c = static_cast<unsigned char>(name[i]);
      if (c == '/') {
        out += kDivisionSlash;
      } else if (c < 0x20 || c == 0x7F) {
        out += kReplacement;
      } else {
        out += static_cast<char>(c);
      }
    } else {
      out.append(name.substr(i, len));
    }
    i += len;
  }
  return out;
}

// Returns the longest prefix of the valid UTF-8 string `s` that is at most
// `max_bytes` long and ends on a character boundary.
std::string_view CutUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) {
    return s;
  }
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) {
    --end;
  }
  return s.substr(0, end);
}

// A sanitized name split where a suffix would be inserted.
struct Parts {
  std::string stem;
  std::string ext;  // "" or ".xyz" (at most kMaxExtensionBytes)
};

Parts Split(std::string name, bool is_dir) {
  Parts p;
  if (!is_dir) {
    const size_t dot = name.rfind('.');
    if (dot != std::string::npos && dot != 0 && name.size() - dot <= kMaxExtensionBytes) {
      p.ext = name.substr(dot);
      name.resize(dot);
    }
  }
  p.stem = std::move(name);
  return p;
}

// Joins stem, suffix and extension, cutting the stem (rule 5) so that the
// result fits in kMaxComponentBytes. The suffix and extension together are
// short enough (see kMaxSuffixGidBytes, kMaxExtensionBytes) to always fit.
std::string Render(const Parts& p, std::string_view suffix) {
  const size_t fixed = suffix.size() + p.ext.size();
  std::string out(CutUtf8(p.stem, kMaxComponentBytes - fixed));
  out += suffix;
  out += p.ext;
  return out;
}

// One sibling during assignment.
struct Item {
  const NameInput* in;
  size_t index;  // position in the input
  Parts parts;
  std::string plain;  // rules 1, 2, 3, 5 applied; no suffix
  std::string gid_for_suffix;
};

// Strict weak order "older first" (rule 4). Ties on created_at and gid (bad
// server data) fall back to the name and kind, so the order is total on
// distinct inputs and does not depend on the input order.
bool Older(const Item& a, const Item& b) {
  const auto& x = *a.in;
  const auto& y = *b.in;
  if (x.created_at.has_value() != y.created_at.has_value()) {
    return x.created_at.has_value();
  }
  if (x.created_at && *x.created_at != *y.created_at) {
    return *x.created_at < *y.created_at;
  }
  return std::forward_as_tuple(x.gid.size(), x.gid, x.name, x.is_dir, x.is_link) <
         std::forward_as_tuple(y.gid.size(), y.gid, y.name, y.is_dir, y.is_link);
}

std::string Suffix(const std::string& gid, int n) {
  std::string s = " [" + gid;
  if (n > 1) {
    s += "-" + std::to_string(n);
  }
  s += "]";
  return s;
}

}  // namespace

std::string SanitizeComponent(std::string_view name) {
  std::string out = SanitizeBytes(name);
  if (out.empty()) {
    return std::string(kNoName);
  }
  if (out == ".") {
    return std::string(kFullwidthStop);
  }
  if (out == "..") {
    return std::string(kFullwidthStop) + std::string(kFullwidthStop);
  }
  return out;
}

std::vector<std::string> AssignNames(const std::vector<NameInput>& siblings) {
  std::vector<Item> items;
  items.reserve(siblings.size());
  for (size_t i = 0; i < siblings.size(); ++i) {
    const NameInput& in = siblings[i];
    std::string name = SanitizeComponent(in.name);
    if (in.is_link && !in.is_dir) {
      name += ".url";
    }
    Item item{&in, i, Split(std::move(name), in.is_dir), "", ""};
    item.plain = Render(item.parts, "");
    item.gid_for_suffix = std::string(CutUtf8(SanitizeComponent(in.gid), kMaxSuffixGidBytes));
    items.push_back(std::move(item));
  }

  // Visit siblings oldest first so every decision is independent of input order.
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return Older(items[a], items[b]); });

  std::vector<std::string> out(items.size());
  std::set<std::string> taken;
  std::vector<size_t> losers;  // oldest first
  // First pass: the oldest holder of each plain name keeps it. Doing all
  // keepers before any suffixed name means a plain name is never displaced.
  for (size_t idx : order) {
    Item& item = items[idx];
    if (taken.insert(item.plain).second) {
      out[item.index] = item.plain;
    } else {
      losers.push_back(idx);
    }
  }
  // Second pass: the others get " [gid]", or " [gid-N]" if that is taken too.
  for (size_t idx : losers) {
    Item& item = items[idx];
    for (int n = 1;; ++n) {
      std::string candidate = Render(item.parts, Suffix(item.gid_for_suffix, n));
      if (taken.insert(candidate).second) {
        out[item.index] = std::move(candidate);
        break;
      }
    }
  }
  return out;
}

std::string InternetShortcut(std::string_view url) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "[InternetShortcut]\nURL=";
  for (char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += ch;
    }
  }
  out += '\n';
  return out;
}

}  // namespace asanafs::model
