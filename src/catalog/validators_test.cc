// Validators of the identifier rules (R-CAT-2), checked against the
// standards' vectors in tests/data/identifiers.tsv and hand-made cases.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "catalog/catalog.h"

namespace custvault::catalog {
namespace {

struct VectorRow {
  std::string kind, value, note;
  bool valid = false;
  int line = 0;
};

std::vector<VectorRow> ReadIdentifierVectors() {
  std::ifstream in(std::string(CUSTVAULT_TEST_DATA_DIR) + "/identifiers.tsv");
  std::vector<VectorRow> rows;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#' || line.starts_with("kind\t")) continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    if (cols.size() < 3) {
      ADD_FAILURE() << "identifiers.tsv line " << number << " has fewer than 3 columns";
      continue;
    }
    rows.push_back({cols[0], cols[1], cols.size() > 3 ? cols[3] : "", cols[2] == "true", number});
  }
  return rows;
}

// An independent ISO 7064 MOD 11-2 computation (check = (12 - S mod 11)
// mod 11 over weights 2^(17-i) mod 11), used to build test numbers.
std::string WithCheckCharacter(const std::string& body17) {
  int sum = 0;
  int weight = 1;
  for (int i = 16; i >= 0; --i) {
    weight = weight * 2 % 11;
    sum += (body17[i] - '0') * weight;
  }
  const int check = (12 - sum % 11) % 11;
  return body17 + (check == 10 ? std::string("X") : std::to_string(check));
}

TEST(IdentifierVectorsTest, EveryRowOfTheStandardsVectorsGivesItsListedResult) {
  const std::vector<VectorRow> rows = ReadIdentifierVectors();
  ASSERT_GE(rows.size(), 14u) << "tests/data/identifiers.tsv missing or truncated";
  int resident = 0, uscc = 0, card = 0;
  for (const VectorRow& row : rows) {
    SCOPED_TRACE("identifiers.tsv line " + std::to_string(row.line) + ": " + row.note);
    if (row.kind == "resident_id") {
      EXPECT_EQ(!CheckResidentId(row.value).has_value(), row.valid) << row.value;
      ++resident;
    } else if (row.kind == "uscc") {
      EXPECT_EQ(!CheckUscc(row.value).has_value(), row.valid) << row.value;
      ++uscc;
    } else if (row.kind == "bank_card") {
      // The column says whether the number passes Luhn (79927398713 does,
      // though at 11 digits it is too short to be an account).
      EXPECT_EQ(LuhnValid(row.value), row.valid) << row.value;
      ++card;
    } else {
      ADD_FAILURE() << "unknown kind " << row.kind;
    }
  }
  EXPECT_EQ(resident, 6);
  EXPECT_EQ(uscc, 4);
  EXPECT_EQ(card, 4);
}

TEST(IdentifierVectorsTest, VectorReasonsNameTheBrokenPart) {
  EXPECT_EQ(CheckResidentId("110105194912310021"), "checksum");
  EXPECT_EQ(CheckResidentId("11010519491331002X"), "birth_date");
  EXPECT_EQ(CheckResidentId("1101051949123100"), "length");
  EXPECT_EQ(CheckUscc("91330000MA27U0F76R"), "checksum");
  EXPECT_EQ(CheckBankAccount("6222021234567890123"), "luhn");
  EXPECT_EQ(CheckBankAccount("79927398713"), "length");
}

TEST(ResidentIdTest, LowerCaseAndFullWidthCheckCharacterAreAccepted) {
  EXPECT_EQ(CheckResidentId("11010519491231002x"), std::nullopt);
  EXPECT_EQ(CheckResidentId("11010519491231002\xEF\xBC\xB8"), std::nullopt);  // Ｘ
  EXPECT_EQ(CheckResidentId("11010519491231002\xEF\xBD\x98"), std::nullopt);  // ｘ
  EXPECT_EQ(CheckResidentId("  11010519491231002X "), std::nullopt);
}

