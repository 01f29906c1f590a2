// Tests of the tag rules file (R-TAG-1): the built-in defaults at the
// acceptance boundaries, each risk cause, and every refusal of a bad file.
#include "rules/rules.h"

#include <gtest/gtest.h>

#include <string>

namespace custvault::rules {
namespace {

RuleSet Defaults() {
  Result<RuleSet> rules = RuleSet::Parse(DefaultRulesToml());
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  return std::move(rules).value();
}

CustomerMetrics Spend(int64_t fen) {
  CustomerMetrics m;
  m.spend_fen = fen;
  return m;
}

std::string ValueTier(int64_t fen) { return Defaults().Classify(Spend(fen)).at("value_tier"); }

std::string Risk(const CustomerMetrics& m) { return Defaults().Classify(m).at("risk"); }

// Parses `text` and expects kInvalidArgument whose message contains every
// piece of `expected`.
void ExpectRefused(const std::string& text, std::initializer_list<std::string> expected) {
  Result<RuleSet> rules = RuleSet::Parse(text);
  ASSERT_FALSE(rules.ok()) << "accepted:\n" << text;
  EXPECT_EQ(rules.status().code(), ErrorCode::kInvalidArgument);
  for (const std::string& piece : expected) {
    EXPECT_NE(rules.status().message().find(piece), std::string::npos)
        << "message \"" << rules.status().message() << "\" lacks \"" << piece << "\"";
  }
}

constexpr char kHeader[] = "format = 1\nwindow_days = 365\n";

std::string OneDimension(const std::string& when) {
  return std::string(kHeader) + "[[dimension]]\nname = \"d\"\ndefault = \"no\"\n" +
         "[[dimension.rule]]\nvalue = \"yes\"\nwhen = '" + when + "'\n";
}

TEST(DefaultRules, ParseWithTwoDimensionsInFileOrderAndAYearWindow) {
  const RuleSet rules = Defaults();
  EXPECT_EQ(rules.window_days(), 365);
  EXPECT_EQ(rules.dimensions(), (std::vector<std::string>{"value_tier", "risk"}));
}

// R-TAG-1 acceptance: 9,999.99 / 10,000.00 / 99,999.99 / 100,000.00 CNY.
TEST(DefaultRules, ValueTierBoundaries) {
  EXPECT_EQ(ValueTier(0), "ordinary");
  EXPECT_EQ(ValueTier(999'999), "ordinary");  // 9,999.99 CNY
  EXPECT_EQ(ValueTier(1'000'000), "medium");  // 10,000.00 CNY
  EXPECT_EQ(ValueTier(9'999'999), "medium");  // 99,999.99 CNY
  EXPECT_EQ(ValueTier(10'000'000), "high");   // 100,000.00 CNY
  EXPECT_EQ(ValueTier(INT64_MAX), "high");
  EXPECT_EQ(ValueTier(-500), "ordinary");  // refunds exceeding purchases
}

TEST(DefaultRules, RiskIsLowWithoutComplaintsAndWithAGoodOrMissingRating) {
  CustomerMetrics m;
  EXPECT_EQ(Risk(m), "low");  // no rating recorded is not a low rating
  for (const char* rating : {"AAA", "AA", "A", "BBB", "BB"}) {
    m.credit_rating = rating;
    EXPECT_EQ(Risk(m), "low") << rating;
  }
}

TEST(DefaultRules, RiskIsHighForOneComplaint) {
  CustomerMetrics m;
  m.complaints_total = 1;
  EXPECT_EQ(Risk(m), "high");
}

TEST(DefaultRules, RiskIsHighForAnOpenComplaint) {
  CustomerMetrics m;
  m.complaints_open = 1;
  m.complaints_total = 1;
  EXPECT_EQ(Risk(m), "high");
  m.complaints_total = 0;  // even if the totals were ever out of step
  EXPECT_EQ(Risk(m), "high");
}

TEST(DefaultRules, RiskIsHighForEachLowRating) {
  for (const char* rating : {"B", "CCC", "CC", "C", "D"}) {
    CustomerMetrics m;
    m.credit_rating = rating;
    EXPECT_EQ(Risk(m), "high") << rating;
  }
}

TEST(DefaultRules, BbbIsNotALowRating) {
  CustomerMetrics m;
  m.credit_rating = "BBB";
  EXPECT_EQ(Risk(m), "low");
}

TEST(DefaultRules, RatingsCompareExactly) {
  CustomerMetrics m;
  m.credit_rating = "b";  // the catalog stores ratings in capitals; no folding here
  EXPECT_EQ(Risk(m), "low");
  m.credit_rating = "B ";
  EXPECT_EQ(Risk(m), "low");
}

TEST(DefaultRules, BothDimensionsAreAlwaysAssigned) {
  CustomerMetrics m;
  m.spend_fen = 12'345'678;
  m.credit_rating = "D";
  const Tags tags = Defaults().Classify(m);
  EXPECT_EQ(tags, (Tags{{"value_tier", "high"}, {"risk", "high"}}));
}

TEST(RuleSet, FirstMatchingRuleWinsElseTheDefault) {
  Result<RuleSet> rules = RuleSet::Parse(std::string(kHeader) + R"(
[[dimension]]
name = "loyalty"
default = "new"
[[dimension.rule]]
value = "gold"
when = "order_count >= 100"
[[dimension.rule]]
value = "silver"
when = "order_count >= 10"
[[dimension.rule]]
value = "never_reached"
when = "order_count >= 100"
)");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  CustomerMetrics m;
  EXPECT_EQ(rules->Classify(m).at("loyalty"), "new");
  m.order_count = 10;
  EXPECT_EQ(rules->Classify(m).at("loyalty"), "silver");
  m.order_count = 150;
  EXPECT_EQ(rules->Classify(m).at("loyalty"), "gold");
}

TEST(RuleSet, DescriptionsAreAllowedEverywhere) {
  Result<RuleSet> rules = RuleSet::Parse(R"(
format = 1
window_days = 90
description = "quarterly view"
[[dimension]]
name = "active"
default = "no"
description = "bought in the window"
[[dimension.rule]]
value = "yes"
when = "order_count > 0"
description = "any order"
)");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ(rules->window_days(), 90);
}

TEST(RuleSetErrors, SyntaxErrorIsNamed) { ExpectRefused("format = = 1", {"not valid TOML"}); }

TEST(RuleSetErrors, FormatAndWindowAreRequiredAndChecked) {
  ExpectRefused("window_days = 365\n[[dimension]]\n", {"'format' is missing"});
  ExpectRefused("format = 2\nwindow_days = 365\n", {"format 2 is not supported"});
  ExpectRefused("format = \"1\"\nwindow_days = 365\n", {"'format' must be an integer"});
  ExpectRefused("format = 1\n", {"'window_days' is missing"});
  ExpectRefused("format = 1\nwindow_days = 0\n", {"'window_days' must be 1..3660"});
  ExpectRefused("format = 1\nwindow_days = 3661\n", {"'window_days' must be 1..3660"});
}

TEST(RuleSetErrors, UnknownKeysAreRefusedAtEveryLevel) {
  ExpectRefused(std::string(kHeader) + "windows = 3\n", {"rules file", "unknown key 'windows'"});
  ExpectRefused(std::string(kHeader) +
                    "[[dimension]]\nname = \"tier\"\ndefault = \"x\"\ncolour = \"red\"\n"
                    "[[dimension.rule]]\nvalue = \"y\"\nwhen = \"true\"\n",
                {"dimension \"tier\"", "unknown key 'colour'"});
  ExpectRefused(std::string(kHeader) +
                    "[[dimension]]\nname = \"tier\"\ndefault = \"x\"\n"
                    "[[dimension.rule]]\nvalue = \"y\"\nwhen = \"true\"\nif = \"x\"\n",
                {"dimension \"tier\" rule 1", "unknown key 'if'"});
}

TEST(RuleSetErrors, NoDimensionsOrAnEmptyDimensionIsRefused) {
  ExpectRefused(kHeader, {"no [[dimension]]"});
  ExpectRefused(std::string(kHeader) + "dimension = []\n", {"no [[dimension]]"});
  ExpectRefused(std::string(kHeader) + "dimension = 3\n", {"[[dimension]] tables"});
  ExpectRefused(std::string(kHeader) + "[[dimension]]\nname = \"tier\"\ndefault = \"x\"\n",
                {"dimension \"tier\"", "no [[dimension.rule]]"});
  ExpectRefused(
      std::string(kHeader) + "[[dimension]]\nname = \"tier\"\ndefault = \"x\"\nrule = []\n",
      {"dimension \"tier\"", "no [[dimension.rule]]"});
}

TEST(RuleSetErrors, DuplicateDimensionNamesAreRefused) {
  const std::string dimension =
      "[[dimension]]\nname = \"tier\"\ndefault = \"x\"\n"
      "[[dimension.rule]]\nvalue = \"y\"\nwhen = \"true\"\n";
  ExpectRefused(std::string(kHeader) + dimension + dimension,
                {"dimension \"tier\"", "used by an earlier dimension"});
}

TEST(RuleSetErrors, NamesAndValuesMustBePlainIdentifiers) {
  ExpectRefused(std::string(kHeader) + "[[dimension]]\nname = \"Tier\"\ndefault = \"x\"\n",
                {"dimension 1", "'name' must match"});
  ExpectRefused(std::string(kHeader) + "[[dimension]]\ndefault = \"x\"\n",
                {"dimension 1", "'name' is missing"});
  ExpectRefused(std::string(kHeader) + "[[dimension]]\nname = \"tier\"\n",
                {"dimension \"tier\"", "'default' is missing"});
  ExpectRefused(std::string(kHeader) + "[[dimension]]\nname = \"tier\"\ndefault = \"a b\"\n",
                {"dimension \"tier\"", "'default' must match"});
  ExpectRefused(std::string(kHeader) +
                    "[[dimension]]\nname = \"tier\"\ndefault = \"x\"\n"
                    "[[dimension.rule]]\nvalue = \"高\"\nwhen = \"true\"\n",
                {"dimension \"tier\" rule 1", "'value' must match"});
  ExpectRefused(std::string(kHeader) +
                    "[[dimension]]\nname = \"tier\"\ndefault = \"x\"\n"
                    "[[dimension.rule]]\nvalue = \"y\"\n",
                {"dimension \"tier\" rule 1", "'when' is missing"});
  ExpectRefused(std::string(kHeader) +
                    "[[dimension]]\nname = \"tier\"\ndefault = \"x\"\n"
                    "[[dimension.rule]]\nvalue = \"y\"\nwhen = 5\n",
                {"dimension \"tier\" rule 1", "'when' must be a string"});
}

TEST(RuleSetErrors, ConditionErrorsNameDimensionRuleAndProblem) {
  const std::string two_rules = std::string(kHeader) +
                                "[[dimension]]\nname = \"risk\"\ndefault = \"low\"\n"
                                "[[dimension.rule]]\nvalue = \"a\"\nwhen = \"true\"\n"
                                "[[dimension.rule]]\nvalue = \"b\"\nwhen = ";
  ExpectRefused(two_rules + "\"spend >= 1\"\n",
                {"dimension \"risk\" rule 2", "when:", "unknown metric \"spend\""});
  ExpectRefused(two_rules + "\"credit_rating == 5\"\n",
                {"dimension \"risk\" rule 2", "credit_rating is a string metric"});
  ExpectRefused(two_rules + "'spend_fen >= \"5\"'\n",
                {"dimension \"risk\" rule 2", "spend_fen is an integer metric"});
  ExpectRefused(two_rules + "\"\"\n", {"dimension \"risk\" rule 2", "condition is empty"});
}

TEST(RuleSetErrors, DeepExpressionIsRefused) {
  std::string when = "spend_fen > 0";
  for (int i = 0; i < 40; ++i) when = "not (" + when + ")";
  ExpectRefused(OneDimension(when), {"dimension \"d\" rule 1", "deeper than 32"});
}

TEST(RuleSetLimits, TextOver64KiBIsRefused) {
  std::string text = OneDimension("true");
  text += "# " + std::string(RuleSet::kTextBytesMax, 'x') + "\n";
  ExpectRefused(text, {"larger than 64 KiB"});
}

TEST(RuleSetLimits, ThirtyTwoDimensionsAreAllowedThirtyThreeAreNot) {
  std::string text = kHeader;
  for (int d = 0; d < 33; ++d) {
    if (d == 32) {
      ASSERT_TRUE(RuleSet::Parse(text).ok());
    }
    text += "[[dimension]]\nname = \"d" + std::to_string(d) +
            "\"\ndefault = \"x\"\n[[dimension.rule]]\nvalue = \"y\"\nwhen = \"true\"\n";
  }
  ExpectRefused(text, {"more than 32 dimensions"});
}

TEST(RuleSetLimits, SixtyFourRulesAreAllowedSixtyFiveAreNot) {
  std::string text = std::string(kHeader) + "[[dimension]]\nname = \"d\"\ndefault = \"x\"\n";
  for (int r = 0; r < 65; ++r) {
    if (r == 64) {
      Result<RuleSet> ok = RuleSet::Parse(text);
      ASSERT_TRUE(ok.ok()) << ok.status().ToString();
    }
    text += "[[dimension.rule]]\nvalue = \"v" + std::to_string(r) +
            "\"\nwhen = \"order_count == " + std::to_string(r) + "\"\n";
  }
  ExpectRefused(text, {"dimension \"d\"", "more than 64 rules"});
}

// toml11 reads out of bounds on these inside a literal string (ASan found
// it); they are refused before it sees them.
TEST(RuleSetErrors, InvalidUtf8IsRefusedBeforeTheTomlParser) {
  for (const char* bad : {"\x88", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe5\xbc"}) {
    ExpectRefused(std::string("#\nn='a") + bad + "b'\n", {"not valid UTF-8"});
  }
  // Valid UTF-8 (Chinese in a rule's description, in a literal string) is fine.
  Result<RuleSet> rules = RuleSet::Parse(OneDimension("true") + "description = '价值分层'\n");
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
}

TEST(RuleSetLimits, DeeplyNestedTomlIsRefusedBeforeTheTomlParser) {
  ExpectRefused("x = " + std::string(20'000, '['), {"brackets nest deeper than 16"});
}

// Issue 11.1: texts whose parse cost grows faster than their size are
// refused by the guard (its messages name the limit), before toml11 runs.
TEST(RuleSetLimits, Issue_11_1_CostlyTomlIsRefusedBeforeTheTomlParser) {
  const auto repeat = [](std::string_view piece, size_t times) {
    std::string out;
    for (size_t i = 0; i < times; ++i) out += piece;
    return out;
  };
  std::string header = kHeader;
  ExpectRefused(header + "[" + repeat("a.", 32000) + "a]\n", {"dotted key has too many parts"});
  ExpectRefused(header + repeat("a.", 20000) + "a = 1\n", {"dotted key has too many parts"});
  ExpectRefused(header + "x = {" + repeat("a.", 20000) + "a = 1}\n",
                {"dotted key has too many parts"});
  ExpectRefused(header + "x = [" + repeat("1,", 100) + "1]\n", {"array has too many items"});
  ExpectRefused(header + repeat("[[dimension]]\n", 32 * 65 + 1), {"too many tables"});
  ExpectRefused(header + "\"" + std::string(30000, 'k') + "\" = 1\n", {"key is too long"});
  // The built-in rules still parse.
  EXPECT_TRUE(RuleSet::Parse(DefaultRulesToml()).ok());
}

}  // namespace
}  // namespace custvault::rules
