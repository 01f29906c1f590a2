// Fuzz-style robustness of the rules parser (style habit 9, R-TAG-1): random
// bytes and mutations of valid rules files and conditions. Every input
// either parses or is refused with kInvalidArgument; none may crash or
// hang (the ASan+UBSan build checks memory and undefined behaviour), and
// whatever parses can classify.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "rules/expression.h"
#include "rules/rules.h"

namespace custvault::rules {
namespace {

constexpr int kRandomCases = 4000;

const std::vector<std::string> kConditionSeeds = {
    "spend_fen >= 10_000_000",
    "complaints_total >= 1 or credit_rating in [\"B\", \"CCC\", \"CC\", \"C\", \"D\"]",
    "not (order_count < 3 and complaints_open == 0) or false",
    "credit_rating != \"\" and spend_fen > -5",
};

std::string Mutate(std::mt19937& rng, std::string s) {
  // Bytes that matter to the parsers: TOML and condition punctuation.
  const std::string interesting = "[]{}()\"'=<>!,_-#\n. 0123456789abcdefinotr\\\x80\xff";
  const int edits = std::uniform_int_distribution<int>(1, 6)(rng);
  for (int n = 0; n < edits; ++n) {
    const int op = std::uniform_int_distribution<int>(0, 3)(rng);
    const size_t pos = s.empty() ? 0 : std::uniform_int_distribution<size_t>(0, s.size() - 1)(rng);
    const char c =
        std::uniform_int_distribution<int>(0, 1)(rng)
            ? interesting[std::uniform_int_distribution<size_t>(0, interesting.size() - 1)(rng)]
            : static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    if (op == 0 && !s.empty()) {
      s.erase(pos, std::uniform_int_distribution<size_t>(1, 8)(rng));
    } else if (op == 1) {
      s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), c);
    } else if (op == 2 && !s.empty()) {
      s[pos] = c;
    } else if (!s.empty()) {  // duplicate a slice: repeats headers and brackets
      const size_t length = std::uniform_int_distribution<size_t>(1, 64)(rng);
      s.insert(pos, s.substr(pos, length));
    }
  }
  return s;
}

std::string RandomBytes(std::mt19937& rng, size_t max_length) {
  std::string out(std::uniform_int_distribution<size_t>(0, max_length)(rng), '\0');
  for (char& c : out) c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
  return out;
}

CustomerMetrics RandomMetrics(std::mt19937& rng) {
  std::uniform_int_distribution<int64_t> amount(-1'000, 20'000'000);
  CustomerMetrics m;
  m.spend_fen = amount(rng);
  m.order_count = amount(rng) % 100;
  m.complaints_open = amount(rng) % 3;
  m.complaints_total = amount(rng) % 5;
  const char* ratings[] = {"", "AAA", "BBB", "B", "D", "x"};
  m.credit_rating = ratings[std::uniform_int_distribution<int>(0, 5)(rng)];
  return m;
}

void ExpectParsedOrRefused(const std::string& text, std::mt19937& rng) {
  Result<RuleSet> rules = RuleSet::Parse(text);
  if (rules.ok()) {
    const Tags tags = rules->Classify(RandomMetrics(rng));
    EXPECT_EQ(tags.size(), rules->dimensions().size());
  } else {
    EXPECT_EQ(rules.status().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(RulesRobustness, MutatedRulesFilesParseOrAreRefused) {
  std::mt19937 rng(20261129);
  const std::string seed(DefaultRulesToml());
  int parsed = 0;
  for (int i = 0; i < kRandomCases; ++i) {
    const std::string text = Mutate(rng, seed);
    ExpectParsedOrRefused(text, rng);
    parsed += RuleSet::Parse(text).ok() ? 1 : 0;
  }
  // Some mutations only touch comments: the test reached past the TOML parser.
  EXPECT_GT(parsed, 0);
}

// Issue 11.1: random structures around the guard's limits (dotted-key
// parts, array items, inline-table nesting, key length) spliced into a
// valid file: each parses or is refused, and whatever is over a limit is
// refused by the guard, before toml11 could spend time on it.
TEST(RulesRobustness, Issue_11_1_StructuresAroundTheGuardsLimitsParseOrAreRefused) {
  std::mt19937 rng(1107);
  const std::string seed(DefaultRulesToml());
  std::uniform_int_distribution<int> shape(0, 3);
  std::uniform_int_distribution<int> size(1, 80);
  for (int i = 0; i < kRandomCases / 4; ++i) {
    const int n = size(rng);
    std::string piece;
    bool over_limit = false;
    switch (shape(rng)) {
      case 0:  // a dotted key of n parts
        for (int k = 0; k < n; ++k) piece += k == 0 ? "a" : ".a";
        piece += " = 1\n";
        over_limit = n > 8;
        break;
      case 1:  // an array of n * 20 items
        piece = "x = [";
        for (int k = 0; k < n * 20; ++k) piece += k == 0 ? "1" : ",1";
        piece += "]\n";
        over_limit = n * 20 > 64;
        break;
      case 2:  // inline tables nested n / 4 deep
        piece = "x = ";
        for (int k = 0; k < n / 4; ++k) piece += "{a = ";
        piece += "1";
        for (int k = 0; k < n / 4; ++k) piece += "}";
        piece += "\n";
        over_limit = n / 4 > 16;
        break;
      default:  // a quoted key of n * 4 bytes
        piece = "\"" + std::string(static_cast<size_t>(n) * 4, 'k') + "\" = 1\n";
        over_limit = n * 4 > 128;
        break;
    }
    // Before the first [[dimension]]: top-level keys.
    const std::string text = piece + seed;
    ExpectParsedOrRefused(text, rng);
    if (over_limit) {
      Result<RuleSet> rules = RuleSet::Parse(text);
      ASSERT_FALSE(rules.ok());
      EXPECT_EQ(rules.status().message().find("not valid TOML"), std::string::npos)
          << rules.status().message();
    }
  }
}

TEST(RulesRobustness, RandomBytesAreRefused) {
  std::mt19937 rng(7);
  for (int i = 0; i < kRandomCases; ++i) ExpectParsedOrRefused(RandomBytes(rng, 256), rng);
}

TEST(RulesRobustness, MutatedConditionsParseOrAreRefused) {
  std::mt19937 rng(42);
  for (int i = 0; i < kRandomCases * 5; ++i) {
    const std::string& seed = kConditionSeeds[static_cast<size_t>(i) % kConditionSeeds.size()];
    const std::string text = i % 7 == 0 ? RandomBytes(rng, 64) : Mutate(rng, seed);
    Result<Expression> expression = Expression::Parse(text);
    if (expression.ok()) {
      EXPECT_LE(expression->depth(), Expression::kDepthMax);
      expression->Evaluate(RandomMetrics(rng));
    } else {
      EXPECT_EQ(expression.status().code(), ErrorCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace custvault::rules
