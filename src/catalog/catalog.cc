// Loading the catalog and validating whole records.
//
// The catalog is data (R-CAT-1), so its loader is as strict as the config
// loader: an unknown key, a wrong type, a bad value or a duplicate field
// fails the load with a message naming the entry and the key, because a
// typo in "protection" must never silently mean a weaker default.
#include "catalog/catalog.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <toml.hpp>

#include "catalog/utf8.h"
#include "common/toml_guard.h"
#include "common/encoding.h"

namespace custvault::catalog {
namespace {

const std::set<std::string, std::less<>> kIndustries = {"finance", "ecommerce", "consulting",
                                                        "medical"};
const std::set<std::string, std::less<>> kRules = {
    "person_name", "resident_id", "phone",         "mobile", "address", "bank_account",
    "email",       "uscc",        "credit_rating", "text",   "integer", "binary"};
const std::set<std::string, std::less<>> kMasks = {
    "name", "id_number", "phone", "address", "bank_account", "email", "hidden", "never", "none"};
const std::set<std::string, std::less<>> kEntryKeys = {
    "key",        "label_zh",       "label_en",    "class",          "rule",     "type",
    "protection", "mask",           "searchable",  "pipl_sensitive", "required", "industries",
    "max_bytes",  "allowed_values", "min_integer", "max_integer"};

constexpr size_t kLabelBytesMax = 128;
constexpr size_t kAllowedValuesMax = 64;
constexpr size_t kAllowedValueBytesMax = 16;
constexpr int64_t kMaxBytesCeiling = 16 << 20;
constexpr size_t kKeyBytesMax = 48;
constexpr int kIntegerDigitsMax = 18;

bool IsFieldKey(std::string_view key) {
  if (key.empty() || key.size() > kKeyBytesMax || key[0] < 'a' || key[0] > 'z') return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// Where an entry came from, for error messages: `default catalog entry 3
// ("phone")`.
struct EntryName {
  std::string_view source;
  size_t index = 0;
  std::string key;
  std::string Describe() const {
    std::string out = std::string(source) + " entry " + std::to_string(index + 1);
    if (!key.empty()) out += " (\"" + key + "\")";
    return out;
  }
};

Status BadEntry(const EntryName& entry, std::string_view key, std::string_view why) {
  return InvalidArgument(entry.Describe() + ": key '" + std::string(key) + "' " + std::string(why));
}

Result<std::string> GetString(const toml::table& t, const EntryName& entry, const char* key,
                              bool required) {
  const auto it = t.find(key);
  if (it == t.end()) {
    if (required) return BadEntry(entry, key, "is missing");
    return std::string();
  }
  if (!it->second.is_string()) return BadEntry(entry, key, "must be a string");
  return it->second.as_string().str;
}

Result<bool> GetBool(const toml::table& t, const EntryName& entry, const char* key) {
  const auto it = t.find(key);
  if (it == t.end()) return false;
  if (!it->second.is_boolean()) return BadEntry(entry, key, "must be true or false");
  return it->second.as_boolean();
}

Result<int64_t> GetInt(const toml::table& t, const EntryName& entry, const char* key) {
  const auto it = t.find(key);
  if (it == t.end()) return int64_t{0};
  if (!it->second.is_integer()) return BadEntry(entry, key, "must be an integer");
  return static_cast<int64_t>(it->second.as_integer());
}

Result<std::vector<std::string>> GetStrings(const toml::table& t, const EntryName& entry,
                                            const char* key) {
  std::vector<std::string> out;
  const auto it = t.find(key);
  if (it == t.end()) return out;
  if (!it->second.is_array()) return BadEntry(entry, key, "must be an array of strings");
  for (const toml::value& v : it->second.as_array()) {
    if (!v.is_string()) return BadEntry(entry, key, "must be an array of strings");
    out.push_back(v.as_string().str);
  }
  return out;
}

Result<FieldDef> ParseEntry(const toml::value& value, const EntryName& where) {
  EntryName entry = where;
  if (!value.is_table()) return InvalidArgument(entry.Describe() + ": must be a table");
  const toml::table& t = value.as_table();
  // Name the entry by its key as early as possible, so later errors say
  // which field is wrong, not only its position.
  if (const auto k = t.find("key");
      k != t.end() && k->second.is_string() && IsFieldKey(k->second.as_string().str)) {
    entry.key = k->second.as_string().str;
  }
  for (const auto& [name, unused] : t) {
    if (!kEntryKeys.contains(name)) return BadEntry(entry, name, "is unknown");
  }
  FieldDef f;
  ASSIGN_OR_RETURN(f.key, GetString(t, entry, "key", true));
  if (!IsFieldKey(f.key)) return BadEntry(entry, "key", "must match [a-z][a-z0-9_]{0,47}");
  ASSIGN_OR_RETURN(f.label_zh, GetString(t, entry, "label_zh", true));
  ASSIGN_OR_RETURN(f.label_en, GetString(t, entry, "label_en", true));
  for (const auto& [label_key, label] :
       {std::pair{"label_zh", &f.label_zh}, std::pair{"label_en", &f.label_en}}) {
    if (label->empty() || label->size() > kLabelBytesMax || !IsValidUtf8(*label)) {
      return BadEntry(entry, label_key, "must be 1-128 bytes of UTF-8");
    }
  }
  ASSIGN_OR_RETURN(const std::string field_class, GetString(t, entry, "class", true));
  if (field_class == "basic") {
    f.field_class = FieldClass::kBasic;
  } else if (field_class == "sensitive") {
    f.field_class = FieldClass::kSensitive;
  } else if (field_class == "business") {
    f.field_class = FieldClass::kBusiness;
  } else {
    return BadEntry(entry, "class", "must be basic, sensitive or business");
  }
  ASSIGN_OR_RETURN(f.rule, GetString(t, entry, "rule", true));
  if (!kRules.contains(f.rule)) return BadEntry(entry, "rule", "names no known rule");
  ASSIGN_OR_RETURN(const std::string type, GetString(t, entry, "type", true));
  if (type == "text") {
    f.type = ValueType::kText;
  } else if (type == "integer") {
    f.type = ValueType::kInteger;
  } else if (type == "binary") {
    f.type = ValueType::kBinary;
  } else {
    return BadEntry(entry, "type", "must be text, integer or binary");
  }
  const bool type_matches_rule = f.rule == "integer"  ? f.type == ValueType::kInteger
                                 : f.rule == "binary" ? f.type == ValueType::kBinary
                                                      : f.type == ValueType::kText;
  if (!type_matches_rule) return BadEntry(entry, "type", "does not fit the rule");
  ASSIGN_OR_RETURN(const std::string protection, GetString(t, entry, "protection", true));
  if (protection == "aes-256-gcm") {
    f.protection = Protection::kAes256Gcm;
  } else if (protection == "sm4") {
    f.protection = Protection::kSm4Gcm;
  } else if (protection == "plain") {
    // Plain storage is for non-personal aggregates only (R-CAT-1).
    if (f.field_class != FieldClass::kBusiness) {
      return BadEntry(entry, "protection", "may be plain only for business fields");
    }
    f.protection = Protection::kPlain;
  } else {
    return BadEntry(entry, "protection", "must be aes-256-gcm, sm4 or plain");
  }
  ASSIGN_OR_RETURN(f.mask, GetString(t, entry, "mask", true));
  if (!kMasks.contains(f.mask)) return BadEntry(entry, "mask", "names no known mask");
  if (f.type != ValueType::kText && f.mask != "none" && f.mask != "hidden" && f.mask != "never") {
    return BadEntry(entry, "mask", "must be none, hidden or never for a non-text field");
  }
  ASSIGN_OR_RETURN(f.searchable, GetBool(t, entry, "searchable"));
  if (f.searchable && f.type == ValueType::kBinary) {
    return BadEntry(entry, "searchable", "cannot be true for a binary field");
  }
  ASSIGN_OR_RETURN(f.pipl_sensitive, GetBool(t, entry, "pipl_sensitive"));
  ASSIGN_OR_RETURN(f.required, GetBool(t, entry, "required"));
  ASSIGN_OR_RETURN(f.industries, GetStrings(t, entry, "industries"));
  for (const std::string& industry : f.industries) {
    if (!kIndustries.contains(industry)) {
      return BadEntry(entry, "industries",
                      "must list only finance, ecommerce, consulting, medical");
    }
  }
  ASSIGN_OR_RETURN(const int64_t max_bytes, GetInt(t, entry, "max_bytes"));
  if (max_bytes < 0 || max_bytes > kMaxBytesCeiling) {
    return BadEntry(entry, "max_bytes", "must be between 0 and 16777216");
  }
  f.max_bytes = static_cast<int>(max_bytes);
  ASSIGN_OR_RETURN(f.allowed_values, GetStrings(t, entry, "allowed_values"));
  if (f.rule == "credit_rating") {
    if (f.allowed_values.empty() || f.allowed_values.size() > kAllowedValuesMax) {
      return BadEntry(entry, "allowed_values", "must list 1-64 values for rule credit_rating");
    }
    std::set<std::string> seen;
    for (const std::string& v : f.allowed_values) {
      bool upper_ascii = !v.empty() && v.size() <= kAllowedValueBytesMax;
      for (char c : v) upper_ascii = upper_ascii && c > ' ' && c < 0x7F && !(c >= 'a' && c <= 'z');
      if (!upper_ascii || !seen.insert(v).second) {
        return BadEntry(entry, "allowed_values",
                        "must be distinct upper-case ASCII values of 1-16 bytes");
      }
    }
  } else if (!f.allowed_values.empty()) {
    return BadEntry(entry, "allowed_values", "is only for rule credit_rating");
  }
  ASSIGN_OR_RETURN(const int64_t min_integer, GetInt(t, entry, "min_integer"));
  ASSIGN_OR_RETURN(const int64_t max_integer, GetInt(t, entry, "max_integer"));
  if (f.type != ValueType::kInteger && (t.contains("min_integer") || t.contains("max_integer"))) {
    return BadEntry(entry, t.contains("min_integer") ? "min_integer" : "max_integer",
                    "is only for type integer");
  }
  constexpr int64_t kIntBound = 2'000'000'000;
  if (min_integer < -kIntBound || min_integer > kIntBound) {
    return BadEntry(entry, "min_integer", "must be within +-2000000000");
  }
  if (max_integer < -kIntBound || max_integer > kIntBound ||
      (max_integer != 0 && max_integer < min_integer)) {
    return BadEntry(entry, "max_integer", "must be within +-2000000000 and not below min_integer");
  }
  f.min_integer = static_cast<int>(min_integer);
  f.max_integer = static_cast<int>(max_integer);
  return f;
}

Status ParseCatalogText(std::string_view text, std::string_view source,
                        std::vector<FieldDef>* fields) {
  if (text.empty()) return Status::Ok();
  RETURN_IF_ERROR(CheckTomlInput(text, source));
  toml::value root;
  try {
    std::istringstream in{std::string(text)};
    root = toml::parse(in, std::string(source));
  } catch (const std::exception& e) {
    // toml11 reports syntax errors only by exception; this is the boundary
    // where it becomes a value.
    return InvalidArgument(std::string(source) + " is not valid TOML: " + e.what());
  }
  for (const auto& [name, value] : root.as_table()) {
    if (name != "field") {
      return InvalidArgument(std::string(source) + ": top-level key '" + name +
                             "' is unknown (only [[field]] entries are allowed)");
    }
    if (!value.is_array()) {
      return InvalidArgument(std::string(source) + ": 'field' must be [[field]] entries");
    }
  }
  const auto it = root.as_table().find("field");
  if (it == root.as_table().end()) return Status::Ok();
  const toml::array& entries = it->second.as_array();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (fields->size() >= static_cast<size_t>(Catalog::kFieldsMax)) {
      return InvalidArgument(std::string(source) + ": more than " +
                             std::to_string(Catalog::kFieldsMax) + " fields in the catalog");
    }
    ASSIGN_OR_RETURN(FieldDef field, ParseEntry(entries[i], EntryName{source, i, ""}));
    for (const FieldDef& existing : *fields) {
      if (existing.key == field.key) {
        return BadEntry(EntryName{source, i, field.key}, "key",
                        "duplicates a field already defined");
      }
    }
    fields->push_back(std::move(field));
  }
  return Status::Ok();
}

// Attacker-chosen keys go into error details: only a short, safe spelling.
std::string SafeKeyForError(std::string_view key) {
  std::string out;
  for (char c : key.substr(0, kKeyBytesMax)) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
    out.push_back(safe ? c : '?');
  }
  return out;
}

std::optional<Reason> CheckText(std::string_view value) {
  // Control characters other than tab and line breaks have no place in a
  // customer record and break CSV exports and terminals.
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7F) return "format";
  }
  return std::nullopt;
}

