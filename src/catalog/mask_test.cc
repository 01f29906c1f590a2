// Masks (R-MASK-2): every example of R-CAT-2, and short, long, compound
// surname, English, landline and malformed inputs.
#include <gtest/gtest.h>

#include <string>

#include "catalog/catalog.h"

namespace custvault::catalog {
namespace {

TEST(MaskTest, RCat2ExamplesAreMaskedExactlyAsTheTableShows) {
  EXPECT_EQ(Mask("name", "张三"), "张某");
  EXPECT_EQ(Mask("name", "欧阳娜娜"), "欧阳某");
  EXPECT_EQ(Mask("name", "Alice Smith"), "A***");
  EXPECT_EQ(Mask("id_number", "11010519491231002X"), "110105******31002X");
  EXPECT_EQ(Mask("phone", "13812345678"), "138****5678");
  EXPECT_EQ(Mask("address", "北京市朝阳区建国路88号"), "北京市朝阳区****");
  EXPECT_EQ(Mask("bank_account", "6222021234567890128"), "622************0128");
  EXPECT_EQ(Mask("hidden", "AAA"), "***");
  EXPECT_EQ(Mask("never", "病历"), "");
  EXPECT_EQ(Mask("none", "12"), "12");
}

TEST(MaskTest, IdNumberFirst6Last4HidesTheBirthDayToo) {  // R-CAT-2a
  EXPECT_EQ(Mask("id_number", "11010519491231002X", "first6_last4"), "110105********002X");
  EXPECT_EQ(Mask("id_number", "11010519491231002X", "first6_last6"), "110105******31002X");
}

TEST(MaskTest, CompoundSurnamesKeepBothCharacters) {
  EXPECT_EQ(Mask("name", "司马光"), "司马某");
  EXPECT_EQ(Mask("name", "上官婉儿"), "上官某");
  EXPECT_EQ(Mask("name", "诸葛亮"), "诸葛某");
  EXPECT_EQ(Mask("name", "申屠嘉"), "申屠某");
  // Two characters that look like a compound surname are surname + given name.
  EXPECT_EQ(Mask("name", "欧阳"), "欧某");
  // 东 alone is an ordinary surname when not followed by 方.
  EXPECT_EQ(Mask("name", "东海龙"), "东某");
}

TEST(MaskTest, ShortNamesNeverShowMoreThanTheSurname) {
  EXPECT_EQ(Mask("name", "张"), "***");
  EXPECT_EQ(Mask("name", ""), "***");
  EXPECT_EQ(Mask("name", "A"), "A***");
  EXPECT_EQ(Mask("name", "Ng"), "N***");
}

TEST(MaskTest, LongNamesShowOnlyTheSurnameOrInitial) {
  EXPECT_EQ(Mask("name", "阿卜杜拉·买买提·艾力"), "阿某");
  EXPECT_EQ(Mask("name", "Maximilian Alexander von Habsburg-Lothringen"), "M***");
  EXPECT_EQ(Mask("name", "alice"), "a***");
}

TEST(MaskTest, NamesThatAreNeitherChineseNorEnglishAreHidden) {
  EXPECT_EQ(Mask("name", "123"), "***");
  EXPECT_EQ(Mask("name", "·张三"), "***");
  EXPECT_EQ(Mask("name", "\xE5\xBC\xA0\xFF"), "***");  // invalid UTF-8
}

TEST(MaskTest, LandlineKeepsAreaCodeAndLastFourDigits) {
  EXPECT_EQ(Mask("phone", "010-12345678"), "010-****5678");
  EXPECT_EQ(Mask("phone", "0571-8888888"), "0571-****8888");
  EXPECT_EQ(Mask("phone", "0755-82345678-123"), "0755-****5678");  // extension dropped
}

TEST(MaskTest, MalformedPhonesAreHidden) {
  EXPECT_EQ(Mask("phone", "1381234567"), "***");
  EXPECT_EQ(Mask("phone", "5678"), "***");
  EXPECT_EQ(Mask("phone", ""), "***");
  EXPECT_EQ(Mask("phone", "010-5678"), "***");
  EXPECT_EQ(Mask("phone", "+8613812345678"), "***");  // not normalised
  EXPECT_EQ(Mask("phone", "23812345678"), "***");
}

TEST(MaskTest, MalformedIdNumbersAreHidden) {
  EXPECT_EQ(Mask("id_number", "110105194912310"), "***");     // 15 digits
  EXPECT_EQ(Mask("id_number", "11010519491231002x"), "***");  // not normalised
  EXPECT_EQ(Mask("id_number", "11010519491231002X1"), "***");
  EXPECT_EQ(Mask("id_number", ""), "***");
  EXPECT_EQ(Mask("id_number", "11010519491231002\xEF\xBC\xB8"), "***");
}

TEST(MaskTest, BankAccountShowsFirst3AndLast4WithOneStarPerHiddenDigit) {
  EXPECT_EQ(Mask("bank_account", "4111111111111111"), "411*********1111");
  EXPECT_EQ(Mask("bank_account", "123456789012"), "123*****9012");
  EXPECT_EQ(Mask("bank_account", "12345678901"), "***");  // too short to be an account
  EXPECT_EQ(Mask("bank_account", "12345678901234567890"), "***");
  EXPECT_EQ(Mask("bank_account", "4111 1111 1111 1111"), "***");
}

TEST(MaskTest, AddressIsCutAfterTheDistrictOrCounty) {
  EXPECT_EQ(Mask("address", "上海市浦东新区世纪大道100号"), "上海市浦东新区****");
  EXPECT_EQ(Mask("address", "广西壮族自治区南宁市青秀区民族大道1号"),
            "广西壮族自治区南宁市青秀区****");
  EXPECT_EQ(Mask("address", "浙江省杭州市余杭区文一西路969号"), "浙江省杭州市余杭区****");
  EXPECT_EQ(Mask("address", "河北省保定市涞源县城关镇"), "河北省保定市涞源县****");
  EXPECT_EQ(Mask("address", "内蒙古自治区呼伦贝尔市鄂温克族自治旗巴彦托海镇"),
            "内蒙古自治区呼伦贝尔市鄂温克族自治旗****");
  EXPECT_EQ(Mask("address", "新疆维吾尔自治区阿克苏地区库车市天山路"),
            "新疆维吾尔自治区阿克苏地区库车市****");
}

TEST(MaskTest, AddressWithCountyLevelCityAfterProvinceIsCutAfterThatCity) {
  EXPECT_EQ(Mask("address", "江苏省苏州市昆山市玉山镇人民路1号"), "江苏省苏州市昆山市****");
  EXPECT_EQ(Mask("address", "江苏省昆山市玉山镇人民路1号"), "江苏省昆山市****");
  EXPECT_EQ(Mask("address", "广东省东莞市东城街道1号"), "广东省东莞市****");
}

TEST(MaskTest, DistrictWordsInsideStreetsDoNotCountAsDistricts) {
  // 小区 is a housing estate; a marker after a house number is never the county.
  EXPECT_EQ(Mask("address", "北京市朝阳区建国路88号华贸小区"), "北京市朝阳区****");
  EXPECT_EQ(Mask("address", "建国路阳光小区3号楼"), "建国路阳光****");
  EXPECT_EQ(Mask("address", "建国路88号阳光区"), "建国路8****");
}

TEST(MaskTest, AddressWithoutMarkerShowsAtMostSixCharactersAndHalf) {
  EXPECT_EQ(Mask("address", "某某路某某号某某楼某某室"), "某某路某某号****");
  EXPECT_EQ(Mask("address", "人民路1号"), "人民****");
  EXPECT_EQ(Mask("address", "88 Jianguo Road, Chaoyang"), "88 Jia****");
  EXPECT_EQ(Mask("address", "北京市"),
            "北京市****");  // the municipality is the district level here
  EXPECT_EQ(Mask("address", "路"), "***");
  EXPECT_EQ(Mask("address", ""), "***");
  EXPECT_EQ(Mask("address", "\xE5\x8C\x97\xFF\xFF\xFF"), "***");
}

TEST(MaskTest, LongAddressesAreStillCut) {
  std::string address = "北京市海淀区";
  for (int i = 0; i < 200; ++i) address += "中关村大街";
  EXPECT_EQ(Mask("address", address), "北京市海淀区****");
}

TEST(MaskTest, EmailShowsFirstCharacterAndDomain) {
  EXPECT_EQ(Mask("email", "zhang.san@example.com"), "z***@example.com");
  EXPECT_EQ(Mask("email", "a@example.com"), "a***@example.com");
  EXPECT_EQ(Mask("email", "@example.com"), "***");
  EXPECT_EQ(Mask("email", "zhang"), "***");
  EXPECT_EQ(Mask("email", "zhang@"), "***");
  EXPECT_EQ(Mask("email", "张@example.com"), "***");
}

TEST(MaskTest, UnknownMaskRuleFailsClosed) {
  EXPECT_EQ(Mask("sparkle", "13812345678"), "***");
  EXPECT_EQ(Mask("", "13812345678"), "***");
}

}  // namespace
}  // namespace custvault::catalog
