#include "store/fields_blob.h"

#include <gtest/gtest.h>

#include <random>

namespace custvault::store {
namespace {

std::map<std::string, std::string> SampleFields() {
  return {{"address", std::string("\x01\x02\x00\xff envelope", 13)},
          {"name", "ciphertext-of-name"},
          {"phone", ""},
          {"z", std::string(300, 'v')}};  // a value whose length needs 2 varint bytes
}

TEST(FieldsBlobTest, RoundTripsKeysAndBinaryValues) {
  const auto fields = SampleFields();
  Result<std::map<std::string, std::string>> decoded = DecodeFieldsBlob(EncodeFieldsBlob(fields));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, fields);
}

TEST(FieldsBlobTest, EmptyMapIsTwoBytes) {
  const std::string blob = EncodeFieldsBlob({});
  EXPECT_EQ(blob, std::string("\x01\x00", 2));
  Result<std::map<std::string, std::string>> decoded = DecodeFieldsBlob(blob);
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->empty());
}

TEST(FieldsBlobTest, LayoutIsVersionCountThenLengthPrefixedPairs) {
  // Pins the documented format (docs/formats/database-schema.md).
  EXPECT_EQ(EncodeFieldsBlob({{"ab", "xyz"}}), std::string("\x01\x01\x02"
                                                           "ab"
                                                           "\x03"
                                                           "xyz",
                                                           9));
}

void ExpectDataLoss(const std::string& blob, const char* why) {
  Result<std::map<std::string, std::string>> decoded = DecodeFieldsBlob(blob);
  ASSERT_FALSE(decoded.ok()) << why;
  EXPECT_EQ(decoded.status().code(), ErrorCode::kDataLoss) << why;
}

TEST(FieldsBlobTest, RejectsMalformedBlobsAsDataLoss) {
  ExpectDataLoss("", "empty");
  ExpectDataLoss(std::string("\x02\x00", 2), "unknown version");
  ExpectDataLoss(std::string("\x01", 1), "missing count");
  ExpectDataLoss(std::string("\x01\x01", 2), "count without entries");
  ExpectDataLoss(std::string("\x01\x00\x00", 3), "trailing byte");
  ExpectDataLoss(std::string("\x01\x80\x00", 3), "non-minimal varint");
  ExpectDataLoss(std::string("\x01\xff\xff\xff\xff\xff\x01", 7), "varint longer than 5 bytes");
  ExpectDataLoss(std::string("\x01\x01\x00\x00", 4), "empty key");
  ExpectDataLoss(std::string("\x01\x01\x05"
                             "ab\x01x",
                             7),
                 "key length past the end");
  ExpectDataLoss(std::string("\x01\x01\x02"
                             "ab\x09xyz",
                             8),
                 "value length past the end");
  ExpectDataLoss(std::string("\x01\x02\x01"
                             "b\x00\x01"
                             "a\x00",
                             8),
                 "keys out of order");
  ExpectDataLoss(std::string("\x01\x02\x01"
                             "a\x00\x01"
                             "a\x00",
                             8),
                 "repeated key");
  ExpectDataLoss(std::string("\x01\xff\xff\x03", 4), "count over the limit");
  ExpectDataLoss(std::string("\x01\x81\x01", 3) + std::string(16, 'x'),
                 "count larger than the bytes allow");
  // A key longer than the limit, well-formed otherwise.
  std::string long_key("\x01\x01", 2);
  long_key += static_cast<char>(0x81);
  long_key += static_cast<char>(0x01);  // 129
  long_key += std::string(129, 'k');
  long_key += '\0';
  ExpectDataLoss(long_key, "key over its limit");
}

TEST(FieldsBlobTest, EveryTruncationOfAValidBlobIsDataLoss) {
  const std::string blob = EncodeFieldsBlob(SampleFields());
  for (size_t length = 0; length < blob.size(); ++length) {
    Result<std::map<std::string, std::string>> decoded =
        DecodeFieldsBlob(std::string_view(blob).substr(0, length));
    ASSERT_FALSE(decoded.ok()) << "truncated to " << length;
    EXPECT_EQ(decoded.status().code(), ErrorCode::kDataLoss);
  }
}

