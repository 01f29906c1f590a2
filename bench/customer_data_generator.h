// CustomerDataGenerator: plausible, VALID customer records for benchmarks.
//
// Every value passes the catalog's validators: resident ID numbers carry a
// real region code, a real birth date and the GB 11643 (ISO 7064 MOD 11-2)
// check character; mobiles are 1[3-9] + 9 digits; bank cards are 19 digits
// with a real issuer prefix and a Luhn check digit; names come from common
// surnames and given-name characters; addresses name a real district.
// Everything is synthetic: no real person's data.
//
// Deterministic for a given seed. Not thread safe (one per thread).
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>

namespace custvault::bench {

class CustomerDataGenerator {
 public:
  explicit CustomerDataGenerator(uint64_t seed) : random_(seed) {}

  // name, id_number, phone, address, bank_account, email.
  std::map<std::string, std::string> NextCustomer();

  std::string ChineseName();
  // 18 characters; born between 1950-01-01 and 2005-12-31.
  std::string ResidentId(std::string_view region_code);
  std::string Mobile();
  std::string BankCard();
  std::string Email();

  // ISO 7064 MOD 11-2 check character of the first 17 digits (GB 11643).
  static char ResidentIdCheckCharacter(std::string_view first17);
  // The digit that makes `partial` + digit Luhn-valid.
  static char LuhnCheckDigit(std::string_view partial);

 private:
  int Uniform(int low, int high);  // inclusive
  std::string Digits(int count);

  std::mt19937_64 random_;
};

}  // namespace custvault::bench
