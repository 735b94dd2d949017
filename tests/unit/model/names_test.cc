#include "asanafs/model/names.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace asanafs::model {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

const std::string kFffd = "\xEF\xBF\xBD";
const std::string kSlash = "\xE2\x88\x95";
const std::string kDot = "\xEF\xBC\x8E";

// An independent UTF-8 validator (Unicode Table 3-7), so the tests do not
// trust the decoder under test.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      n = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c == 0xE0) {
      n = 3;
      lo = 0xA0;
    } else if (c == 0xED) {
      n = 3;
      hi = 0x9F;
    } else if (c >= 0xE1 && c <= 0xEF) {
      n = 3;
    } else if (c == 0xF0) {
      n = 4;
      lo = 0x90;
    } else if (c == 0xF4) {
      n = 4;
      hi = 0x8F;
    } else if (c >= 0xF1 && c <= 0xF3) {
      n = 4;
    } else {
      return false;
    }
    if (i + n > s.size()) {
      return false;
    }
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      const unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      if (b < l || b > h) {
        return false;
      }
    }
    i += n;
  }
  return true;
}

// Checks every promise AssignNames makes about its output.
void ExpectSafeAndUnique(const std::vector<NameInput>& in, const std::vector<std::string>& out) {
  ASSERT_EQ(out.size(), in.size());
  std::set<std::string> seen;
  for (size_t i = 0; i < out.size(); ++i) {
    const std::string& n = out[i];
    SCOPED_TRACE("output " + std::to_string(i));
    EXPECT_FALSE(n.empty());
    EXPECT_NE(n, ".");
    EXPECT_NE(n, "..");
    EXPECT_LE(n.size(), kMaxComponentBytes);
    EXPECT_TRUE(IsValidUtf8(n));
    for (char ch : n) {
      const auto c = static_cast<unsigned char>(ch);
      EXPECT_NE(c, '/');
      EXPECT_FALSE(c < 0x20 || c == 0x7F) << "control byte " << int{c};
    }
    EXPECT_TRUE(seen.insert(n).second) << "duplicate name " << n;
  }
}

NameInput File(std::string gid, std::string name, std::optional<int> created = std::nullopt) {
  NameInput in;
  in.gid = std::move(gid);
  in.name = std::move(name);
  if (created) {
    in.created_at = system_clock::time_point(seconds(*created));
  }
  return in;
}

NameInput Dir(std::string gid, std::string name, std::optional<int> created = std::nullopt) {
  NameInput in = File(std::move(gid), std::move(name), created);
  in.is_dir = true;
  return in;
}

NameInput Link(std::string gid, std::string name, std::optional<int> created = std::nullopt) {
  NameInput in = File(std::move(gid), std::move(name), created);
  in.is_link = true;
  return in;
}

// ---- Rules 1 and 2: SanitizeComponent --------------------------------------

struct SanitizeCase {
  const char* label;
  std::string in;
  std::string want;
};

void PrintTo(const SanitizeCase& c, std::ostream* os) { *os << c.label; }

class SanitizeTest : public testing::TestWithParam<SanitizeCase> {};