std::optional<Reason> CheckInteger(const FieldDef& field, std::string_view value) {
  value = TrimSpaces(value);
  std::string_view digits = value;
  bool negative = false;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
    negative = digits.front() == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.size() > static_cast<size_t>(kIntegerDigitsMax))
    return "not_integer";
  int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return "not_integer";
    n = n * 10 + (c - '0');
  }
  if (negative) n = -n;
  if (n < field.min_integer || (field.max_integer != 0 && n > field.max_integer)) {
    return "out_of_range";
  }
  return std::nullopt;
}

}  // namespace

std::string_view FieldClassName(FieldClass c) {
  switch (c) {
    case FieldClass::kBasic:
      return "basic";
    case FieldClass::kSensitive:
      return "sensitive";
    case FieldClass::kBusiness:
      return "business";
  }
  return "basic";
}

std::string_view ProtectionName(Protection p) {
  switch (p) {
    case Protection::kAes256Gcm:
      return "aes-256-gcm";
    case Protection::kSm4Gcm:
      return "sm4";
    case Protection::kPlain:
      return "plain";
  }
  return "aes-256-gcm";
}

Result<Catalog> Catalog::Load(std::string_view default_toml, std::string_view extra_toml,
                              const CatalogConfig& config, const LimitsConfig& limits,
                              std::string_view crypto_profile) {
  if (!kIndustries.contains(config.industry)) {
    return InvalidArgument("catalog.industry must be finance, ecommerce, consulting or medical");
  }
  if (config.id_number_mask != "first6_last6" && config.id_number_mask != "first6_last4") {
    return InvalidArgument("catalog.id_number_mask must be first6_last6 or first6_last4");
  }
  if (crypto_profile != "default" && crypto_profile != "gm") {
    return InvalidArgument("crypto.profile must be default or gm");
  }
  if (limits.field_bytes_max <= 0 || limits.binary_field_bytes_max <= 0) {
    return InvalidArgument("limits.field_bytes_max and limits.binary_field_bytes_max must be > 0");
  }
  Catalog catalog;
  RETURN_IF_ERROR(ParseCatalogText(default_toml, "default catalog", &catalog.fields_));
  if (catalog.fields_.empty()) return InvalidArgument("default catalog: no [[field]] entries");
  RETURN_IF_ERROR(ParseCatalogText(extra_toml, "extra fields file", &catalog.fields_));
  if (crypto_profile == "gm") {
    // R-CRY-1a: the gm profile uses no AES at all.
    for (FieldDef& field : catalog.fields_) {
      if (field.protection == Protection::kAes256Gcm) field.protection = Protection::kSm4Gcm;
    }
  }
  for (size_t i = 0; i < catalog.fields_.size(); ++i) catalog.index_[catalog.fields_[i].key] = i;
  catalog.industry_ = config.industry;
  catalog.id_number_mask_ = config.id_number_mask;
  catalog.field_bytes_max_ = limits.field_bytes_max;
  catalog.binary_field_bytes_max_ = limits.binary_field_bytes_max;
  return catalog;
}

