// Masks (R-MASK-2). Every rule works on code points and fails closed: a
// value that does not have the shape the rule expects is shown as "***",
// so malformed or short input never shows more than a valid one would.
#include <algorithm>
#include <array>
#include <string>

#include "catalog/catalog.h"
#include "catalog/utf8.h"

namespace custvault::catalog {
namespace {

constexpr std::string_view kHidden = "***";

bool IsAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }
bool IsAsciiLetter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Compound (two-character) surnames from the Hundred Family Surnames and
// modern usage. A name that starts with one keeps both characters.
constexpr std::u32string_view kCompoundSurnames[] = {
    U"欧阳", U"司马", U"上官", U"诸葛", U"东方", U"皇甫", U"尉迟", U"公孙", U"慕容",
    U"长孙", U"宇文", U"司徒", U"夏侯", U"轩辕", U"令狐", U"钟离", U"独孤", U"南宫",
    U"西门", U"端木", U"百里", U"呼延", U"澹台", U"公冶", U"太史", U"申屠", U"万俟",
    U"闻人", U"赫连", U"东郭", U"淳于", U"单于", U"濮阳", U"太叔", U"仲孙", U"宗政",
    U"公羊", U"亓官", U"司寇", U"子车", U"颛孙", U"壤驷", U"公良", U"漆雕", U"乐正",
    U"宰父", U"谷梁", U"拓跋", U"夹谷", U"段干", U"东门", U"梁丘", U"左丘", U"公西",
    U"第五", U"鲜于", U"闾丘", U"巫马", U"羊舌", U"微生", U"司空",
};

std::string MaskName(std::string_view value) {
  const std::optional<std::u32string> decoded = DecodeUtf8(value);
  if (!decoded || decoded->empty()) return std::string(kHidden);
  const std::u32string& name = *decoded;
  if (IsCjkIdeograph(name[0])) {
    // The surname stays and the given name becomes 某. A one-character
    // "name" would be shown whole, so it is hidden instead.
    if (name.size() < 2) return std::string(kHidden);
    size_t surname = 1;
    if (name.size() >= 3) {
      const std::u32string_view first_two(name.data(), 2);
      for (std::u32string_view compound : kCompoundSurnames) {
        if (first_two == compound) surname = 2;
      }
    }
    return EncodeUtf8(std::u32string_view(name.data(), surname)) + "某";
  }
  if (IsAsciiLetter(name[0])) {
    std::string out(1, static_cast<char>(name[0]));
    return out + std::string(kHidden);
  }
  return std::string(kHidden);
}

std::string MaskIdNumber(std::string_view value, std::string_view style) {
  if (value.size() != 18 || !AllDigits(value.substr(0, 17))) return std::string(kHidden);
  const char check = value[17];
  if (!(check >= '0' && check <= '9') && check != 'X') return std::string(kHidden);
  if (style == "first6_last4") {
    return std::string(value.substr(0, 6)) + "********" + std::string(value.substr(14));
  }
  return std::string(value.substr(0, 6)) + "******" + std::string(value.substr(12));
}

std::string MaskPhone(std::string_view value) {
  if (value.size() == 11 && AllDigits(value) && value[0] == '1') {
    return std::string(value.substr(0, 3)) + "****" + std::string(value.substr(7));
  }
  // Landline in normal form 0AA[A]-NNNNNNN[N][-EXT]: the area code and the
  // last four digits of the number stay; the extension is dropped.
  const size_t dash = value.find('-');
  if (dash == 3 || dash == 4) {
    const std::string_view area = value.substr(0, dash);
    const std::string_view rest = value.substr(dash + 1);
    const std::string_view number = rest.substr(0, rest.find('-'));
    if (area[0] == '0' && AllDigits(area) && AllDigits(number) && number.size() >= 7 &&
        number.size() <= 8) {
      return std::string(area) + "-****" + std::string(number.substr(number.size() - 4));
    }
  }
  return std::string(kHidden);
}

// Characters that end the district/county level of a mainland address.
bool IsCountyMarker(char32_t c) { return c == U'区' || c == U'县' || c == U'旗'; }

// 区 inside these words is not a county-level division: 自治区 and 特别行政区
// are provinces, 地区 a prefecture, the rest are places inside a street.
bool IsFalseDistrict(const std::u32string& a, size_t i) {
  if (a[i] != U'区' || i == 0) return false;
  const char32_t prev = a[i - 1];
  if (prev == U'地' || prev == U'小' || prev == U'社' || prev == U'校' || prev == U'园' ||
      prev == U'厂' || prev == U'景' || prev == U'营' || prev == U'街' || prev == U'城' ||
      prev == U'片' || prev == U'院') {
    return true;
  }
  if (i >= 2 && a[i - 2] == U'自' && prev == U'治') return true;
  if (i >= 2 && a[i - 2] == U'行' && prev == U'政') return true;
  return false;
}

// How many leading code points of an address to show: through the
// district/county, or 0 when no such level is found.
size_t AddressCut(const std::u32string& a) {
  // The administrative part comes first and never contains a digit; a
  // marker after a digit is in a street or building name.
  constexpr size_t kScanMax = 24;
  size_t scan = std::min(a.size(), kScanMax);
  for (size_t i = 0; i < scan; ++i) {
    if (IsAsciiDigit(a[i]) || (a[i] >= U'０' && a[i] <= U'９')) {
      scan = i;
      break;
    }
  }
  for (size_t i = 1; i < scan; ++i) {
    if (IsCountyMarker(a[i]) && !IsFalseDistrict(a, i)) return i + 1;
  }
  // No 区/县/旗: a county-level city (昆山市) after a province prefix
  // (江苏省, 广西壮族自治区), or a prefecture city without districts
  // (广东省东莞市). With two 市 close together the second is the county.
  size_t prefix = 0;
  for (size_t i = 1; i < scan && i < 4; ++i) {
    if (a[i] == U'省') prefix = i + 1;
  }
  for (size_t i = 2; prefix == 0 && i < scan && i < 10; ++i) {
    if (a[i - 2] == U'自' && a[i - 1] == U'治' && a[i] == U'区') prefix = i + 1;
  }
  // A municipality (北京市 ...) is its own prefix.
  if (prefix == 0 && scan >= 3 && a[2] == U'市') return 3;
  if (prefix == 0) return 0;
  for (size_t i = prefix + 1; i < scan; ++i) {
    if (a[i] != U'市') continue;
    for (size_t j = i + 2; j < scan && j <= i + 6; ++j) {
      if (a[j] == U'市') return j + 1;
    }
    return i + 1;
  }
  return 0;
}

std::string MaskAddress(std::string_view value) {
  const std::optional<std::u32string> decoded = DecodeUtf8(value);
  if (!decoded || decoded->size() < 2) return std::string(kHidden);
  const std::u32string& a = *decoded;
  size_t keep = AddressCut(a);
  if (keep == 0) {
    // No administrative marker: show at most 6 characters and at most half
    // of the text, so a short address is never shown whole.
    keep = std::min<size_t>(6, a.size() / 2);
  }
  if (keep == 0) return std::string(kHidden);
  return EncodeUtf8(std::u32string_view(a.data(), keep)) + "****";
}

std::string MaskBankAccount(std::string_view value) {
  if (!AllDigits(value) || value.size() < 12 || value.size() > 19) return std::string(kHidden);
  // One '*' per hidden digit, as bank statements print it.
  return std::string(value.substr(0, 3)) + std::string(value.size() - 7, '*') +
         std::string(value.substr(value.size() - 4));
}

std::string MaskEmail(std::string_view value) {
  const size_t at = value.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= value.size())
    return std::string(kHidden);
  const auto first = static_cast<unsigned char>(value[0]);
  if (first >= 0x80 || first < 0x21) return std::string(kHidden);  // the local part is ASCII
  const std::string_view domain = value.substr(at + 1);
  if (!IsValidUtf8(domain) || domain.find('@') != std::string_view::npos)
    return std::string(kHidden);
  return std::string(1, value[0]) + "***@" + std::string(domain);
}

}  // namespace

std::string Mask(std::string_view rule, std::string_view normalised,
                 std::string_view id_number_mask) {
  if (rule == "none") return std::string(normalised);
  if (rule == "never") return std::string();
  if (rule == "hidden") return std::string(kHidden);
  if (rule == "name") return MaskName(normalised);
  if (rule == "id_number") return MaskIdNumber(normalised, id_number_mask);
  if (rule == "phone") return MaskPhone(normalised);
  if (rule == "address") return MaskAddress(normalised);
  if (rule == "bank_account") return MaskBankAccount(normalised);
  if (rule == "email") return MaskEmail(normalised);
  return std::string(kHidden);  // an unknown rule fails closed
}

}  // namespace custvault::catalog
