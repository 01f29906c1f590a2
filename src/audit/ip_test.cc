// R-AUD-1: the source IP; proxies' X-Forwarded-For is believed only from
// trusted proxies.
#include "audit/ip.h"

#include <gtest/gtest.h>

namespace custvault::audit {
namespace {

TEST(ClientIpTest, UntrustedPeerIsRecordedWhateverTheHeaderSays) {
  const CidrSet trusted = CidrSet::Parse("10.0.0.0/8").value();
  EXPECT_EQ(ClientIp("203.0.113.9", "1.2.3.4", trusted), "203.0.113.9");
  EXPECT_EQ(ClientIp("203.0.113.9", "", trusted), "203.0.113.9");
  EXPECT_EQ(ClientIp("203.0.113.9", "1.2.3.4", CidrSet()), "203.0.113.9");
}

TEST(ClientIpTest, TrustedProxyHeaderIsReadFromTheRightSkippingTrustedHops) {
  const CidrSet trusted = CidrSet::Parse("10.0.0.0/8, 2001:db8::/32").value();
  EXPECT_EQ(ClientIp("10.0.0.2", "198.51.100.7", trusted), "198.51.100.7");
  // The client may prepend anything; only the hop our proxy added counts.
  EXPECT_EQ(ClientIp("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.1.1.1", trusted), "198.51.100.7");
  EXPECT_EQ(ClientIp("2001:db8::1", "2001:0db8::5 , 2001:db8::2", trusted), "2001:db8::5");
  EXPECT_EQ(ClientIp("::ffff:10.0.0.2", "198.51.100.7", trusted), "198.51.100.7");
}

TEST(ClientIpTest, GarbageInTheHeaderIsNeverRecorded) {
  const CidrSet trusted = CidrSet::Parse("10.0.0.0/8").value();
  EXPECT_EQ(ClientIp("10.0.0.2", "<script>, 10.0.0.3", trusted), "10.0.0.3");
  EXPECT_EQ(ClientIp("10.0.0.2", "not-an-ip", trusted), "10.0.0.2");
  EXPECT_EQ(ClientIp("10.0.0.2", std::string(kForwardedForBytesMax + 1, '1'), trusted), "10.0.0.2");
}

TEST(ClientIpTest, NonIpPeersAreKeptAsGiven) {
  EXPECT_EQ(ClientIp("local", "1.2.3.4", CidrSet()), "local");
}

}  // namespace
}  // namespace custvault::audit