const FieldDef* Catalog::Find(std::string_view key) const {
  const auto it = index_.find(key);
  return it == index_.end() ? nullptr : &fields_[it->second];
}

bool Catalog::Collects(const FieldDef& field) const {
  if (field.industries.empty()) return true;
  for (const std::string& industry : field.industries) {
    if (industry == industry_) return true;
  }
  return false;
}

std::optional<Reason> Catalog::CheckField(const FieldDef& field, std::string_view value,
                                          int max_birth_year) const {
  if (field.type == ValueType::kBinary) {
    const int limit = field.max_bytes > 0 ? std::min(field.max_bytes, binary_field_bytes_max_)
                                          : binary_field_bytes_max_;
    // Base64 of `limit` bytes is 4 * ceil(limit / 3) characters: refuse
    // anything longer before decoding it.
    if (value.size() > 4 * ((static_cast<size_t>(limit) + 2) / 3)) return "too_long";
    if (value.empty()) return "empty";
    const Result<std::string> decoded = Base64Decode(value);
    if (!decoded.ok()) return "not_base64";
    if (decoded->empty()) return "empty";
    if (decoded->size() > static_cast<size_t>(limit)) return "too_long";
    return std::nullopt;
  }
  const int limit =
      field.max_bytes > 0 ? std::min(field.max_bytes, field_bytes_max_) : field_bytes_max_;
  if (value.size() > static_cast<size_t>(limit)) return "too_long";
  if (!IsValidUtf8(value)) return "encoding";
  if (TrimSpaces(value).empty()) return "empty";
  const std::string& rule = field.rule;
  if (rule == "person_name") return CheckPersonName(value);
  if (rule == "resident_id") return CheckResidentId(value, max_birth_year);
  if (rule == "phone") return CheckPhone(value);
  if (rule == "mobile") return CheckMobile(value);
  if (rule == "bank_account") return CheckBankAccount(value);
  if (rule == "email") return CheckEmail(value);
  if (rule == "uscc") return CheckUscc(value);
  if (rule == "integer") return CheckInteger(field, value);
  if (rule == "credit_rating") {
    const std::string normalised = Normalise(field, value);
    for (const std::string& allowed : field.allowed_values) {
      if (allowed == normalised) return std::nullopt;
    }
    return "not_in_scale";
  }
  return CheckText(value);  // text, address
}

