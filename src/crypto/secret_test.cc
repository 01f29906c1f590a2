#include "crypto/secret.h"

#include <gtest/gtest.h>

#include <type_traits>

namespace custvault::crypto {
namespace {

// Style habit 12 (secrets wipe themselves, cannot be copied by accident).
static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_copy_assignable_v<SecretBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);

TEST(SecretBytesTest, HoldsACopyOfTheBytes) {
  std::string source = "key material";
  SecretBytes secret(source);
  source[0] = 'X';
  EXPECT_EQ(secret.view(), "key material");
  EXPECT_EQ(secret.size(), 12u);
}

TEST(SecretBytesTest, SizedConstructorZeroFills) {
  SecretBytes secret(5);
  EXPECT_EQ(secret.view(), std::string(5, '\0'));
}

TEST(SecretBytesTest, MoveLeavesSourceEmpty) {
  SecretBytes a(std::string_view("abc"));
  SecretBytes b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(b.view(), "abc");
  SecretBytes c;
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.view(), "abc");
}

TEST(SecretBytesTest, WipeEmptiesIt) {
  SecretBytes secret(std::string_view("abc"));
  secret.Wipe();
  EXPECT_TRUE(secret.empty());
  EXPECT_EQ(secret.data(), nullptr);
}

TEST(SecretBytesTest, CloneIsIndependent) {
  SecretBytes a(std::string_view("abc"));
  SecretBytes b = a.Clone();
  a.data()[0] = 'z';
  EXPECT_EQ(b.view(), "abc");
  EXPECT_EQ(a.view(), "zbc");
}

TEST(ConstantTimeEqualTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEqual("", ""));
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEqual(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

}  // namespace
}  // namespace custvault::crypto
