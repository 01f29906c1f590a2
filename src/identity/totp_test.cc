#include "identity/totp.h"

#include <gtest/gtest.h>

#include "identity/base32.h"

namespace custvault::identity {
namespace {

constexpr char kRfcSecret[] = "12345678901234567890";  // RFC 6238 Appendix B, SHA1

// RFC 6238 Appendix B, SHA1 column (8 digits).
TEST(TotpTest, R_ACC_4_Rfc6238AppendixBSha1Vectors) {
  const std::pair<int64_t, const char*> kVectors[] = {
      {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
      {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
  };
  for (const auto& [time, code] : kVectors) EXPECT_EQ(TotpCode(kRfcSecret, time, 8), code) << time;
}

// 6-digit truncation: the last six digits of the same value (RFC 4226).
TEST(TotpTest, SixDigitCodesAreTheLowDigitsOfTheSameValue) {
  EXPECT_EQ(TotpCode(kRfcSecret, 59), "287082");
  EXPECT_EQ(TotpCode(kRfcSecret, 1111111109), "081804");
  // RFC 4226 Appendix D HOTP values, counters 0 and 9.
  EXPECT_EQ(Hotp(kRfcSecret, 0, 6), "755224");
  EXPECT_EQ(Hotp(kRfcSecret, 9, 6), "520489");
}

TEST(TotpTest, R_ACC_4_AcceptsOneStepOfClockSkewEitherWay) {
  const int64_t now = 1111111111;
  const int64_t step = TotpStep(now);
  EXPECT_EQ(VerifyTotp(kRfcSecret, TotpCode(kRfcSecret, now), now, 0), step);
  EXPECT_EQ(VerifyTotp(kRfcSecret, TotpCode(kRfcSecret, now - 30), now, 0), step - 1);
  EXPECT_EQ(VerifyTotp(kRfcSecret, TotpCode(kRfcSecret, now + 30), now, 0), step + 1);
  EXPECT_FALSE(VerifyTotp(kRfcSecret, TotpCode(kRfcSecret, now - 60), now, 0).has_value());
  EXPECT_FALSE(VerifyTotp(kRfcSecret, TotpCode(kRfcSecret, now + 60), now, 0).has_value());
}

TEST(TotpTest, R_ACC_4_AReplayedOrOlderCodeIsRefused) {
  const int64_t now = 1111111111;
  const std::string code = TotpCode(kRfcSecret, now);
  const std::optional<int64_t> step = VerifyTotp(kRfcSecret, code, now, 0);
  ASSERT_TRUE(step.has_value());
  EXPECT_FALSE(VerifyTotp(kRfcSecret, code, now, *step).has_value());       // the same code
  EXPECT_FALSE(VerifyTotp(kRfcSecret, code, now + 20, *step).has_value());  // still in window
  EXPECT_FALSE(
      VerifyTotp(kRfcSecret, TotpCode(kRfcSecret, now - 30), now, *step).has_value());  // older
  EXPECT_TRUE(VerifyTotp(kRfcSecret, TotpCode(kRfcSecret, now + 30), now + 30, *step).has_value());
}

TEST(TotpTest, MalformedCodesNeverMatch) {
  const int64_t now = 1111111111;
  const std::string code = TotpCode(kRfcSecret, now);
  for (const std::string& bad : {std::string(""), code.substr(0, 5), code + "0",
                                 std::string("12345a"), std::string(" ") + code.substr(1)}) {
    EXPECT_FALSE(VerifyTotp(kRfcSecret, bad, now, 0).has_value()) << bad;
  }
}

TEST(TotpTest, OtpauthUriCarriesTheBase32SecretAndParameters) {
  const std::string uri = OtpauthUri("custvault", "li.lei@bank", kRfcSecret);
  EXPECT_EQ(uri,
            "otpauth://totp/custvault:li.lei%40bank?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "&issuer=custvault&algorithm=SHA1&digits=6&period=30");
}

TEST(TotpTest, NewSecretsAreRandomAndOfTheRecommendedSize) {
  Result<crypto::SecretBytes> a = NewTotpSecret(Env::Default());
  Result<crypto::SecretBytes> b = NewTotpSecret(Env::Default());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), kTotpSecretBytes);
  EXPECT_NE(a->view(), b->view());
}

}  // namespace
}  // namespace custvault::identity