// Fuzz-style: random bytes, random bit flips and random splices of a valid
// blob. The decoder must answer each with either a map that re-encodes to the
// very same bytes (the format has one encoding per map) or kDataLoss; under
// ASan this also proves it never reads out of bounds.
TEST(FieldsBlobTest, RandomAndMutatedBlobsNeverCrashAndDecodeCanonically) {
  std::mt19937_64 random(20250101);
  const std::string valid = EncodeFieldsBlob(SampleFields());
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string blob;
    switch (round % 3) {
      case 0: {
        blob.resize(random() % 64);
        for (char& c : blob) c = static_cast<char>(random());
        if (!blob.empty() && random() % 2 == 0) blob[0] = '\x01';  // get past the version byte
        break;
      }
      case 1: {
        blob = valid;
        const int flips = 1 + static_cast<int>(random() % 4);
        for (int i = 0; i < flips; ++i)
          blob[random() % blob.size()] ^= static_cast<char>(1u << (random() % 8));
        break;
      }
      default: {
        blob = valid.substr(0, random() % valid.size());
        blob += valid.substr(random() % valid.size());
        break;
      }
    }
    Result<std::map<std::string, std::string>> decoded = DecodeFieldsBlob(blob);
    if (decoded.ok()) {
      ++accepted;
      EXPECT_EQ(EncodeFieldsBlob(*decoded), blob);
    } else {
      EXPECT_EQ(decoded.status().code(), ErrorCode::kDataLoss);
    }
  }
  // Bit flips inside value bytes leave a valid blob: some inputs must pass,
  // or the test would not be exercising the accepting path at all.
  EXPECT_GT(accepted, 0);
}

TEST(FieldsBlobTest, ValidateRefusesWhatTheDecoderWouldRefuse) {
  EXPECT_TRUE(ValidateFields(SampleFields()).ok());
  EXPECT_EQ(ValidateFields({{"", "x"}}).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ValidateFields({{std::string(kFieldKeyBytesMax + 1, 'k'), "x"}}).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ValidateFields({{"k", std::string(kFieldValueBytesMax + 1, 'v')}}).code(),
            ErrorCode::kInvalidArgument);
  std::map<std::string, std::string> many;
  for (size_t i = 0; i <= kFieldsBlobFieldsMax; ++i) many["f" + std::to_string(i)] = "";
  EXPECT_EQ(ValidateFields(many).code(), ErrorCode::kInvalidArgument);
}

TEST(FieldsBlobTest, FindFieldReadsOneFieldWithoutDecodingTheRest) {
  const std::string blob = EncodeFieldsBlob(SampleFields());
  for (const auto& [key, value] : SampleFields()) {
    Result<std::optional<std::string_view>> found = FindFieldInBlob(blob, key);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    ASSERT_TRUE(found->has_value()) << key;
    EXPECT_EQ(**found, value) << key;
  }
  for (std::string_view absent : {"a", "credit_rating", "zz", "phone2"}) {
    Result<std::optional<std::string_view>> found = FindFieldInBlob(blob, absent);
    ASSERT_TRUE(found.ok()) << absent;
    EXPECT_FALSE(found->has_value()) << absent;
  }
  EXPECT_EQ(FindFieldInBlob("", "name").status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(FindFieldInBlob(blob + "x", "zz").status().code(), ErrorCode::kDataLoss);
  // Every truncation is refused or, before the field, still finds nothing wrong
  // only if it never reads past its end: no crash, no out-of-range view.
  for (size_t cut = 0; cut < blob.size(); ++cut) {
    Result<std::optional<std::string_view>> found = FindFieldInBlob(blob.substr(0, cut), "z");
    EXPECT_FALSE(found.ok() && found->has_value()) << cut;
  }
}

}  // namespace
}  // namespace custvault::store