TEST_P(SanitizeTest, MapsAsSpecified) {
  const SanitizeCase& c = GetParam();
  const std::string got = SanitizeComponent(c.in);
  EXPECT_EQ(got, c.want);
  EXPECT_TRUE(IsValidUtf8(got));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, SanitizeTest,
    testing::Values(
        SanitizeCase{"plain", "report.pdf", "report.pdf"},
        SanitizeCase{"spaces_kept", " a b ", " a b "},
        SanitizeCase{"slash", "a/b", "a" + kSlash + "b"}, SanitizeCase{"only_slash", "/", kSlash},
        SanitizeCase{"dotdot_slash_x", "../x", ".." + kSlash + "x"},
        SanitizeCase{"nul", std::string("a\0b", 3), "a" + kFffd + "b"},
        SanitizeCase{"only_nul", std::string("\0", 1), kFffd},
        SanitizeCase{"newline", "a\nb", "a" + kFffd + "b"},
        SanitizeCase{"cr_tab", "\r\t", kFffd + kFffd},
        SanitizeCase{"unit_separator", "\x1f", kFffd}, SanitizeCase{"del", "a\x7f", "a" + kFffd},
        SanitizeCase{"space_kept", "\x20", " "}, SanitizeCase{"dot", ".", kDot},
        SanitizeCase{"dotdot", "..", kDot + kDot}, SanitizeCase{"three_dots_kept", "...", "..."},
        SanitizeCase{"dotfile_kept", ".bashrc", ".bashrc"}, SanitizeCase{"empty", "", "(no name)"},
        SanitizeCase{"utf8_kept", "caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x98\x80",
                     "caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x98\x80"},
        SanitizeCase{"c1_control_is_valid_utf8", "\xC2\x85", "\xC2\x85"},
        SanitizeCase{"stray_continuation", "a\x80z", "a" + kFffd + "z"},
        SanitizeCase{"two_stray", "\x80\xBF", kFffd + kFffd}, SanitizeCase{"ff", "\xFF", kFffd},
        SanitizeCase{"f5", "\xF5\x80\x80\x80", kFffd + kFffd + kFffd + kFffd},
        SanitizeCase{"truncated_2byte_at_end", "a\xC3", "a" + kFffd},
        SanitizeCase{"truncated_2byte_then_ascii", "\xC3(", kFffd + "("},
        SanitizeCase{"truncated_3byte_one_fffd", "\xE2\x82z", kFffd + "z"},
        SanitizeCase{"truncated_4byte_one_fffd", "\xF0\x9F\x98", kFffd},
        SanitizeCase{"overlong_slash", "\xC0\xAF", kFffd + kFffd},
        SanitizeCase{"overlong_3byte", "\xE0\x80\xAF", kFffd + kFffd + kFffd},
        SanitizeCase{"surrogate", "\xED\xA0\x80", kFffd + kFffd + kFffd},
        SanitizeCase{"above_10ffff", "\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},
        SanitizeCase{"max_code_point_kept", "\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"},
        SanitizeCase{"invalid_then_slash", "\xC3/", kFffd + kSlash},
        SanitizeCase{"nul_alone_is_not_empty", std::string(2, '\0'), kFffd + kFffd}),
    [](const testing::TestParamInfo<SanitizeCase>& info) { return std::string(info.param.label); });

// ---- AssignNames: one table, each row a set of siblings --------------------

struct AssignCase {
  const char* label;
  std::vector<NameInput> in;
  std::vector<std::string> want;
};

void PrintTo(const AssignCase& c, std::ostream* os) { *os << c.label; }

class AssignTest : public testing::TestWithParam<AssignCase> {};

TEST_P(AssignTest, AssignsExpectedNames) {
  const AssignCase& c = GetParam();
  const auto got = AssignNames(c.in);
  EXPECT_EQ(got, c.want);
  ExpectSafeAndUnique(c.in, got);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, AssignTest,
    testing::Values(
        AssignCase{"empty_listing", {}, {}},
        AssignCase{"unique_names_unchanged",
                   {File("1", "a.txt"), Dir("2", "b"), File("3", "c")},
                   {"a.txt", "b", "c"}},
        AssignCase{"sanitized_in_listing",
                   {File("1", "../x"), Dir("2", "."), File("3", "")},
                   {".." + kSlash + "x", kDot, "(no name)"}},
        AssignCase{"link_gets_url", {Link("1", "Design doc")}, {"Design doc.url"}},
        AssignCase{"link_dot", {Link("1", ".")}, {kDot + ".url"}},
        AssignCase{"link_with_ext", {Link("1", "a.pdf")}, {"a.pdf.url"}},
        AssignCase{"older_created_at_keeps",
                   {File("200", "a.txt", 20), File("100", "a.txt", 30)},
                   {"a.txt", "a [100].txt"}},
        AssignCase{"created_at_beats_gid",
                   {File("100", "a.txt", 30), File("200", "a.txt", 20)},
                   {"a [100].txt", "a.txt"}},
        AssignCase{"with_created_at_before_without",
                   {File("1", "a.txt"), File("2", "a.txt", 99)},
                   {"a [1].txt", "a.txt"}},
        AssignCase{
            "gid_numeric_not_lexicographic", {File("10", "x"), File("9", "x")}, {"x [10]", "x"}},
        AssignCase{"same_created_at_then_gid",
                   {File("12", "x.md", 5), File("11", "x.md", 5)},
                   {"x [12].md", "x.md"}},
        AssignCase{"three_way",
                   {File("3", "r.csv", 3), File("1", "r.csv", 1), File("2", "r.csv", 2)},
                   {"r [3].csv", "r.csv", "r [2].csv"}},
        AssignCase{"four_way_mixed_kinds",
                   {Dir("4", "n"), File("3", "n"), Dir("2", "n"), File("1", "n")},
                   {"n [4]", "n [3]", "n [2]", "n"}},
        AssignCase{"dir_older_than_file",
                   {Dir("1", "a.txt", 1), File("2", "a.txt", 2)},
                   {"a.txt", "a [2].txt"}},
        AssignCase{"file_older_than_dir_dir_appends",
                   {File("1", "a.txt", 1), Dir("2", "a.txt", 2)},
                   {"a.txt", "a.txt [2]"}},
        AssignCase{"dotfile_has_no_extension",
                   {File("1", ".bashrc"), File("2", ".bashrc")},
                   {".bashrc", ".bashrc [2]"}},
        AssignCase{"double_extension_uses_last_dot",
                   {File("1", "a.tar.gz"), File("2", "a.tar.gz")},
                   {"a.tar.gz", "a.tar [2].gz"}},
        AssignCase{
            "trailing_dot_is_extension", {File("1", "a."), File("2", "a.")}, {"a.", "a [2]."}},
        AssignCase{"link_collides_with_file",
                   {File("1", "a.url", 1), Link("2", "a", 2)},
                   {"a.url", "a [2].url"}},
        AssignCase{"collision_after_sanitizing",
                   {File("1", "a/b"), File("2", "a" + kSlash + "b")},
                   {"a" + kSlash + "b", "a" + kSlash + "b [2]"}},
        AssignCase{"collision_of_placeholders",
                   {File("1", ""), File("2", "(no name)")},
                   {"(no name)", "(no name) [2]"}},
        AssignCase{"suffixed_name_equals_literal_sibling",
                   {File("2", "a.txt", 1), File("5", "a [2].txt", 9), File("2", "a.txt", 3)},
                   {"a.txt", "a [2].txt", "a [2-2].txt"}},
        AssignCase{"literal_sibling_keeps_name_even_if_younger",
                   {File("1", "a.txt", 1), File("7", "a.txt", 2), File("8", "a [7].txt", 3)},
                   {"a.txt", "a [7-2].txt", "a [7].txt"}},
        AssignCase{"duplicate_gid_and_name",
                   {File("7", "a.txt"), File("7", "a.txt"), File("7", "a.txt")},
                   {"a.txt", "a [7].txt", "a [7-2].txt"}}),
    [](const testing::TestParamInfo<AssignCase>& info) { return std::string(info.param.label); });

// ---- Rule 5: length ----------------------------------------------------------

TEST(NamesLength, LongAsciiNameIsCutKeepingExtension) {
  const std::string name = std::string(10 * 1024, 'a') + ".pdf";
  const auto out = AssignNames({File("1", name)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], std::string(251, 'a') + ".pdf");
}

TEST(NamesLength, ExactlyMaxIsKept) {
  const std::string name = std::string(251, 'b') + ".txt";
  ASSERT_EQ(name.size(), 255u);
  EXPECT_EQ(AssignNames({File("1", name)})[0], name);
}

TEST(NamesLength, CutsAtUtf8Boundary) {
  // 2-byte characters: 255 is odd, so a naive cut would split one.
  std::string name;
  for (int i = 0; i < 300; ++i) {
    name += "\xC3\xA9";
  }
  const auto out = AssignNames({Dir("1", name)});
  EXPECT_EQ(out[0].size(), 254u);
  EXPECT_TRUE(IsValidUtf8(out[0]));
  // 4-byte characters plus an extension.
  std::string emoji;
  for (int i = 0; i < 100; ++i) {
    emoji += "\xF0\x9F\x98\x80";
  }
  const auto out2 = AssignNames({File("1", emoji + ".png")});
  EXPECT_TRUE(IsValidUtf8(out2[0]));
  EXPECT_LE(out2[0].size(), 255u);
  EXPECT_GT(out2[0].size(), 250u);
  EXPECT_TRUE(out2[0].ends_with("\xF0\x9F\x98\x80.png"));
}

TEST(NamesLength, SanitizingCanPushANameOverTheLimit) {
  // 200 NULs become 200 three-byte U+FFFD: 600 bytes, cut to 85 characters.
  const auto out = AssignNames({File("1", std::string(200, '\0'))});
  EXPECT_EQ(out[0].size(), 255u);
  EXPECT_TRUE(IsValidUtf8(out[0]));
}

TEST(NamesLength, LongNamesEqualAfterCutCollide) {
  const std::string common(300, 'x');
  const auto out =
      AssignNames({File("2", common + "tail-two.txt", 2), File("1", common + "tail-one.txt", 1)});
  EXPECT_EQ(out[1], std::string(251, 'x') + ".txt");
  EXPECT_EQ(out[0], std::string(255 - 4 - 4, 'x') + " [2].txt");
  ExpectSafeAndUnique({File("2", ""), File("1", "")}, out);
}

TEST(NamesLength, CutLongDirectoryKeepsSuffix) {
  const std::string name(1000, 'd');
  const auto out = AssignNames({Dir("1", name), Dir("123456789012345678", name)});
  EXPECT_EQ(out[0], std::string(255, 'd'));
  EXPECT_EQ(out[1], std::string(255 - 21, 'd') + " [123456789012345678]");
  EXPECT_EQ(out[1].size(), 255u);
}

TEST(NamesLength, AbsurdExtensionIsNotAnExtension) {
  const std::string ext = "." + std::string(40, 'e');
  const auto out = AssignNames({File("1", "a" + ext), File("2", "a" + ext)});
  EXPECT_EQ(out[0], "a" + ext);
  EXPECT_EQ(out[1], "a" + ext + " [2]");
  // Long enough to be cut: the cut takes the tail, not the bogus extension.
  const std::string long_name = std::string(300, 'a') + ext;
  EXPECT_EQ(AssignNames({File("1", long_name)})[0], std::string(255, 'a'));
}

TEST(NamesLength, ExtensionOfMaxLengthIsKept) {
  const std::string ext = "." + std::string(kMaxExtensionBytes - 1, 'e');
  const auto out = AssignNames({File("1", std::string(400, 'a') + ext)});
  EXPECT_TRUE(out[0].ends_with(ext));
  EXPECT_EQ(out[0].size(), 255u);
}

TEST(NamesLength, HostileGidStillGivesUniqueBoundedNames) {
  // Server bug: gids that are long, contain '/' or controls, or are equal
  // once the suffix is bounded.
  const std::string long_gid(500, '9');
  std::vector<NameInput> in = {File("1", "a"), File(long_gid, "a"), File(long_gid + "8", "a"),
                               File("x/y\n", "a"), File("", "a")};
  const auto out = AssignNames(in);
  ExpectSafeAndUnique(in, out);
}

// ---- Determinism -------------------------------------------------------------

std::vector<NameInput> MessySiblings() {
  return {File("1", "a.txt", 10),
          File("22", "a.txt"),
          Dir("3", "a.txt", 10),
          File("4", "a [22].txt", 1),
          Link("5", "a.txt"),
          File("6", "a.txt.url", 12),
          Dir("7", "."),
          File("8", ".."),
          File("9", std::string(300, 'z') + ".bin", 3),
          File("10", std::string(300, 'z') + ".bin", 3),
          File("11", "\xFF\xFE"),
          File("12", "\xEF\xBF\xBD\xEF\xBF\xBD")};
}

TEST(NamesDeterminism, SameNamePerGidUnderAnyOrder) {
  const std::vector<NameInput> base = MessySiblings();
  const auto base_out = AssignNames(base);
  ExpectSafeAndUnique(base, base_out);
  std::map<std::string, std::string> want;
  for (size_t i = 0; i < base.size(); ++i) {
    want[base[i].gid] = base_out[i];
  }
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    std::vector<NameInput> shuffled = base;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    const auto out = AssignNames(shuffled);
    ASSERT_EQ(out.size(), shuffled.size());
    for (size_t i = 0; i < shuffled.size(); ++i) {
      EXPECT_EQ(out[i], want[shuffled[i].gid]) << "gid " << shuffled[i].gid << " round " << round;
    }
  }
}

