// The field catalog (R-CAT-1): every customer field is data, not code.
//
// The default catalog is data/catalog.toml, compiled into the binary; a
// deployment adds fields with catalog.extra_fields_file. Everything here is
// pure: no I/O, no clock. Thread safety: a loaded Catalog is immutable and
// may be shared by all threads.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace custvault::catalog {

enum class FieldClass { kBasic, kSensitive, kBusiness };
enum class Protection { kAes256Gcm, kSm4Gcm, kPlain };
// How a value travels in JSON: text as a string, integer as a number,
// binary as base64 text (kept as base64 text inside the service too).
enum class ValueType { kText, kInteger, kBinary };

std::string_view FieldClassName(FieldClass c);  // "basic" | "sensitive" | "business"
std::string_view ProtectionName(Protection p);  // "aes-256-gcm" | "sm4" | "plain"

struct FieldDef {
  std::string key;       // e.g. "id_number"; [a-z][a-z0-9_]{0,47}
  std::string label_zh;  // 身份证号
  std::string label_en;  // ID number
  FieldClass field_class = FieldClass::kBasic;
  ValueType type = ValueType::kText;
  // Validation rule: person_name | resident_id | phone | mobile | address |
  // bank_account | email | uscc | credit_rating | text | integer | binary.
  std::string rule;
  Protection protection = Protection::kAes256Gcm;  // after the crypto profile
  // Mask rule: name | id_number | phone | address | bank_account | email |
  // hidden ("***") | never (absent unless revealed) | none (shown as is).
  std::string mask;
  bool searchable = false;                  // exact search through a blind index
  bool pipl_sensitive = false;              // PIPL art. 28 sensitive personal information
  bool required = false;                    // must be present on create
  std::vector<std::string> industries;      // empty: every industry may collect it
  std::vector<std::string> allowed_values;  // for rule credit_rating
  int max_bytes = 0;                        // 0: limits.field_bytes_max
  int min_integer = 0, max_integer = 0;     // for type integer (max 0: no bound)
};

// Why one field failed, as FieldError::reason values: "required", "unknown_field",
// "not_collected_in_industry", "too_long", "empty", "format", "checksum",
// "birth_date", "region", "luhn", "length", "not_in_scale", "not_integer",
// "out_of_range", "not_base64", "encoding" (not UTF-8).
using Reason = std::string;

class Catalog {
 public:
  // Parses the default catalog TOML, then the extra fields TOML (may be
  // empty), applies the profile ("gm": every encrypted field SM4) and the
  // id_number mask setting. Errors name the entry and key that are wrong.
  static Result<Catalog> Load(std::string_view default_toml, std::string_view extra_toml,
                              const CatalogConfig& config, const LimitsConfig& limits,
                              std::string_view crypto_profile);

  // The built-in data/catalog.toml text.
  static std::string_view DefaultToml();

  const std::vector<FieldDef>& fields() const { return fields_; }
  const FieldDef* Find(std::string_view key) const;
  const std::string& industry() const { return industry_; }
  // "first6_last6" (the seed's default) or "first6_last4" (R-CAT-2a).
  const std::string& id_number_mask() const { return id_number_mask_; }

  // True if this deployment's industry may collect the field (R-CAT-3).
  bool Collects(const FieldDef& field) const;

  // Checks every given field (and, if is_create, that required ones are
  // present) and returns the normalised values, or kValidationFailed with
  // one FieldError per failing field: all errors at once (R-CAT-4).
  // Messages never contain the values.
  Result<std::map<std::string, std::string>> ValidateRecord(
      const std::map<std::string, std::string>& values, bool is_create) const;
  // The same, with the latest acceptable birth year of a resident ID (the
  // service passes the current year from its Env clock; the overload above
  // uses kBirthYearMaxDefault because the catalog has no clock).
  Result<std::map<std::string, std::string>> ValidateRecord(
      const std::map<std::string, std::string>& values, bool is_create, int max_birth_year) const;

  // One value against its field: size limit, UTF-8, then the field's rule.
  // std::nullopt when valid. For search terms and imports.
  std::optional<Reason> CheckField(const FieldDef& field, std::string_view value,
                                   int max_birth_year = kBirthYearMaxDefault) const;

  // The field's mask applied to a normalised value, with this deployment's
  // id_number mask setting.
  std::string MaskValue(const FieldDef& field, std::string_view normalised) const;

  static constexpr int kBirthYearMaxDefault = 2100;
  static constexpr int kFieldsMax = 200;  // default + extra fields together

 private:
  std::vector<FieldDef> fields_;
  std::map<std::string, size_t, std::less<>> index_;
  std::string industry_;
  std::string id_number_mask_ = "first6_last6";
  int field_bytes_max_ = 4096;
  int binary_field_bytes_max_ = 65536;
};

// ---- Validators (pure; value given as received, before normalising) ----
// Each returns std::nullopt when valid, or the reason it is not.

// GB 11643-1999: 18 characters, 17 digits + check character (ISO 7064
// MOD 11-2), a real birth date between 1800-01-01 (the standard's own
// example was born in 1880) and the end of max_birth_year, a province code
// that exists (docs/catalog.md lists them). Accepts a lower-case x or a
// full-width Ｘ/ｘ as the check character.
std::optional<Reason> CheckResidentId(std::string_view value, int max_birth_year = 2100);
// Mainland mobile: 11 digits, 1[3-9]xxxxxxxxx; "+86"/"86" prefix and spaces
// or dashes allowed in input.
std::optional<Reason> CheckMobile(std::string_view value);
// Landline with area code: 0 + 2-3 digit area code + 7-8 digit number,
// optional "-" after the area code and "-ext" extension of 1-6 digits.
std::optional<Reason> CheckLandline(std::string_view value);
// Mobile or landline.
std::optional<Reason> CheckPhone(std::string_view value);
bool LuhnValid(std::string_view digits);
// 12-19 digits; Luhn required for 16-19 digit card numbers (account numbers
// of 12-15 digits are not cards and carry no Luhn digit).
std::optional<Reason> CheckBankAccount(std::string_view value);
// GB 32100-2015 unified social credit code, 18 characters with check.
std::optional<Reason> CheckUscc(std::string_view value);
std::optional<Reason> CheckEmail(std::string_view value);
// Chinese name (2-20 CJK chars, optional middle dot ·) or an English name
// (letters, spaces, hyphens, apostrophes, periods; 1-100 chars).
std::optional<Reason> CheckPersonName(std::string_view value);

// ---- Normalisers: the canonical form stored and blind-indexed ----
// resident_id: upper-case ASCII X. phone: digits only without +86 (landline
// keeps "0AAA-NNNNNNN[-EXT]"). bank_account: digits only. name: trimmed,
// inner runs of spaces collapsed, full-width space to ASCII.
std::string Normalise(const FieldDef& field, std::string_view value);

// ---- Masks (R-MASK-2), applied to normalised values ----
// name: 张三→张某, 欧阳娜娜→欧阳某 (compound surnames from a fixed list),
// "Alice Smith"→"A***". id_number: first6_last6 110105******31002X or
// first6_last4. phone: 138****5678; landline 010-****5678. address: kept up
// to the district/county (区/县/旗/市辖区) then "****". bank_account: first 3
// + one '*' per hidden digit + last 4. email: first char + *** + @domain. hidden: "***".
// Malformed or short input never leaks more than the rule would: too short
// to mask gives "***".
std::string Mask(std::string_view rule, std::string_view normalised,
                 std::string_view id_number_mask = "first6_last6");

}  // namespace custvault::catalog
