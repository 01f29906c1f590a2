#include "common/cidr.h"

#include <gtest/gtest.h>

namespace custvault {
namespace {

TEST(CidrSetTest, EmptyTextIsAnEmptySetThatContainsNothing) {
  Result<CidrSet> set = CidrSet::Parse("  ");
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->empty());
  EXPECT_FALSE(set->Contains("127.0.0.1"));
}

TEST(CidrSetTest, Ipv4BlocksMatchOnlyTheirPrefix) {
  Result<CidrSet> set = CidrSet::Parse("10.0.0.0/8, 192.168.1.0/24 ,172.16.0.0/12,203.0.113.7");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->size(), 4u);
  EXPECT_TRUE(set->Contains("10.255.1.2"));
  EXPECT_TRUE(set->Contains("192.168.1.254"));
  EXPECT_FALSE(set->Contains("192.168.2.1"));
  EXPECT_TRUE(set->Contains("172.31.255.255"));
  EXPECT_FALSE(set->Contains("172.32.0.0"));
  EXPECT_TRUE(set->Contains("203.0.113.7"));
  EXPECT_FALSE(set->Contains("203.0.113.8"));
  EXPECT_FALSE(set->Contains("11.0.0.1"));
}

TEST(CidrSetTest, Ipv6BlocksMatchOnlyTheirPrefix) {
  Result<CidrSet> set = CidrSet::Parse("2001:db8::/32, fd00::/8, ::1/128, fe80::/10");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_TRUE(set->Contains("2001:db8:ffff::1"));
  EXPECT_FALSE(set->Contains("2001:db9::1"));
  EXPECT_TRUE(set->Contains("fdab::1"));
  EXPECT_TRUE(set->Contains("::1"));
  EXPECT_FALSE(set->Contains("::2"));
  EXPECT_TRUE(set->Contains("[2001:db8::5]"));
  EXPECT_TRUE(set->Contains("fe80::1%eth0"));  // the zone is ignored
  EXPECT_FALSE(set->Contains("10.0.0.1"));     // families never cross
}

TEST(CidrSetTest, Ipv4MappedAddressesMatchIpv4Blocks) {
  Result<CidrSet> set = CidrSet::Parse("10.1.0.0/16");
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->Contains("::ffff:10.1.2.3"));
  EXPECT_FALSE(set->Contains("::ffff:10.2.2.3"));
  Result<CidrSet> mapped = CidrSet::Parse("::ffff:10.1.0.0/112");
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  EXPECT_TRUE(mapped->Contains("10.1.200.3"));
  EXPECT_FALSE(mapped->Contains("10.2.0.1"));
}

TEST(CidrSetTest, ZeroPrefixMatchesEveryAddressOfItsFamily) {
  Result<CidrSet> set = CidrSet::Parse("0.0.0.0/0");
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->Contains("8.8.8.8"));
  EXPECT_FALSE(set->Contains("2001:db8::1"));
}

TEST(CidrSetTest, MalformedListsAreRefusedNamingTheItem) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0.1/8", "300.1.1.1", "10.0.0.0/", "10.0.0.0/x",
                          "example.com", "10.0.0.0/8,,192.168.0.0/16", "2001:db8::/129", "1.2.3",
                          "0x7f.0.0.1", "10.0.0.0/8,", "::ffff:10.0.0.0/64"}) {
    Result<CidrSet> set = CidrSet::Parse(bad);
    EXPECT_FALSE(set.ok()) << bad;
    if (!set.ok()) {
      EXPECT_EQ(set.status().code(), ErrorCode::kInvalidArgument) << bad;
    }
  }
  Result<CidrSet> set = CidrSet::Parse("10.0.0.0/8, nonsense");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("nonsense"), std::string::npos);
}

TEST(CidrSetTest, TooManyBlocksAreRefused) {
  std::string list;
  for (size_t i = 0; i <= kCidrSetEntriesMax; ++i) {
    if (!list.empty()) list += ",";
    list += "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24";
  }
  EXPECT_EQ(CidrSet::Parse(list).status().code(), ErrorCode::kInvalidArgument);
}

TEST(CidrSetTest, UnparsableAddressesAreNeverContained) {
  Result<CidrSet> set = CidrSet::Parse("0.0.0.0/0, ::/0");
  ASSERT_TRUE(set.ok());
  EXPECT_FALSE(set->Contains(""));
  EXPECT_FALSE(set->Contains("local"));
  EXPECT_FALSE(set->Contains("1.2.3.4:80"));
}

TEST(IpAddressTest, ParsesAndPrintsCanonicalText) {
  EXPECT_EQ(ParseIpAddress("2001:0db8:0000::0001")->ToString(), "2001:db8::1");
  EXPECT_EQ(ParseIpAddress("::ffff:192.0.2.1")->ToString(), "192.0.2.1");
  EXPECT_EQ(ParseIpAddress(" 192.0.2.1 ")->ToString(), "192.0.2.1");
  EXPECT_FALSE(ParseIpAddress("192.0.2.1.5").has_value());
}

}  // namespace
}  // namespace custvault
