// Tests of the rules' condition language (R-TAG-1: thresholds and
// conditions are data): operators, precedence, types and every refusal.
#include "rules/expression.h"

#include <gtest/gtest.h>

#include "rules/rules.h"

namespace custvault::rules {
namespace {

bool Eval(const std::string& text, const CustomerMetrics& metrics) {
  Result<Expression> expression = Expression::Parse(text);
  EXPECT_TRUE(expression.ok()) << text << ": " << expression.status().ToString();
  return expression.ok() && expression->Evaluate(metrics);
}

std::string ErrorOf(const std::string& text) {
  Result<Expression> expression = Expression::Parse(text);
  EXPECT_FALSE(expression.ok()) << "accepted: " << text;
  if (expression.ok()) return "";
  EXPECT_EQ(expression.status().code(), ErrorCode::kInvalidArgument);
  return expression.status().message();
}

CustomerMetrics Sample() {
  CustomerMetrics m;
  m.spend_fen = 1'500'000;
  m.order_count = 12;
  m.complaints_open = 0;
  m.complaints_total = 2;
  m.credit_rating = "BBB";
  return m;
}

TEST(Expression, EveryComparisonOnEveryIntegerMetric) {
  const CustomerMetrics m = Sample();
  EXPECT_TRUE(Eval("spend_fen == 1500000", m));
  EXPECT_FALSE(Eval("spend_fen != 1_500_000", m));
  EXPECT_TRUE(Eval("order_count < 13", m));
  EXPECT_FALSE(Eval("order_count < 12", m));
  EXPECT_TRUE(Eval("order_count <= 12", m));
  EXPECT_TRUE(Eval("complaints_total > 1", m));
  EXPECT_FALSE(Eval("complaints_total > 2", m));
  EXPECT_TRUE(Eval("complaints_open >= 0", m));
  EXPECT_FALSE(Eval("complaints_open >= 1", m));
  EXPECT_TRUE(Eval("spend_fen > -1", m));
  EXPECT_TRUE(Eval("spend_fen>=1500000", m));  // spaces are optional
}

TEST(Expression, StringMetricWithEqualityAndIn) {
  const CustomerMetrics m = Sample();
  EXPECT_TRUE(Eval("credit_rating == \"BBB\"", m));
  EXPECT_FALSE(Eval("credit_rating != \"BBB\"", m));
  EXPECT_TRUE(Eval("credit_rating in [\"A\", \"BBB\"]", m));
  EXPECT_FALSE(Eval("credit_rating in [\"B\",\"CCC\",\"CC\",\"C\",\"D\"]", m));
  EXPECT_TRUE(Eval("credit_rating == \"\"", CustomerMetrics{}));  // not recorded
}

TEST(Expression, IntegerIn) {
  EXPECT_TRUE(Eval("order_count in [1, 12, 30]", Sample()));
  EXPECT_FALSE(Eval("order_count in [1]", Sample()));
}

TEST(Expression, AndBindsTighterThanOr) {
  CustomerMetrics m;  // all zero
  // true or (false and false) = true; (true or false) and false would be false.
  EXPECT_TRUE(Eval("spend_fen == 0 or order_count == 1 and complaints_total == 1", m));
  EXPECT_FALSE(Eval("(spend_fen == 0 or order_count == 1) and complaints_total == 1", m));
  // (false and true) or true = true
  EXPECT_TRUE(Eval("order_count == 1 and spend_fen == 0 or complaints_total == 0", m));
}

TEST(Expression, NotBindsTighterThanAnd) {
  CustomerMetrics m;
  // (not false) and true = true; not (false and true) would also be true,
  // so test the case that differs: (not true) and false vs not (true and false).
  EXPECT_FALSE(Eval("not spend_fen == 0 and order_count == 1", m));
  EXPECT_TRUE(Eval("not (spend_fen == 0 and order_count == 1)", m));
  EXPECT_TRUE(Eval("not not spend_fen == 0", m));
}

TEST(Expression, Constants) {
  EXPECT_TRUE(Eval("true", {}));
  EXPECT_FALSE(Eval("false", {}));
  EXPECT_TRUE(Eval("false or true", {}));
}

TEST(Expression, MultiLineTextAndLongChains) {
  std::string text = "order_count == 0";
  for (int i = 1; i < 100; ++i) text += "\n or order_count == " + std::to_string(i);
  CustomerMetrics m;
  m.order_count = 99;
  EXPECT_TRUE(Eval(text, m));
  m.order_count = 100;
  EXPECT_FALSE(Eval(text, m));
  EXPECT_EQ(Expression::Parse(text)->depth(), 2);  // one n-ary or over comparisons
}

TEST(Expression, ExtremeIntegers) {
  CustomerMetrics m;
  m.spend_fen = INT64_MIN;
  EXPECT_TRUE(Eval("spend_fen == -9223372036854775808", m));
  m.spend_fen = INT64_MAX;
  EXPECT_TRUE(Eval("spend_fen == 9_223_372_036_854_775_807", m));
  EXPECT_NE(ErrorOf("spend_fen == 9223372036854775808").find("out of range"), std::string::npos);
  EXPECT_NE(ErrorOf("spend_fen == -9223372036854775809").find("out of range"), std::string::npos);
}

TEST(ExpressionErrors, UnknownMetricListsTheKnownOnes) {
  const std::string error = ErrorOf("spend >= 1");
  EXPECT_NE(error.find("column 1: unknown metric \"spend\""), std::string::npos) << error;
  EXPECT_NE(error.find("credit_rating"), std::string::npos) << error;
}

TEST(ExpressionErrors, TypeMismatches) {
  EXPECT_NE(ErrorOf("credit_rating == 1").find("credit_rating is a string metric"),
            std::string::npos);
  EXPECT_NE(ErrorOf("credit_rating in [\"B\", 3]").find("string metric"), std::string::npos);
  EXPECT_NE(ErrorOf("spend_fen == \"100\"").find("spend_fen is an integer metric"),
            std::string::npos);
  EXPECT_NE(ErrorOf("credit_rating < \"B\"").find("compare it with ==, != or in"),
            std::string::npos);
}

TEST(ExpressionErrors, SyntaxErrorsSayTheColumn) {
  EXPECT_NE(ErrorOf("spend_fen = 1").find("column 11: use =="), std::string::npos);
  EXPECT_NE(ErrorOf("spend_fen >= ").find("end of text"), std::string::npos);
  EXPECT_NE(ErrorOf("(spend_fen >= 1").find("expected ')'"), std::string::npos);
  EXPECT_NE(ErrorOf("spend_fen >= 1)").find("column 15: unexpected \")\""), std::string::npos);
  EXPECT_NE(ErrorOf("spend_fen >= 1 order_count > 1").find("missing 'and' or 'or'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("and spend_fen > 1").find("expected a metric"), std::string::npos);
  EXPECT_NE(ErrorOf("spend_fen >= 1 &").find("column 16: unexpected character '&'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("credit_rating == \"B").find("unterminated string"), std::string::npos);
  EXPECT_NE(ErrorOf("credit_rating == \"B\\\"\"").find("no escapes"), std::string::npos);
  EXPECT_NE(ErrorOf("credit_rating in \"B\"").find("expected '['"), std::string::npos);
  EXPECT_NE(ErrorOf("credit_rating in [\"B\" \"C\"]").find("expected ',' or ']'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("credit_rating in []").find("expected a value"), std::string::npos);
  EXPECT_NE(ErrorOf("spend_fen >= 1_").find("'_' must stand between two digits"),
            std::string::npos);
  EXPECT_NE(ErrorOf("spend_fen >= 10abc").find("must not run into letters"), std::string::npos);
  EXPECT_NE(ErrorOf("spend_fen order_count").find("expected a comparison"), std::string::npos);
  EXPECT_NE(ErrorOf("   ").find("condition is empty"), std::string::npos);
}

TEST(ExpressionErrors, BinaryInputIsNotEchoed) {
  const std::string error = ErrorOf(std::string("spend_fen >= 1 \x01\xff", 17));
  EXPECT_EQ(error.find('\x01'), std::string::npos);
  EXPECT_EQ(error.find('\xff'), std::string::npos);
  EXPECT_NE(error.find("unexpected character"), std::string::npos);
}

TEST(ExpressionLimits, DepthOfThirtyTwoIsAllowedThirtyThreeIsNot) {
  // Each `not` adds one level above the comparison (depth 1).
  std::string text = "spend_fen > 0";
  for (int i = 0; i < 31; ++i) text = "not " + text;
  Result<Expression> at_limit = Expression::Parse(text);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_EQ(at_limit->depth(), 32);
  EXPECT_NE(ErrorOf("not " + text).find("deeper than 32"), std::string::npos);
}

TEST(ExpressionLimits, ParenthesesNestingIsBounded) {
  std::string text = std::string(33, '(') + "true" + std::string(33, ')');
  EXPECT_NE(ErrorOf(text).find("deeper than 32"), std::string::npos);
  // A hostile run of parentheses fails fast instead of recursing.
  EXPECT_NE(ErrorOf(std::string(1000, '(')).find("deeper than 32"), std::string::npos);
  // An or over an and inside each of only 20 parentheses is 41 levels deep.
  std::string mixed = "true";
  for (int i = 0; i < 20; ++i) mixed = "(" + mixed + " and true or false)";
  EXPECT_NE(ErrorOf(mixed).find("deeper than 32"), std::string::npos);
}

TEST(ExpressionLimits, TextTokensListsAndStrings) {
  EXPECT_NE(ErrorOf(std::string(Expression::kTextBytesMax + 1, ' ')).find("longer than 4096"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(1025, ',')).find("more than 1024 tokens"), std::string::npos);
  std::string list = "order_count in [0";
  for (int i = 1; i <= 64; ++i) list += "," + std::to_string(i);
  EXPECT_NE(ErrorOf(list + "]").find("more than 64 items"), std::string::npos);
  EXPECT_NE(ErrorOf("credit_rating == \"" + std::string(65, 'A') + "\"").find("longer than 64"),
            std::string::npos);
}

}  // namespace
}  // namespace custvault::rules
