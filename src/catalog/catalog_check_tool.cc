// catalog_check_tool: runs the catalog validators over lines of stdin, for
// the differential test against independent implementations
// (tests/differential/identifiers_differential.mjs).
//
// Input:  one "kind<TAB>value" per line. kind: resident_id | mobile |
//         landline | phone | luhn | bank_account | uscc | email | person_name.
// Output: one line per input line: "ok" or the reason it is not valid
//         ("unknown_kind" for a kind this tool does not know).
// Usage:  catalog_check_tool [max_birth_year]   (default 2100)
#include <cstdlib>
#include <iostream>
#include <string>

#include "catalog/catalog.h"

namespace {

constexpr size_t kLineBytesMax = 4096;

std::string Check(std::string_view kind, std::string_view value, int max_birth_year) {
  using namespace custvault::catalog;
  std::optional<Reason> reason;
  if (kind == "resident_id") {
    reason = CheckResidentId(value, max_birth_year);
  } else if (kind == "mobile") {
    reason = CheckMobile(value);
  } else if (kind == "landline") {
    reason = CheckLandline(value);
  } else if (kind == "phone") {
    reason = CheckPhone(value);
  } else if (kind == "luhn") {
    if (!LuhnValid(value)) reason = "luhn";
  } else if (kind == "bank_account") {
    reason = CheckBankAccount(value);
  } else if (kind == "uscc") {
    reason = CheckUscc(value);
  } else if (kind == "email") {
    reason = CheckEmail(value);
  } else if (kind == "person_name") {
    reason = CheckPersonName(value);
  } else {
    reason = "unknown_kind";
  }
  return reason ? *reason : "ok";
}

}  // namespace

int main(int argc, char** argv) {
  int max_birth_year = custvault::catalog::Catalog::kBirthYearMaxDefault;
  if (argc > 1) {
    char* end = nullptr;
    const long year = std::strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || year < 1800 || year > 9999) {
      std::cerr << "usage: catalog_check_tool [max_birth_year]\n";
      return 2;
    }
    max_birth_year = static_cast<int>(year);
  }
  std::ios::sync_with_stdio(false);
  std::string line;
  std::string out;
  while (std::getline(std::cin, line)) {
    if (line.size() > kLineBytesMax) {
      out += "too_long\n";
      continue;
    }
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      out += "no_tab\n";
      continue;
    }
    out += Check(std::string_view(line).substr(0, tab), std::string_view(line).substr(tab + 1),
                 max_birth_year);
    out += '\n';
  }
  std::cout << out;
  return 0;
}
