// Validators for the identifier rules of the catalog. Each takes the value
// as received (surrounding spaces allowed, since the normaliser trims them)
// and returns the first reason it is not valid, checked from the outside in:
// encoding, length, characters, then the structure (region, date), then the
// check character last.
#include <array>
#include <cstdint>
#include <string>

#include "catalog/catalog.h"
#include "catalog/utf8.h"

namespace custvault::catalog {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return !s.empty();
}
int DigitsToInt(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// Longest input any identifier validator looks at; longer is "length" at
// once, so no validator walks a megabyte of junk.
constexpr size_t kIdentifierInputBytesMax = 64;

// The first two digits of a resident ID: the province-level division of
// GB/T 2260 where the number was issued, plus 71 (Taiwan), 81 (Hong Kong),
// 82 (Macao), 83 (residence permits for Taiwan residents) and 91 (permanent
// residence of foreigners, 2023 edition).
bool IsProvinceCode(int code) {
  if (code >= 11 && code <= 15) return true;
  if (code >= 21 && code <= 23) return true;
  if (code >= 31 && code <= 37) return true;
  if (code >= 41 && code <= 46) return true;
  if (code >= 50 && code <= 54) return true;
  if (code >= 61 && code <= 65) return true;
  return code == 71 || code == 81 || code == 82 || code == 83 || code == 91;
}

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeapYear(year)) return 29;
  return kDays[month - 1];
}

// GB 11643 does not bound the birth year from below; its own example
// 440524188001010014 was born in 1880. Before 1800 is certainly a typo.
constexpr int kBirthYearMin = 1800;

// Removes the separators people type inside phone and account numbers.
std::string StripSeparators(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c != ' ' && c != '-') out.push_back(c);
  }
  return out;
}

constexpr std::string_view kUsccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";

int UsccValue(char c) {
  const size_t pos = kUsccAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

}  // namespace

std::optional<Reason> CheckResidentId(std::string_view value, int max_birth_year) {
  value = TrimSpaces(value);
  if (value.size() > kIdentifierInputBytesMax) return "length";
  if (!IsValidUtf8(value)) return "encoding";
  std::string id(value);
  // Full-width Ｘ (EF BC B8) and ｘ (EF BD 98) are what Chinese input
  // methods type; they mean the check character X.
  if (id.ends_with("\xEF\xBC\xB8") || id.ends_with("\xEF\xBD\x98")) {
    id.resize(id.size() - 3);
    id.push_back('X');
  }
  if (id.size() != 18) return "length";
  const std::string_view body = std::string_view(id).substr(0, 17);
  char check = id[17];
  if (check == 'x') check = 'X';
  if (!AllDigits(body) || !(IsDigit(check) || check == 'X')) return "format";
  if (!IsProvinceCode(DigitsToInt(body.substr(0, 2)))) return "region";
  const int year = DigitsToInt(body.substr(6, 4));
  const int month = DigitsToInt(body.substr(10, 2));
  const int day = DigitsToInt(body.substr(12, 2));
  if (year < kBirthYearMin || year > max_birth_year || month < 1 || month > 12 || day < 1 ||
      day > DaysInMonth(year, month)) {
    return "birth_date";
  }
  // ISO 7064 MOD 11-2: weight of position i (from the left, 0-based) is
  // 2^(17-i) mod 11; the check value makes the weighted sum 1 mod 11.
  static constexpr std::array<int, 17> kWeights = {7, 9, 10, 5,  8, 4, 2, 1, 6,
                                                   3, 7, 9,  10, 5, 8, 4, 2};
  static constexpr std::string_view kCheckChars = "10X98765432";
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) sum += (body[i] - '0') * kWeights[i];
  if (kCheckChars[sum % 11] != check) return "checksum";
  return std::nullopt;
}

std::optional<Reason> CheckMobile(std::string_view value) {
  value = TrimSpaces(value);
  if (value.size() > kIdentifierInputBytesMax) return "length";
  if (!IsValidUtf8(value)) return "encoding";
  std::string digits = StripSeparators(value);
  if (digits.starts_with("+86")) {
    digits.erase(0, 3);
  } else if (digits.starts_with("0086")) {
    digits.erase(0, 4);
  } else if (digits.size() == 13 && digits.starts_with("86")) {
    digits.erase(0, 2);
  }
  if (!AllDigits(digits)) return "format";
  if (digits.size() != 11) return "length";
  if (digits[0] != '1' || digits[1] < '3') return "format";
  return std::nullopt;
}

std::optional<Reason> CheckLandline(std::string_view value) {
  value = TrimSpaces(value);
  if (value.size() > kIdentifierInputBytesMax) return "length";
  if (!IsValidUtf8(value)) return "encoding";
  std::string_view area, number, extension;
  const size_t dash = value.find('-');
  if (dash != std::string_view::npos) {
    area = value.substr(0, dash);
    std::string_view rest = value.substr(dash + 1);
    const size_t dash2 = rest.find('-');
    number = rest.substr(0, dash2);
    if (dash2 != std::string_view::npos) {
      extension = rest.substr(dash2 + 1);
      if (!AllDigits(extension)) return "format";
      if (extension.size() > 6) return "length";
    }
  } else {
    // No separator: 010 and 02x are the two-digit area codes (Beijing and
    // the 020-029 cities); every other area code has three digits.
    if (!AllDigits(value)) return "format";
    const size_t area_size = (value.starts_with("010") || value.starts_with("02")) ? 3 : 4;
    if (value.size() <= area_size) return "length";
    area = value.substr(0, area_size);
    number = value.substr(area_size);
  }
  if (!AllDigits(area) || !AllDigits(number)) return "format";
  if (area.size() < 3 || area.size() > 4 || number.size() < 7 || number.size() > 8) {
    return "length";
  }
  // Area codes start with 0 and never 00 (the international prefix); a
  // local number never starts with 0 (the trunk prefix).
  if (area[0] != '0' || area[1] == '0' || number[0] == '0') return "format";
  return std::nullopt;
}