TEST(NamesDeterminism, MessyListingResolvesAsDocumented) {
  const auto out = AssignNames(MessySiblings());
  // Oldest with created_at wins "a.txt" (gid 3 and 1 tie on time; 1 < 3).
  EXPECT_EQ(out[0], "a.txt");
  EXPECT_EQ(out[2], "a.txt [3]");   // directory: appended
  EXPECT_EQ(out[3], "a [22].txt");  // a literal name is never displaced
  EXPECT_EQ(out[1], "a [22-2].txt");
  EXPECT_EQ(out[5], "a.txt.url");  // gid 6 has created_at, link 5 has none
  EXPECT_EQ(out[4], "a.txt [5].url");
  EXPECT_EQ(out[7], kDot + kDot);
  EXPECT_EQ(out[8], std::string(251, 'z') + ".bin");
  EXPECT_EQ(out[9], std::string(255 - 9, 'z') + " [10].bin");
  // Invalid bytes (gid 11) and a literal U+FFFD pair (gid 12) collide; 11 is older.
  EXPECT_EQ(out[10], kFffd + kFffd);
  EXPECT_EQ(out[11], kFffd + kFffd + " [12]");
}

using Pair = std::tuple<std::string, std::string, int64_t, bool, bool, bool, std::string>;
std::vector<Pair> Pairs(const std::vector<NameInput>& in, const std::vector<std::string>& out) {
  std::vector<Pair> p;
  for (size_t i = 0; i < in.size(); ++i) {
    const auto& x = in[i];
    p.emplace_back(x.gid, x.name, x.created_at ? x.created_at->time_since_epoch().count() : 0,
                   x.created_at.has_value(), x.is_dir, x.is_link, out.at(i));
  }
  std::sort(p.begin(), p.end());
  return p;
}