Result<std::map<std::string, std::string>> Catalog::ValidateRecord(
    const std::map<std::string, std::string>& values, bool is_create) const {
  return ValidateRecord(values, is_create, kBirthYearMaxDefault);
}

Result<std::map<std::string, std::string>> Catalog::ValidateRecord(
    const std::map<std::string, std::string>& values, bool is_create, int max_birth_year) const {
  std::vector<FieldError> errors;
  std::map<std::string, std::string> normalised;
  for (const auto& [key, value] : values) {
    const FieldDef* field = Find(key);
    if (field == nullptr) {
      errors.push_back({SafeKeyForError(key), "unknown_field"});
      continue;
    }
    if (!Collects(*field)) {
      errors.push_back({key, "not_collected_in_industry"});
      continue;
    }
    if (std::optional<Reason> reason = CheckField(*field, value, max_birth_year)) {
      errors.push_back({key, std::move(*reason)});
      continue;
    }
    normalised[key] = Normalise(*field, value);
  }
  if (is_create) {
    for (const FieldDef& field : fields_) {
      if (field.required && Collects(field) && !values.contains(field.key)) {
        errors.push_back({field.key, "required"});
      }
    }
  }
  if (!errors.empty()) {
    const std::string message = std::to_string(errors.size()) +
                                (errors.size() == 1 ? " field is" : " fields are") + " not valid";
    return Status(ErrorCode::kValidationFailed, message, std::move(errors));
  }
  return normalised;
}

std::string Catalog::MaskValue(const FieldDef& field, std::string_view normalised) const {
  return Mask(field.mask, normalised, id_number_mask_);
}

}  // namespace custvault::catalog
