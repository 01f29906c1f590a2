#include "identity/base32.h"

#include <gtest/gtest.h>

namespace custvault::identity {
namespace {

// RFC 4648 section 10 test vectors.
TEST(Base32Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> kVectors[] = {
      {"", ""},
      {"f", "MY======"},
      {"fo", "MZXQ===="},
      {"foo", "MZXW6==="},
      {"foob", "MZXW6YQ="},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI======"},
  };
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(Base32Encode(plain), encoded);
    Result<std::string> decoded = Base32Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base32Test, UnpaddedAndLowerCaseDecode) {
  EXPECT_EQ(Base32Encode("foobar", /*pad=*/false), "MZXW6YTBOI");
  EXPECT_EQ(*Base32Decode("mzxw6ytboi"), "foobar");
  // The RFC 6238 test secret as authenticator apps see it.
  EXPECT_EQ(Base32Encode("12345678901234567890", false), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(Base32Test, MalformedTextIsRefused) {
  for (const char* bad : {"M", "MZX", "MZXW6Y", "MY=", "MY======X", "M1======", "MZ======",
                          "MZXW 6YTB", "MZXW6YTB="}) {
    EXPECT_FALSE(Base32Decode(bad).ok()) << bad;
  }
}

TEST(Base32Test, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 41; ++i) {
    Result<std::string> back = Base32Decode(Base32Encode(bytes));
    ASSERT_TRUE(back.ok()) << i;
    EXPECT_EQ(*back, bytes);
    bytes.push_back(static_cast<char>(i * 37 + 11));
  }
}

}  // namespace
}  // namespace custvault::identity
