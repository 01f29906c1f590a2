// R-CRY-1: the ciphertext envelope (docs/formats/ciphertext.md).
#include "crypto/envelope.h"

#include <gtest/gtest.h>

#include "common/encoding.h"

namespace custvault::crypto {
namespace {

TEST(EnvelopeTest, HeaderLayoutIsVersionAlgorithmBigEndianKeyVersion) {
  EXPECT_EQ(HexEncode(EnvelopeHeader(AeadAlgorithm::kAes256Gcm, 0x01020304)), "010101020304");
  EXPECT_EQ(HexEncode(EnvelopeHeader(AeadAlgorithm::kSm4Gcm, 7)), "010200000007");
}

TEST(EnvelopeTest, ParseSplitsTheFields) {
  const std::string nonce(kAeadNonceBytes, 'n');
  const std::string body = "ciphertext" + std::string(kAeadTagBytes, 't');
  const std::string bytes = EnvelopeHeader(AeadAlgorithm::kSm4Gcm, 0xfffffffe) + nonce + body;
  auto view = ParseEnvelope(bytes);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->algorithm, AeadAlgorithm::kSm4Gcm);
  EXPECT_EQ(view->key_version, 0xfffffffeu);
  EXPECT_EQ(view->header, bytes.substr(0, 6));
  EXPECT_EQ(view->nonce, nonce);
  EXPECT_EQ(view->ciphertext_and_tag, body);
}

TEST(EnvelopeTest, EmptyPlaintextEnvelopeParses) {
  const std::string bytes = EnvelopeHeader(AeadAlgorithm::kAes256Gcm, 1) +
                            std::string(kAeadNonceBytes + kAeadTagBytes, 'x');
  ASSERT_EQ(bytes.size(), kEnvelopeOverheadBytes);
  EXPECT_TRUE(ParseEnvelope(bytes).ok());
}

TEST(EnvelopeTest, RefusesShortUnknownVersionOrAlgorithm) {
  const std::string good = EnvelopeHeader(AeadAlgorithm::kAes256Gcm, 1) +
                           std::string(kAeadNonceBytes + kAeadTagBytes, 'x');
  EXPECT_EQ(ParseEnvelope(good.substr(0, good.size() - 1)).status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(ParseEnvelope("").status().code(), ErrorCode::kDataLoss);
  for (char version : {'\0', '\2', '\xff'}) {
    std::string bad = good;
    bad[0] = version;
    EXPECT_EQ(ParseEnvelope(bad).status().code(), ErrorCode::kDataLoss);
  }
  for (char algorithm : {'\0', '\3', '\xff'}) {
    std::string bad = good;
    bad[1] = algorithm;
    EXPECT_EQ(ParseEnvelope(bad).status().code(), ErrorCode::kDataLoss);
  }
}

TEST(EnvelopeTest, AssociatedDataIsLengthPrefixed) {
  const std::string header = EnvelopeHeader(AeadAlgorithm::kSm4Gcm, 2);
  EXPECT_EQ(HexEncode(FieldAssociatedData(header, "c1", "name")),
            "010200000002"
            "0002"
            "6331"
            "0004"
            "6e616d65");
  // Moving a byte from the id to the field key changes the associated data.
  EXPECT_NE(FieldAssociatedData(header, "ab", "c"), FieldAssociatedData(header, "a", "bc"));
}

}  // namespace
}  // namespace custvault::crypto
