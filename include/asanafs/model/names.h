// model/names: turns untrusted server names into safe, unique, stable path
// components. Layer: model (depends on util only; pure functions, no I/O).
//
// The rules, applied in this order to the children of one directory:
//  1. '/' becomes U+2215 (∕); U+0000–U+001F and U+007F become U+FFFD (�).
//     Invalid UTF-8 becomes U+FFFD, one per *maximal subpart* of an ill-formed
//     sequence (Unicode "best practice", as WHATWG decoders do): a truncated
//     multi-byte sequence yields one U+FFFD, a stray continuation or an
//     impossible lead byte (C0, C1, F5–FF) yields one each.
//  2. "." becomes "．" (U+FF0E), ".." becomes "．．", "" becomes "(no name)".
//  3. A link attachment (not hosted by Asana) gets ".url" appended.
//  4. Siblings (files and directories together) whose names are byte-equal:
//     the oldest keeps the name, each other gets " [<gid>]" inserted before
//     its extension (files whose last '.' is not the first byte) or appended
//     (directories and files without an extension). Oldest means: objects
//     with created_at before those without, earlier created_at first, then
//     gid compared numerically (shorter first, then lexicographically).
//     If a suffixed name still equals a name already given out (a sibling
//     literally named "a [123].txt", or a duplicated gid), the suffix becomes
//     " [<gid>-2]", " [<gid>-3]", … until it is unique. Names that needed no
//     suffix are given out first, so a sibling's plain name is never taken.
//  5. A component longer than 255 bytes is cut at a UTF-8 boundary so that it
//     fits, keeping the suffix and the extension; an extension longer than
//     32 bytes does not count as one. Cutting happens before rule 4 looks for
//     collisions, so two long names that are equal once cut collide and get
//     suffixes like any other pair.
// The result depends only on the set of siblings, never on their order.
#ifndef ASANAFS_MODEL_NAMES_H_
#define ASANAFS_MODEL_NAMES_H_

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asanafs::model {

// Longest path component Linux accepts (NAME_MAX), in bytes.
inline constexpr size_t kMaxComponentBytes = 255;
// An extension longer than this (including the dot) is treated as none.
inline constexpr size_t kMaxExtensionBytes = 32;

// One child of a directory, as the server describes it.
struct NameInput {
  std::string gid;
  std::string name;
  std::optional<std::chrono::system_clock::time_point> created_at;
  bool is_dir = false;
  bool is_link = false;  // an attachment not hosted by Asana: shown as "<name>.url"
};

// Returns one path component per input, in input order. The components are
// pairwise distinct (byte-wise), valid UTF-8, at most 255 bytes, and contain
// no '/', no NUL and no control characters, and are never "." or "..".
// Deterministic: the same set of inputs in any order gives each input the same name.
std::vector<std::string> AssignNames(const std::vector<NameInput>& siblings);

// Applies rules 1–2 to one name. The result is valid UTF-8 and never empty,
// "." or ".."; it is NOT cut to 255 bytes (AssignNames does that).
std::string SanitizeComponent(std::string_view name);

// Returns the content of a link attachment's .url file:
// "[InternetShortcut]\nURL=<url>\n". Bytes of `url` that cannot appear in a
// URI (controls including CR/LF, space, DEL, bytes >= 0x80) are
// percent-encoded, so the URL cannot inject lines or keys.
std::string InternetShortcut(std::string_view url);

}  // namespace asanafs::model

#endif  // ASANAFS_MODEL_NAMES_H_
