// The condition language of the tag rules (docs/rules.md): a `when` text
// such as `spend_fen >= 10_000_000 or credit_rating in ["B", "CCC"]` is
// parsed once into a small tree and then evaluated against a customer's
// metrics many times (a re-classification evaluates 1,000,000 customers).
//
//   expr       := or
//   or         := and ("or" and)*
//   and        := unary ("and" unary)*           -- "and" binds tighter than "or"
//   unary      := "not" unary | "(" expr ")" | "true" | "false" | comparison
//   comparison := metric op literal | metric "in" "[" literal ("," literal)* "]"
//   op         := "==" | "!=" | "<" | "<=" | ">" | ">="
//   literal    := integer (digits, optional leading "-", "_" between digits) | "quoted"
//
// Metrics: spend_fen, order_count, complaints_open, complaints_total
// (integers) and credit_rating (a string: only ==, != and in).
//
// Errors (kInvalidArgument) say the column (1-based byte offset) and what is
// wrong. Limits: kTextBytesMax bytes of text, kTokensMax tokens,
// kDepthMax levels of nesting, kListItemsMax items in one `in` list.
// Thread safety: an Expression is immutable once parsed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace custvault::rules {

struct CustomerMetrics;

class Expression {
 public:
  static constexpr size_t kTextBytesMax = 4096;
  static constexpr size_t kTokensMax = 1024;
  static constexpr int kDepthMax = 32;
  static constexpr size_t kListItemsMax = 64;
  static constexpr size_t kStringBytesMax = 64;

  static Result<Expression> Parse(std::string_view text);

  bool Evaluate(const CustomerMetrics& metrics) const { return Eval(root_, metrics); }

  // Levels of the tree (a single comparison is 1).
  int depth() const { return depth_; }

  // The name of each metric as the language spells it, in one place.
  static const std::vector<std::string_view>& MetricNames();

  // The metrics this condition reads (names as MetricNames spells them),
  // sorted, each once: a dry run checks them against the caller's role.
  std::vector<std::string_view> MetricsUsed() const;

 private:
  friend class ExpressionParser;  // expression.cc builds the tree

  enum class Metric : uint8_t {
    kSpendFen,
    kOrderCount,
    kComplaintsOpen,
    kComplaintsTotal,
    kCreditRating
  };
  enum class Kind : uint8_t {
    kConstant,
    kCompareInteger,
    kCompareString,
    kInIntegers,
    kInStrings,
    kAnd,
    kOr,
    kNot
  };
  enum class Comparison : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
  struct Node {
    Kind kind = Kind::kConstant;
    Metric metric = Metric::kSpendFen;
    Comparison comparison = Comparison::kEq;
    bool constant = false;
    int64_t integer = 0;
    std::string text;
    std::vector<int64_t> integers;   // kInIntegers
    std::vector<std::string> texts;  // kInStrings
    std::vector<uint32_t> children;  // kAnd, kOr (two or more), kNot (one)
  };

  bool Eval(uint32_t index, const CustomerMetrics& metrics) const;

  std::vector<Node> nodes_;
  uint32_t root_ = 0;
  int depth_ = 0;
};

}  // namespace custvault::rules
