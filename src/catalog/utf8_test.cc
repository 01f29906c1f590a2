// The UTF-8 decoder under the masks: strict, so a mask never splits or
// invents a character.
#include "catalog/utf8.h"

#include <gtest/gtest.h>

namespace custvault::catalog {
namespace {

TEST(Utf8Test, DecodesAndEncodesEveryLength) {
  const std::string text = "a\xC2\xB7\xE5\xBC\xA0\xF0\xA0\x80\x80";  // a · 张 U+20000
  const auto decoded = DecodeUtf8(text);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, (std::u32string{U'a', 0xB7, U'张', 0x20000}));
  EXPECT_EQ(EncodeUtf8(*decoded), text);
}

TEST(Utf8Test, RefusesMalformedSequences) {
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation byte
  EXPECT_FALSE(IsValidUtf8("\xE5\xBC"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
}

TEST(Utf8Test, TrimRemovesAsciiAndFullWidthSpaces) {
  EXPECT_EQ(TrimSpaces(" \t\xE3\x80\x80张三\xE3\x80\x80\n"), "张三");
  EXPECT_EQ(TrimSpaces("   "), "");
  EXPECT_EQ(TrimSpaces("\xE3\x80"), "\xE3\x80");  // a broken sequence is not trimmed away
}

TEST(Utf8Test, CjkIdeographsIncludeExtensionsAndLingZero) {
  EXPECT_TRUE(IsCjkIdeograph(U'张'));
  EXPECT_TRUE(IsCjkIdeograph(0x3400));
  EXPECT_TRUE(IsCjkIdeograph(0x20000));
  EXPECT_TRUE(IsCjkIdeograph(0x3007));
  EXPECT_FALSE(IsCjkIdeograph(U'A'));
  EXPECT_FALSE(IsCjkIdeograph(0xB7));
  EXPECT_FALSE(IsCjkIdeograph(0x3000));
}

}  // namespace
}  // namespace custvault::catalog
