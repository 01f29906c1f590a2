// Tag rules (R-TAG-1): a rules file (TOML) that turns a customer's business
// metrics into tags, e.g. value_tier = high | medium | ordinary and
// risk = high | low. Pure: no I/O, no clock; the service supplies metrics
// and decides what to do with the tags. Thresholds are data in the file.
//
// The rules text lives in the database, versioned; a new version takes
// effect only after a department head approves it (service/tag_service).
// Thread safety: a RuleSet is immutable once parsed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "rules/expression.h"

namespace custvault::rules {

// What the rules can look at for one customer. Amounts are in fen (1 CNY =
// 100 fen) so money is never a floating-point number.
struct CustomerMetrics {
  int64_t spend_fen = 0;         // sum of transaction amounts in the window
  int64_t order_count = 0;       // transactions in the window
  int64_t complaints_open = 0;   // complaints not closed
  int64_t complaints_total = 0;  // all complaints ever recorded
  std::string credit_rating;     // "AAA" .. "D", or "" when not recorded
};

// Tags of one customer: dimension -> value.
using Tags = std::map<std::string, std::string>;

class RuleSet {
 public:
  // Limits (docs/rules.md). Condition texts have their own (expression.h).
  static constexpr size_t kTextBytesMax = 64 * 1024;
  static constexpr size_t kDimensionsMax = 32;
  static constexpr size_t kRulesPerDimensionMax = 64;
  static constexpr int kWindowDaysMax = 3660;
  static constexpr size_t kNameBytesMax = 32;  // dimension names and tag values
  static constexpr size_t kDescriptionBytesMax = 512;
  static constexpr int kFormat = 1;

  // Parses and checks a rules file. Errors (kInvalidArgument) name the
  // dimension/rule and what is wrong; unknown keys and metrics are refused.
  static Result<RuleSet> Parse(std::string_view toml_text);

  // The window (days) over which spend_fen and order_count are summed.
  int window_days() const;
  // The dimensions this rule set assigns, in file order.
  const std::vector<std::string>& dimensions() const;
  // The metrics any rule's condition reads, sorted, each once.
  std::vector<std::string_view> MetricsUsed() const;
  // Tags for one customer: for each dimension, the value of the first rule
  // whose condition holds, else the dimension's default.
  Tags Classify(const CustomerMetrics& metrics) const;

  // (Implementation-defined members follow.)
 private:
  struct Rule {
    std::string value;
    Expression when;
  };
  struct Dimension {
    std::string name;
    std::string default_value;
    std::vector<Rule> rules;
  };

  RuleSet() = default;

  int window_days_ = 0;
  std::vector<std::string> dimension_names_;
  std::vector<Dimension> dimensions_;
};

// The built-in rules of R-TAG-1 (data/rules.toml, compiled in).
std::string_view DefaultRulesToml();

}  // namespace custvault::rules
