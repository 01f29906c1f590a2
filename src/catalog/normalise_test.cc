// Normalisers: one canonical form per value, so exact search (R-CRY-3)
// finds a value however it was typed.
#include <gtest/gtest.h>

#include "catalog/catalog.h"

namespace custvault::catalog {
namespace {

FieldDef FieldWithRule(const std::string& rule) {
  FieldDef field;
  field.key = "f";
  field.rule = rule;
  return field;
}

TEST(NormaliseTest, MobileFormsBecomeElevenDigits) {
  const FieldDef phone = FieldWithRule("phone");
  EXPECT_EQ(Normalise(phone, "13812345678"), "13812345678");
  EXPECT_EQ(Normalise(phone, " +86 138 1234 5678 "), "13812345678");
  EXPECT_EQ(Normalise(phone, "008613812345678"), "13812345678");
  EXPECT_EQ(Normalise(phone, "8613812345678"), "13812345678");
  EXPECT_EQ(Normalise(phone, "138-1234-5678"), "13812345678");
}

TEST(NormaliseTest, LandlineKeepsAreaCodeDashNumber) {
  const FieldDef phone = FieldWithRule("phone");
  EXPECT_EQ(Normalise(phone, "01062345678"), "010-62345678");
  EXPECT_EQ(Normalise(phone, "010-62345678"), "010-62345678");
  EXPECT_EQ(Normalise(phone, "057188888888"), "0571-88888888");
  EXPECT_EQ(Normalise(phone, "0755-82345678-123"), "0755-82345678-123");
}

TEST(NormaliseTest, ResidentIdCheckCharacterBecomesUpperCaseAsciiX) {
  const FieldDef id = FieldWithRule("resident_id");
  EXPECT_EQ(Normalise(id, "11010519491231002x"), "11010519491231002X");
  EXPECT_EQ(Normalise(id, "11010519491231002\xEF\xBC\xB8"), "11010519491231002X");
  EXPECT_EQ(Normalise(id, "11010519491231002\xEF\xBD\x98"), "11010519491231002X");
  EXPECT_EQ(Normalise(id, " 440524188001010014 "), "440524188001010014");
}

TEST(NormaliseTest, BankAccountKeepsDigitsOnly) {
  EXPECT_EQ(Normalise(FieldWithRule("bank_account"), " 4111 1111-1111 1111 "), "4111111111111111");
}

TEST(NormaliseTest, NameIsTrimmedAndInnerSpacesCollapsed) {
  const FieldDef name = FieldWithRule("person_name");
  EXPECT_EQ(Normalise(name, "  Alice   Smith "), "Alice Smith");
  EXPECT_EQ(Normalise(name, "Alice\xE3\x80\x80Smith"), "Alice Smith");  // full-width space
  EXPECT_EQ(Normalise(name, "\xE3\x80\x80张三\xE3\x80\x80"), "张三");
}

TEST(NormaliseTest, EmailIsLowerCasedUsccAndRatingUpperCased) {
  EXPECT_EQ(Normalise(FieldWithRule("email"), " Zhang.San@Example.COM "), "zhang.san@example.com");
  EXPECT_EQ(Normalise(FieldWithRule("uscc"), "91350100m000100y43"), "91350100M000100Y43");
  EXPECT_EQ(Normalise(FieldWithRule("credit_rating"), " bbb "), "BBB");
}

TEST(NormaliseTest, IntegersLoseSignPlusAndLeadingZeros) {
  const FieldDef n = FieldWithRule("integer");
  EXPECT_EQ(Normalise(n, "0012"), "12");
  EXPECT_EQ(Normalise(n, "+7"), "7");
  EXPECT_EQ(Normalise(n, "-0"), "0");
  EXPECT_EQ(Normalise(n, "-05"), "-5");
  EXPECT_EQ(Normalise(n, " 0 "), "0");
}

TEST(NormaliseTest, TextIsTrimmedAndBinaryLeftAlone) {
  EXPECT_EQ(Normalise(FieldWithRule("text"), "  喜欢绿茶\n"), "喜欢绿茶");
  EXPECT_EQ(Normalise(FieldWithRule("address"), " 北京市朝阳区 "), "北京市朝阳区");
  EXPECT_EQ(Normalise(FieldWithRule("binary"), "AAEC"), "AAEC");
}

}  // namespace
}  // namespace custvault::catalog
