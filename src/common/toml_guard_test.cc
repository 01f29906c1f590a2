// The one guard in front of toml11 (issue 11.1): every dimension of the
// parser's work is bounded before it runs, and text the guard cannot read
// as TOML is refused rather than handed on. A refusal's message comes from
// the guard (it names the limit), which is how these tests know toml11
// never saw the text: no timing is measured.
#include "common/toml_guard.h"

#include <gtest/gtest.h>

#include <string>

namespace custvault {
namespace {

std::string Repeat(std::string_view piece, size_t times) {
  std::string out;
  out.reserve(piece.size() * times);
  for (size_t i = 0; i < times; ++i) out += piece;
  return out;
}

void ExpectRefused(const std::string& text, std::string_view needle) {
  const Status status = CheckTomlInput(text, "test file");
  ASSERT_FALSE(status.ok()) << needle;
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find(needle), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("test file"), std::string::npos) << status.message();
  // The text is never echoed.
  EXPECT_LT(status.message().size(), 200u) << status.message();
}

// Issue 11.1: the request that cost 15-21 s of CPU in toml11.
TEST(TomlGuardTest, Issue_11_1_DeeplyDottedTableHeaderIsRefusedBeforeParsing) {
  ExpectRefused("format = 1\nwindow_days = 365\n[" + Repeat("a.", 32000) + "a]\n",
                "dotted key has too many parts");
}

TEST(TomlGuardTest, Issue_11_1_EveryDimensionOfParserWorkIsBounded) {
  // Dotted keys in a key/value line, in [[array]] headers, in inline
  // tables, with blanks and quoted parts.
  ExpectRefused(Repeat("a.", 9) + "a = 1\n", "dotted key has too many parts");
  ExpectRefused("[[" + Repeat("a.", 9) + "a]]\n", "dotted key has too many parts");
  ExpectRefused("x = {" + Repeat("a . ", 9) + "a = 1}\n", "dotted key has too many parts");
  ExpectRefused(Repeat("\"q\".", 9) + "'q' = 1\n", "dotted key has too many parts");
  ExpectRefused("x = [{" + Repeat("a.", 20000) + "a = 1}]\n", "dotted key has too many parts");
  // Long keys, bare and quoted, in both positions.
  ExpectRefused(std::string(129, 'k') + " = 1\n", "key is too long");
  ExpectRefused("\"" + std::string(5000, 'k') + "\" = 1\n", "key is too long");
  ExpectRefused("['" + std::string(5000, 'k') + "']\n", "key is too long");
  // Inline tables nested as deep as brackets allow, then deeper.
  ExpectRefused("x = " + Repeat("{a = ", 17) + "1" + Repeat("}", 17) + "\n",
                "brackets nest deeper");
  // Long arrays, many tables, many lines, many tokens, long bare values.
  ExpectRefused("x = [" + Repeat("1,", 1024) + "1]\n", "array has too many items");
  ExpectRefused("x = [\n" + Repeat("[1],\n", 1100) + "]\n", "array has too many items");
  ExpectRefused(Repeat("[t]\n", 4097), "too many tables");
  ExpectRefused("x = {" + Repeat("a = {}, ", 4097) + "}\n", "too many tables");
  ExpectRefused(Repeat("\n", 20001), "too many lines");
  ExpectRefused("x = {" + Repeat("a = 1, ", 34000) + "}\n", "too many tokens");
  ExpectRefused("x = " + std::string(200, '1') + "\n", "value is too long");
  ExpectRefused(std::string(1024 * 1024 + 1, ' '), "larger than");
  // Tighter limits of one caller hold too.
  TomlLimits tight;
  tight.tables_max = 2;
  EXPECT_FALSE(CheckTomlInput("[a]\n[b]\n[c]\n", "rules", tight).ok());
  EXPECT_TRUE(CheckTomlInput("[a]\n[b]\n", "rules", tight).ok());
}

TEST(TomlGuardTest, TextTheScanCannotReadIsRefusedAsNotTomlInsteadOfHandedOn) {
  ExpectRefused("[[field]\nkey = 1\n", "not valid TOML");
  ExpectRefused("a = \"open\nb = 1\n", "not valid TOML");
  ExpectRefused("a = '''never closed\n", "not valid TOML");
  ExpectRefused("a b = 1\n", "not valid TOML");
  ExpectRefused("a = = 1\n", "not valid TOML");
  ExpectRefused("a = 1]\n", "not valid TOML");
}

TEST(TomlGuardTest, OrdinaryTomlPasses) {
  const std::string text = R"(# a comment with [brackets] and "quotes"
title = "TOML \"example\" [not a table]"
'literal key' = 'C:\path'
"a.b".c = 1_000
physical.color = "orange"
dates = [1979-05-27T07:32:00Z, 1979-05-27 07:32:00, 07:32:00.999, 1979-05-27]
numbers = [ 0x1F, -3.14, +1e6, inf, nan, true, false, ]
nested = [[1, 2], ["a", 'b'], [{x = 1}, {y.z = "}"}]]
empty = {}
text = """
multi ] line
with "quotes" \"""
"""
raw = '''
raw ] [ { text ''
'''

[server]
listen = "0.0.0.0:8080"   # trailing comment

  [server.tls]
  enabled = false

[[dimension]]
name = "risk"
[[dimension.rule]]
when = 'credit_rating in ["B", "CCC"]'
)";
  const Status status = CheckTomlInput(text, "example");
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_TRUE(CheckTomlInput("", "empty").ok());
  EXPECT_TRUE(CheckTomlInput(Repeat("a.", 7) + "a = 1\n", "eight parts").ok());
}

}  // namespace
}  // namespace custvault
