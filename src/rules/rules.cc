#include "rules/rules.h"

#include <set>
#include <sstream>
#include <toml.hpp>

#include "common/toml_guard.h"

namespace custvault::rules {
namespace {

bool IsName(std::string_view name, bool must_start_with_letter) {
  if (name.empty() || name.size() > RuleSet::kNameBytesMax) return false;
  if (must_start_with_letter && !(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// Where an error is, for messages: `dimension "risk" rule 2`.
std::string DimensionName(size_t index, const std::string& name) {
  return name.empty() ? "dimension " + std::to_string(index + 1) : "dimension \"" + name + "\"";
}

Status UnknownKeys(const toml::table& table, const std::set<std::string>& known,
                   const std::string& where) {
  for (const auto& [key, unused] : table) {
    if (!known.contains(key)) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      // A key is the file's own text, not personal data; cut it short anyway.
      const std::string shown = key.size() > 32 ? key.substr(0, 32) + "..." : key;
      return InvalidArgument(where + ": unknown key '" + shown + "' (allowed: " + list + ")");
    }
  }
  return Status::Ok();
}

Result<std::string> RequiredString(const toml::table& table, const std::string& key,
                                   const std::string& where) {
  const auto it = table.find(key);
  if (it == table.end()) return InvalidArgument(where + ": '" + key + "' is missing");
  if (!it->second.is_string()) return InvalidArgument(where + ": '" + key + "' must be a string");
  return it->second.as_string().str;
}

Status CheckDescription(const toml::table& table, const std::string& where) {
  const auto it = table.find("description");
  if (it == table.end()) return Status::Ok();
  if (!it->second.is_string()) return InvalidArgument(where + ": 'description' must be a string");
  if (it->second.as_string().str.size() > RuleSet::kDescriptionBytesMax) {
    return InvalidArgument(where + ": 'description' is longer than " +
                           std::to_string(RuleSet::kDescriptionBytesMax) + " bytes");
  }
  return Status::Ok();
}

Result<int64_t> RequiredInteger(const toml::table& table, const std::string& key,
                                const std::string& where) {
  const auto it = table.find(key);
  if (it == table.end()) return InvalidArgument(where + ": '" + key + "' is missing");
  if (!it->second.is_integer()) {
    return InvalidArgument(where + ": '" + key + "' must be an integer");
  }
  return static_cast<int64_t>(it->second.as_integer());
}

}  // namespace

Result<RuleSet> RuleSet::Parse(std::string_view toml_text) {
  if (toml_text.size() > kTextBytesMax) {
    return InvalidArgument("rules file is larger than " + std::to_string(kTextBytesMax / 1024) +
                           " KiB");
  }
  // Every dimension and rule is a table; a rules file needs no more.
  TomlLimits limits;
  limits.bytes_max = kTextBytesMax;
  limits.tables_max = kDimensionsMax * (kRulesPerDimensionMax + 1);
  limits.array_items_max = kRulesPerDimensionMax;
  RETURN_IF_ERROR(CheckTomlInput(toml_text, "rules file", limits));
  toml::value root;
  try {
    std::istringstream in{std::string(toml_text)};
    root = toml::parse(in, "rules");
  } catch (const std::exception& e) {
    // toml11 reports syntax errors only by exception; this is where they
    // become a value.
    return InvalidArgument(std::string("rules file is not valid TOML: ") + e.what());
  }
  if (!root.is_table()) return InvalidArgument("rules file is not a TOML table");
  const toml::table& top = root.as_table();
  RETURN_IF_ERROR(
      UnknownKeys(top, {"format", "window_days", "description", "dimension"}, "rules file"));
  RETURN_IF_ERROR(CheckDescription(top, "rules file"));
  ASSIGN_OR_RETURN(const int64_t format, RequiredInteger(top, "format", "rules file"));
  if (format != kFormat) {
    return InvalidArgument("rules file: format " + std::to_string(format) +
                           " is not supported (this version reads format " +
                           std::to_string(kFormat) + ")");
  }
  RuleSet rules;
  ASSIGN_OR_RETURN(const int64_t window_days, RequiredInteger(top, "window_days", "rules file"));
  if (window_days < 1 || window_days > kWindowDaysMax) {
    return InvalidArgument("rules file: 'window_days' must be 1.." +
                           std::to_string(kWindowDaysMax));
  }
  rules.window_days_ = static_cast<int>(window_days);

  const auto dimensions = top.find("dimension");
  if (dimensions == top.end()) {
    return InvalidArgument("rules file: no [[dimension]] (at least one is needed)");
  }
  if (!dimensions->second.is_array()) {
    return InvalidArgument("rules file: 'dimension' must be [[dimension]] tables");
  }
  const toml::array& dimension_list = dimensions->second.as_array();
  if (dimension_list.empty()) {
    return InvalidArgument("rules file: no [[dimension]] (at least one is needed)");
  }
  if (dimension_list.size() > kDimensionsMax) {
    return InvalidArgument("rules file: more than " + std::to_string(kDimensionsMax) +
                           " dimensions");
  }
  for (size_t d = 0; d < dimension_list.size(); ++d) {
    std::string where = DimensionName(d, "");
    if (!dimension_list[d].is_table()) return InvalidArgument(where + ": must be a table");
    const toml::table& table = dimension_list[d].as_table();
    // Name the dimension as early as possible, so later errors say which.
    if (const auto name = table.find("name"); name != table.end() && name->second.is_string() &&
                                              IsName(name->second.as_string().str, true)) {
      where = DimensionName(d, name->second.as_string().str);
    }
    RETURN_IF_ERROR(UnknownKeys(table, {"name", "default", "description", "rule"}, where));
    RETURN_IF_ERROR(CheckDescription(table, where));
    Dimension dimension;
    ASSIGN_OR_RETURN(dimension.name, RequiredString(table, "name", where));
    if (!IsName(dimension.name, true)) {
      return InvalidArgument(where + ": 'name' must match [a-z][a-z0-9_]{0,31}");
    }
    for (const Dimension& earlier : rules.dimensions_) {
      if (earlier.name == dimension.name) {
        return InvalidArgument(where + ": the name is used by an earlier dimension");
      }
    }
    ASSIGN_OR_RETURN(dimension.default_value, RequiredString(table, "default", where));
    if (!IsName(dimension.default_value, false)) {
      return InvalidArgument(where + ": 'default' must match [a-z0-9_]{1,32}");
    }
    const auto rule_entries = table.find("rule");
    if (rule_entries == table.end()) {
      return InvalidArgument(where + ": no [[dimension.rule]] (a dimension needs at least one)");
    }
    if (!rule_entries->second.is_array()) {
      return InvalidArgument(where + ": 'rule' must be [[dimension.rule]] tables");
    }
    const toml::array& rule_list = rule_entries->second.as_array();
    if (rule_list.empty()) {
      return InvalidArgument(where + ": no [[dimension.rule]] (a dimension needs at least one)");
    }
    if (rule_list.size() > kRulesPerDimensionMax) {
      return InvalidArgument(where + ": more than " + std::to_string(kRulesPerDimensionMax) +
                             " rules");
    }
    for (size_t r = 0; r < rule_list.size(); ++r) {
      const std::string rule_where = where + " rule " + std::to_string(r + 1);
      if (!rule_list[r].is_table()) return InvalidArgument(rule_where + ": must be a table");
      const toml::table& rule_table = rule_list[r].as_table();
      RETURN_IF_ERROR(UnknownKeys(rule_table, {"value", "when", "description"}, rule_where));
      RETURN_IF_ERROR(CheckDescription(rule_table, rule_where));
      ASSIGN_OR_RETURN(std::string value, RequiredString(rule_table, "value", rule_where));
      if (!IsName(value, false)) {
        return InvalidArgument(rule_where + ": 'value' must match [a-z0-9_]{1,32}");
      }
      ASSIGN_OR_RETURN(const std::string when, RequiredString(rule_table, "when", rule_where));
      Result<Expression> expression = Expression::Parse(when);
      if (!expression.ok()) {
        return InvalidArgument(rule_where + ": when: " + expression.status().message());
      }
      dimension.rules.push_back(Rule{std::move(value), std::move(expression).value()});
    }
    rules.dimension_names_.push_back(dimension.name);
    rules.dimensions_.push_back(std::move(dimension));
  }
  return rules;
}

int RuleSet::window_days() const { return window_days_; }

const std::vector<std::string>& RuleSet::dimensions() const { return dimension_names_; }

std::vector<std::string_view> RuleSet::MetricsUsed() const {
  std::set<std::string_view> used;
  for (const Dimension& dimension : dimensions_) {
    for (const Rule& rule : dimension.rules) {
      for (std::string_view metric : rule.when.MetricsUsed()) used.insert(metric);
    }
  }
  return {used.begin(), used.end()};
}

Tags RuleSet::Classify(const CustomerMetrics& metrics) const {
  Tags tags;
  for (const Dimension& dimension : dimensions_) {
    const std::string* value = &dimension.default_value;
    for (const Rule& rule : dimension.rules) {
      if (rule.when.Evaluate(metrics)) {
        value = &rule.value;
        break;
      }
    }
    tags.emplace(dimension.name, *value);
  }
  return tags;
}

}  // namespace custvault::rules