TEST(NamesDeterminism, RandomHostileListingsAreAlwaysSafeAndUnique) {
  // Names drawn from a tiny alphabet collide often, including with suffixes.
  const std::vector<std::string> atoms = {"a",
                                          ".",
                                          "/",
                                          "\0",
                                          "\xC3",
                                          "\xA9",
                                          " [",
                                          "1",
                                          "]",
                                          ".txt",
                                          "\n",
                                          "\xE2\x88\x95",
                                          std::string(120, 'L')};
  std::mt19937 rng(777);
  for (int round = 0; round < 300; ++round) {
    std::vector<NameInput> in;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      std::string name;
      const int parts = static_cast<int>(rng() % 5);
      for (int p = 0; p < parts; ++p) {
        name += atoms[rng() % atoms.size()];
      }
      NameInput x = File(std::to_string(1 + rng() % 6), name);
      if (rng() % 2) {
        x.created_at = system_clock::time_point(seconds(rng() % 3));
      }
      x.is_dir = rng() % 3 == 0;
      x.is_link = !x.is_dir && rng() % 4 == 0;
      in.push_back(std::move(x));
    }
    SCOPED_TRACE("round " + std::to_string(round));
    const auto out = AssignNames(in);
    ExpectSafeAndUnique(in, out);
    // Reversed input: each input gets the same name. Fully identical inputs
    // are interchangeable, so compare sorted (input, name) pairs.
    std::vector<NameInput> rev(in.rbegin(), in.rend());
    EXPECT_EQ(Pairs(rev, AssignNames(rev)), Pairs(in, out));
  }
}