std::optional<Reason> CheckPhone(std::string_view value) {
  const std::string_view trimmed = TrimSpaces(value);
  if (trimmed.starts_with("0") && !trimmed.starts_with("0086")) return CheckLandline(trimmed);
  return CheckMobile(trimmed);
}

bool LuhnValid(std::string_view digits) {
  if (!AllDigits(digits)) return false;
  int sum = 0;
  bool double_it = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (double_it) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double_it = !double_it;
  }
  return sum % 10 == 0;
}

std::optional<Reason> CheckBankAccount(std::string_view value) {
  value = TrimSpaces(value);
  if (value.size() > kIdentifierInputBytesMax) return "length";
  if (!IsValidUtf8(value)) return "encoding";
  const std::string digits = StripSeparators(value);
  if (!AllDigits(digits)) return "format";
  if (digits.size() < 12 || digits.size() > 19) return "length";
  // An all-zero number passes Luhn arithmetically but is no account.
  if (digits.find_first_not_of('0') == std::string::npos) return "format";
  if (digits.size() >= 16 && !LuhnValid(digits)) return "luhn";
  return std::nullopt;
}

std::optional<Reason> CheckUscc(std::string_view value) {
  value = TrimSpaces(value);
  if (value.size() > kIdentifierInputBytesMax) return "length";
  if (!IsValidUtf8(value)) return "encoding";
  if (value.size() != 18) return "length";
  std::array<int, 18> values{};
  for (size_t i = 0; i < 18; ++i) {
    char c = value[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    values[i] = UsccValue(c);
    if (values[i] < 0) return "format";
  }
  // Positions 3-8 are the administrative division code (GB/T 2260): digits.
  for (size_t i = 2; i < 8; ++i) {
    if (values[i] > 9) return "format";
  }
  // GB 32100-2015: weight of position i is 3^i mod 31; the check value is
  // 31 - (sum mod 31), with 31 written as 0.
  int sum = 0;
  int weight = 1;
  for (size_t i = 0; i < 17; ++i) {
    sum += values[i] * weight;
    weight = weight * 3 % 31;
  }
  const int check = (31 - sum % 31) % 31;
  if (values[17] != check) return "checksum";
  return std::nullopt;
}

std::optional<Reason> CheckEmail(std::string_view value) {
  value = TrimSpaces(value);
  if (value.size() > 254) return "length";
  if (!IsValidUtf8(value)) return "encoding";
  const size_t at = value.find('@');
  if (at == std::string_view::npos || value.find('@', at + 1) != std::string_view::npos) {
    return "format";
  }
  const std::string_view local = value.substr(0, at);
  const std::string_view domain = value.substr(at + 1);
  if (local.empty() || local.size() > 64 || domain.empty()) return "format";
  // Local part: RFC 5322 dot-atom in ASCII (no quoted strings).
  static constexpr std::string_view kLocalSpecials = "!#$%&'*+/=?^_`{|}~-.";
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return "format";
  }
  for (char c : local) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c);
    if (!alnum && kLocalSpecials.find(c) == std::string_view::npos) return "format";
  }
  // Domain: at least two labels of letters, digits, hyphens or non-ASCII
  // characters (internationalised names), 1-63 bytes each; the last label
  // is not all digits.
  size_t start = 0;
  int labels = 0;
  std::string_view last;
  while (start <= domain.size()) {
    size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const std::string_view label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return "format";
    }
    for (char c : label) {
      const auto u = static_cast<unsigned char>(c);
      const bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' || u >= 0x80;
      if (!ok) return "format";
    }
    ++labels;
    last = label;
    start = end + 1;
  }
  if (labels < 2 || last.size() < 2 || AllDigits(last)) return "format";
  return std::nullopt;
}

std::optional<Reason> CheckPersonName(std::string_view value) {
  value = TrimSpaces(value);
  if (value.size() > 400) return "length";
  const std::optional<std::u32string> decoded = DecodeUtf8(value);
  if (!decoded) return "encoding";
  const std::u32string& name = *decoded;
  if (name.empty()) return "empty";
  constexpr char32_t kMiddleDot = 0x00B7;
  if (IsCjkIdeograph(name.front())) {
    // Chinese: ideographs, a middle dot between the parts of a transcribed
    // name (阿卜杜拉·买买提), nothing else.
    size_t ideographs = 0;
    for (size_t i = 0; i < name.size(); ++i) {
      const char32_t c = name[i];
      if (IsCjkIdeograph(c)) {
        ++ideographs;
      } else if (c == kMiddleDot) {
        if (i + 1 == name.size() || name[i + 1] == kMiddleDot) return "format";
      } else {
        return "format";
      }
    }
    if (ideographs < 2 || name.size() > 20) return "length";
    return std::nullopt;
  }
  // English (as in a passport): letters, then letters, spaces, hyphens,
  // apostrophes and periods.
  if (name.size() > 100) return "length";
  const auto is_letter = [](char32_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  if (!is_letter(name.front())) return "format";
  for (char32_t c : name) {
    if (!is_letter(c) && !IsSpace(c) && c != '-' && c != '\'' && c != '.') return "format";
    if (c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return "format";
  }
  return std::nullopt;
}

}  // namespace custvault::catalog