TEST(ResidentIdTest, February29IsValidOnlyInLeapYears) {
  EXPECT_EQ(CheckResidentId(WithCheckCharacter("11010520000229123")), std::nullopt);
  EXPECT_EQ(CheckResidentId(WithCheckCharacter("11010519960229123")), std::nullopt);
  EXPECT_EQ(CheckResidentId(WithCheckCharacter("11010519000229123")), "birth_date");  // 1900
  EXPECT_EQ(CheckResidentId(WithCheckCharacter("11010520010229123")), "birth_date");
  EXPECT_EQ(CheckResidentId(WithCheckCharacter("11010520010230123")), "birth_date");
  EXPECT_EQ(CheckResidentId(WithCheckCharacter("11010520010431123")), "birth_date");
  EXPECT_EQ(CheckResidentId(WithCheckCharacter("11010520010100123")), "birth_date");
  EXPECT_EQ(CheckResidentId(WithCheckCharacter("11010520010001123")), "birth_date");
}

TEST(ResidentIdTest, BirthYearMustLieBetween1800AndTheGivenBound) {
  EXPECT_EQ(CheckResidentId(WithCheckCharacter("11010517991231123")), "birth_date");
  EXPECT_EQ(CheckResidentId(WithCheckCharacter("11010518000101123")), std::nullopt);
  const std::string born_2027 = WithCheckCharacter("11010520270101123");
  EXPECT_EQ(CheckResidentId(born_2027, 2026), "birth_date");
  EXPECT_EQ(CheckResidentId(born_2027, 2027), std::nullopt);
}

TEST(ResidentIdTest, ProvinceCodeMustExist) {
  for (const char* code : {"11", "15", "21", "23", "31", "37", "41", "46", "50", "54", "61", "65",
                           "71", "81", "82", "83", "91"}) {
    EXPECT_EQ(CheckResidentId(WithCheckCharacter(std::string(code) + "010519491231002")),
              std::nullopt)
        << code;
  }
  for (const char* code : {"00", "10", "16", "20", "24", "30", "38", "40", "47", "55", "60", "66",
                           "70", "72", "80", "84", "90", "92", "99"}) {
    EXPECT_EQ(CheckResidentId(WithCheckCharacter(std::string(code) + "010519491231002")), "region")
        << code;
  }
}

TEST(ResidentIdTest, WrongShapesAreRefusedWithTheirReason) {
  EXPECT_EQ(CheckResidentId(""), "length");
  EXPECT_EQ(CheckResidentId("11010519491231002XX"), "length");
  EXPECT_EQ(CheckResidentId("110105194912310"), "length");  // first-generation 15 digits
  EXPECT_EQ(CheckResidentId("1101051949123100AX"), "format");
  EXPECT_EQ(CheckResidentId("11010519491231002Y"), "format");
  EXPECT_EQ(CheckResidentId("X10105194912310021"), "format");
  EXPECT_EQ(CheckResidentId("11010519491231002\xEF\xBC"), "encoding");
}

TEST(MobileTest, MainlandMobilesWithOptionalCountryCodeAndSeparators) {
  for (const char* ok : {"13812345678", "19912345678", "+8613812345678", "+86 138 1234 5678",
                         "008613812345678", "8613812345678", "138-1234-5678"}) {
    EXPECT_EQ(CheckMobile(ok), std::nullopt) << ok;
  }
  EXPECT_EQ(CheckMobile("12812345678"), "format");
  EXPECT_EQ(CheckMobile("10812345678"), "format");
  EXPECT_EQ(CheckMobile("23812345678"), "format");
  EXPECT_EQ(CheckMobile("1381234567"), "length");
  EXPECT_EQ(CheckMobile("138123456789"), "length");
  EXPECT_EQ(CheckMobile("+1 4155550100"), "format");
  EXPECT_EQ(CheckMobile("1381234567a"), "format");
}

TEST(LandlineTest, AreaCodeIsRequiredAndNumberHasSevenOrEightDigits) {
  for (const char* ok : {"010-12345678", "021-62345678", "0571-8888888", "0571-88888888",
                         "01062345678", "057188888888", "0755-82345678-123"}) {
    EXPECT_EQ(CheckLandline(ok), std::nullopt) << ok;
  }
  EXPECT_EQ(CheckLandline("62345678"), "length");      // no area code
  EXPECT_EQ(CheckLandline("001-62345678"), "format");  // 00 is the international prefix
  EXPECT_EQ(CheckLandline("010-02345678"), "format");
  EXPECT_EQ(CheckLandline("010-123456"), "length");
  EXPECT_EQ(CheckLandline("010-123456789"), "length");
  EXPECT_EQ(CheckLandline("010-62345678-1234567"), "length");
  EXPECT_EQ(CheckLandline("010-6234a678"), "format");
}

