// Normalisers: one canonical form per value, so the blind index of
// "138 1234 5678" and "+86 13812345678" is the same and a search finds it.
// They are applied to validated values; on invalid input they still return
// something harmless (never longer than the input plus a dash or two).
#include <string>

#include "catalog/catalog.h"
#include "catalog/utf8.h"

namespace custvault::catalog {
namespace {

std::string DigitsOnly(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= '0' && c <= '9') out.push_back(c);
  }
  return out;
}

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string NormaliseName(std::string_view value) {
  value = TrimSpaces(value);
  const std::optional<std::u32string> decoded = DecodeUtf8(value);
  if (!decoded) return std::string(value);
  std::u32string out;
  bool last_space = false;
  for (char32_t c : *decoded) {
    if (IsSpace(c)) {
      if (!last_space) out.push_back(' ');
      last_space = true;
    } else {
      out.push_back(c);
      last_space = false;
    }
  }
  return EncodeUtf8(out);
}

std::string NormaliseResidentId(std::string_view value) {
  std::string id(TrimSpaces(value));
  if (id.ends_with("\xEF\xBC\xB8") || id.ends_with("\xEF\xBD\x98")) {  // Ｘ ｘ
    id.resize(id.size() - 3);
    id.push_back('X');
  }
  if (!id.empty() && id.back() == 'x') id.back() = 'X';
  return id;
}

std::string NormalisePhone(std::string_view value) {
  value = TrimSpaces(value);
  if (!CheckMobile(value)) {
    const std::string digits = DigitsOnly(value);
    return digits.substr(digits.size() - 11);  // drops +86 / 0086 / 86
  }
  if (!CheckLandline(value)) {
    std::string area, number, extension;
    const size_t dash = value.find('-');
    if (dash == std::string_view::npos) {
      const size_t area_size = (value.starts_with("010") || value.starts_with("02")) ? 3 : 4;
      area = value.substr(0, area_size);
      number = value.substr(area_size);
    } else {
      area = value.substr(0, dash);
      const std::string_view rest = value.substr(dash + 1);
      const size_t dash2 = rest.find('-');
      number = rest.substr(0, dash2);
      if (dash2 != std::string_view::npos) extension = rest.substr(dash2 + 1);
    }
    std::string out = area + "-" + number;
    if (!extension.empty()) out += "-" + extension;
    return out;
  }
  std::string out;
  for (char c : value) {
    if (c != ' ') out.push_back(c);
  }
  return out;
}

std::string NormaliseInteger(std::string_view value) {
  value = TrimSpaces(value);
  bool negative = false;
  if (!value.empty() && (value.front() == '+' || value.front() == '-')) {
    negative = value.front() == '-';
    value.remove_prefix(1);
  }
  for (char c : value) {
    if (c < '0' || c > '9') return std::string(value);  // not an integer: left for the validator
  }
  const size_t first = value.find_first_not_of('0');
  if (first == std::string_view::npos) return value.empty() ? std::string() : "0";
  return (negative ? "-" : "") + std::string(value.substr(first));
}

}  // namespace

std::string Normalise(const FieldDef& field, std::string_view value) {
  const std::string& rule = field.rule;
  if (rule == "person_name") return NormaliseName(value);
  if (rule == "resident_id") return NormaliseResidentId(value);
  if (rule == "phone" || rule == "mobile") return NormalisePhone(value);
  if (rule == "bank_account") {
    std::string out;
    for (char c : TrimSpaces(value)) {
      if (c != ' ' && c != '-') out.push_back(c);
    }
    return out;
  }
  if (rule == "uscc" || rule == "credit_rating") return AsciiUpper(TrimSpaces(value));
  // Mailbox names are case-insensitive at every provider a customer is
  // likely to use, and search must find "Zhang@Example.com" as typed.
  if (rule == "email") return AsciiLower(TrimSpaces(value));
  if (rule == "integer") return NormaliseInteger(value);
  if (rule == "binary") return std::string(value);  // base64 is strict: no trimming
  return std::string(TrimSpaces(value));            // text, address
}

}  // namespace custvault::catalog
