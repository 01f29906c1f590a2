#include "identity/token.h"

#include <gtest/gtest.h>

namespace custvault::identity {
namespace {

TEST(TokenTest, IssuedTokensAreRandomPrefixedAndStoredOnlyAsTheirHash) {
  Result<IssuedToken> a = IssueToken(Env::Default(), kSessionTokenPrefix);
  Result<IssuedToken> b = IssueToken(Env::Default(), kSessionTokenPrefix);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->token, b->token);
  EXPECT_EQ(a->token.rfind("cvs_", 0), 0u);
  EXPECT_TRUE(LooksLikeToken(a->token, kSessionTokenPrefix));
  EXPECT_FALSE(LooksLikeToken(a->token, kApiKeyPrefix));
  EXPECT_EQ(a->hash, TokenHash(a->token));
  EXPECT_EQ(a->hash.size(), 64u);
  EXPECT_EQ(a->hash.find(a->token.substr(4)), std::string::npos);
}

TEST(TokenTest, ShapeCheckRefusesAnythingElse) {
  EXPECT_FALSE(LooksLikeToken("", kSessionTokenPrefix));
  EXPECT_FALSE(LooksLikeToken("cvs_" + std::string(64, 'G'), kSessionTokenPrefix));
  EXPECT_FALSE(LooksLikeToken("cvs_" + std::string(63, 'a'), kSessionTokenPrefix));
  EXPECT_TRUE(LooksLikeToken("cvk_" + std::string(64, 'a'), kApiKeyPrefix));
}

// SM3("abc") from GB/T 32905 appendix A: the hash is plain SM3 of the text.
TEST(TokenTest, TokenHashIsSm3Hex) {
  EXPECT_EQ(TokenHash("abc"), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

TEST(TokenTest, IdsCarryTheirPrefix) {
  Result<std::string> id = NewId(Env::Default(), "u_");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size(), 34u);
  EXPECT_EQ(id->rfind("u_", 0), 0u);
}

}  // namespace
}  // namespace custvault::identity