TEST(PhoneTest, AcceptsMobileOrLandline) {
  EXPECT_EQ(CheckPhone("13812345678"), std::nullopt);
  EXPECT_EQ(CheckPhone("010-62345678"), std::nullopt);
  EXPECT_EQ(CheckPhone("+86 138 1234 5678"), std::nullopt);
  EXPECT_NE(CheckPhone("12345"), std::nullopt);
  EXPECT_NE(CheckPhone("0"), std::nullopt);
}

TEST(LuhnTest, ComputesTheLuhnCheck) {
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_TRUE(LuhnValid("79927398713"));
  EXPECT_TRUE(LuhnValid("0"));
  EXPECT_FALSE(LuhnValid("79927398710"));
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_FALSE(LuhnValid("4111 1111 1111 1111"));  // digits only; the normaliser strips spaces
}

TEST(BankAccountTest, LuhnIsRequiredOnlyForCardLengths) {
  EXPECT_EQ(CheckBankAccount("123456789012"), std::nullopt);     // 12: account, no Luhn
  EXPECT_EQ(CheckBankAccount("123456789012345"), std::nullopt);  // 15
  EXPECT_EQ(CheckBankAccount("4111111111111111"), std::nullopt);
  EXPECT_EQ(CheckBankAccount("4111 1111 1111 1111"), std::nullopt);
  EXPECT_EQ(CheckBankAccount("4111111111111112"), "luhn");
  EXPECT_EQ(CheckBankAccount("12345678901"), "length");
  EXPECT_EQ(CheckBankAccount("12345678901234567890"), "length");
  EXPECT_EQ(CheckBankAccount("4111-1111-1111-111a"), "format");
  EXPECT_EQ(CheckBankAccount("0000000000000000"), "format");
}

TEST(UsccTest, CheckCharacterAndAlphabetOfGb32100) {
  EXPECT_EQ(CheckUscc("91350100m000100y43"), std::nullopt);  // lower case is the same code
  EXPECT_EQ(CheckUscc("91350100M000100Y4"), "length");
  EXPECT_EQ(CheckUscc("91350100M000100I43"), "format");  // I is not in the alphabet
  EXPECT_EQ(CheckUscc("913501O0M000100Y43"), "format");  // O neither
  EXPECT_EQ(CheckUscc("9135A100M000100Y43"), "format");  // division code must be digits
  EXPECT_EQ(CheckUscc("91350100M000100Y44"), "checksum");
}

TEST(EmailTest, SaneAddressesOnly) {
  for (const char* ok : {"zhang.san@example.com", "a+tag@mail.example.cn", "x@例子.中国"}) {
    EXPECT_EQ(CheckEmail(ok), std::nullopt) << ok;
  }
  for (const char* bad :
       {"zhang", "@example.com", "zhang@", "a@@b.com", "a@b", "a@b.1", ".a@b.com", "a..b@b.com",
        "a@-b.com", "a@b..com", "张三@example.com", "a b@example.com"}) {
    EXPECT_EQ(CheckEmail(bad), "format") << bad;
  }
  EXPECT_EQ(CheckEmail(std::string(65, 'a') + "@example.com"), "format");
  EXPECT_EQ(CheckEmail("a@" + std::string(260, 'b') + ".com"), "length");
}

TEST(PersonNameTest, ChineseOrEnglishNamesAsOnTheId) {
  for (const char* ok : {"张三", "欧阳娜娜", "阿卜杜拉·买买提", "Alice Smith", "O'Brien",
                         "Jean-Luc Picard", "J. R. Smith"}) {
    EXPECT_EQ(CheckPersonName(ok), std::nullopt) << ok;
  }
  EXPECT_EQ(CheckPersonName("张"), "length");
  EXPECT_EQ(CheckPersonName("张三三三三三三三三三三三三三三三三三三三三"), "length");
  EXPECT_EQ(CheckPersonName("张3"), "format");
  EXPECT_EQ(CheckPersonName("张三·"), "format");
  EXPECT_EQ(CheckPersonName("张 三"), "format");
  EXPECT_EQ(CheckPersonName("Alice1"), "format");
  EXPECT_EQ(CheckPersonName("-Alice"), "format");
  EXPECT_EQ(CheckPersonName("   "), "empty");
  EXPECT_EQ(CheckPersonName("\xE5\xBC"), "encoding");
  EXPECT_EQ(CheckPersonName(std::string(101, 'a')), "length");
}

}  // namespace
}  // namespace custvault::catalog
