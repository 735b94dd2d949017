// tests/fuzz/fuzz_check: the invariant check the fuzz targets share. Test-only.
//
// A violated invariant must stop the fuzzer the same way a sanitizer report
// does, so libFuzzer saves the input as a crash artifact: print and abort().
#ifndef ASANAFS_TESTS_FUZZ_FUZZ_CHECK_H_
#define ASANAFS_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

// For the harness's own checkers: their byte loops need no coverage feedback,
// and comparison tracing in them cost most of fuzz_names' time.
#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))

namespace asanafs::fuzz {

// True when the open finding `id` (e.g. "F2", see README.md) is listed in
// $ASANAFS_FUZZ_KNOWN_BUGS (comma-separated). Long fuzzing runs set it so that
// an already reported invariant violation does not stop every run at the
// same place; the replay tests never set it, so they fail until the fix.
inline bool KnownBug(const char* id) {
  static const char* const list = std::getenv("ASANAFS_FUZZ_KNOWN_BUGS");
  if (list == nullptr) {
    return false;
  }
  const std::string_view all(list);
  const size_t n = std::strlen(id);
  for (size_t pos = 0; pos <= all.size();) {
    size_t comma = all.find(',', pos);
    if (comma == std::string_view::npos) {
      comma = all.size();
    }
    if (comma - pos == n && all.compare(pos, n, id) == 0) {
      return true;
    }
    pos = comma + 1;
  }
  return false;
}

// True when `s` is well-formed UTF-8 (Unicode Table 3-7: no overlong forms, no
// surrogates, nothing above U+10FFFF). Written independently of model/names.cc
// so that the names target does not check the code with itself.
FUZZ_NO_COVERAGE inline bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) {
      return false;
    }
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

}  // namespace asanafs::fuzz

#endif  // ASANAFS_TESTS_FUZZ_FUZZ_CHECK_H_