// ---- InternetShortcut --------------------------------------------------------

struct ShortcutCase {
  const char* label;
  std::string url;
  std::string want;
};

void PrintTo(const ShortcutCase& c, std::ostream* os) { *os << c.label; }

class ShortcutTest : public testing::TestWithParam<ShortcutCase> {};

TEST_P(ShortcutTest, Formats) { EXPECT_EQ(InternetShortcut(GetParam().url), GetParam().want); }

INSTANTIATE_TEST_SUITE_P(
    Cases, ShortcutTest,
    testing::Values(
        ShortcutCase{"plain", "https://drive.google.com/file/d/abc?x=1&y=%20",
                     "[InternetShortcut]\nURL=https://drive.google.com/file/d/abc?x=1&y=%20\n"},
        ShortcutCase{"empty", "", "[InternetShortcut]\nURL=\n"},
        ShortcutCase{"line_injection", "https://a/\r\n[Other]\nURL=file:///etc/passwd",
                     "[InternetShortcut]\nURL=https://a/%0D%0A[Other]%0AURL=file:///etc/passwd\n"},
        ShortcutCase{"nul_del_space", std::string("a\0b\x7f c", 6),
                     "[InternetShortcut]\nURL=a%00b%7F%20c\n"},
        ShortcutCase{"non_ascii", "https://x/caf\xC3\xA9",
                     "[InternetShortcut]\nURL=https://x/caf%C3%A9\n"}),
    [](const testing::TestParamInfo<ShortcutCase>& info) { return std::string(info.param.label); });

TEST(ShortcutTest, OutputHasExactlyTwoLinesForAnyInput) {
  std::string all;
  for (int c = 0; c < 256; ++c) {
    all += static_cast<char>(c);
  }
  const std::string out = InternetShortcut(all);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\r'), 0);
  EXPECT_TRUE(out.starts_with("[InternetShortcut]\nURL="));
}

}  // namespace
}  // namespace asanafs::model
