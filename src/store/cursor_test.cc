#include "store/cursor.h"

#include <gtest/gtest.h>

#include "common/encoding.h"

namespace custvault::store {
namespace {

TEST(CursorTest, RoundTripsAnId) {
  Result<std::string> id = DecodeCursor(EncodeCursor("C20250101123456"));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "C20250101123456");
}

TEST(CursorTest, IsOpaqueBase64) { EXPECT_EQ(EncodeCursor("C1"), Base64Encode("v1:C1")); }

TEST(CursorTest, RejectsAnythingItDidNotMake) {
  for (const std::string& bad :
       {std::string(""), std::string("not base64!"), Base64Encode("v2:C1"), Base64Encode("v1:"),
        Base64Encode("C1"), Base64Encode("v1:" + std::string(kCustomerIdBytesMax + 1, 'x')),
        std::string("dj")}) {
    Result<std::string> id = DecodeCursor(bad);
    ASSERT_FALSE(id.ok()) << bad;
    EXPECT_EQ(id.status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(CursorTest, PageLimitMustBeOneToTenThousand) {
  EXPECT_TRUE(ValidatePageLimit(1).ok());
  EXPECT_TRUE(ValidatePageLimit(10000).ok());
  EXPECT_EQ(ValidatePageLimit(0).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ValidatePageLimit(-5).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ValidatePageLimit(10001).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace custvault::store
