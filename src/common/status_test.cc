#include "common/status.h"

#include <gtest/gtest.h>

#include <set>

namespace custvault {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  int half = 0;
  ASSIGN_OR_RETURN(half, Half(x));
  return Half(half);
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusTest, DefaultIsOkAndPrintsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CarriesCodeMessageAndFieldDetails) {
  Status s(ErrorCode::kValidationFailed, "invalid record",
           {{"id_number", "checksum"}, {"phone", "format"}});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kValidationFailed);
  ASSERT_EQ(s.details().size(), 2u);
  EXPECT_EQ(s.details()[1], (FieldError{"phone", "format"}));
  EXPECT_EQ(s.ToString(),
            "validation_failed: invalid record [id_number: checksum] [phone: format]");
}

TEST(StatusTest, EveryCodeHasAStableDistinctName) {
  std::set<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(ErrorCode::kInternal); ++c) {
    names.insert(ErrorCodeName(static_cast<ErrorCode>(c)));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(ErrorCode::kInternal) + 1);
  EXPECT_EQ(ErrorCodeName(ErrorCode::kValidationFailed), "validation_failed");
}

TEST(ResultTest, MacrosPropagateTheFirstFailure) {
  EXPECT_EQ(Quarter(8).value(), 2);
  const Result<int> odd_half = Quarter(6);
  ASSERT_FALSE(odd_half.ok());
  EXPECT_EQ(odd_half.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace custvault
