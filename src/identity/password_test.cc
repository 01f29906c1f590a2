#include "identity/password.h"

#include <gtest/gtest.h>

#include "common/fake_env.h"

namespace custvault::identity {
namespace {

// Small parameters keep the tests fast; the production cost is measured in
// bench/password_benchmark.cc.
constexpr Argon2Params kTestParams{.memory_kib = 256, .iterations = 1, .parallelism = 1};

std::vector<std::string> Reasons(const Status& status) {
  std::vector<std::string> reasons;
  for (const FieldError& error : status.details()) reasons.push_back(error.reason);
  return reasons;
}

// R-ACC-4: upper, lower, digit, special, minimum length.
TEST(PasswordPolicyTest, R_ACC_4_AcceptsAComplexPasswordOfTheMinimumLength) {
  AuthConfig config;
  EXPECT_TRUE(CheckPasswordPolicy("Abcdefgh1!xy", "alice", config).ok());
  EXPECT_TRUE(CheckPasswordPolicy("密码Passw0rd123", "alice", config).ok());  // 中文 counts as special
}

TEST(PasswordPolicyTest, R_ACC_4_NamesEveryBrokenRule) {
  AuthConfig config;
  const Status status = CheckPasswordPolicy("abc", "alice", config);
  ASSERT_EQ(status.code(), ErrorCode::kValidationFailed);
  EXPECT_EQ(Reasons(status),
            (std::vector<std::string>{"too_short", "no_upper", "no_digit", "no_special"}));
  EXPECT_EQ(status.message().find("abc"), std::string::npos);  // never echoes the password
  EXPECT_EQ(Reasons(CheckPasswordPolicy("ABCDEFGH1!XY", "bob", config)),
            std::vector<std::string>{"no_lower"});
}

TEST(PasswordPolicyTest, R_ACC_4_MinimumLengthComesFromTheConfig) {
  AuthConfig config;
  config.password_length_min = 16;
  EXPECT_EQ(Reasons(CheckPasswordPolicy("Abcdefgh1!xyz", "bob", config)),
            std::vector<std::string>{"too_short"});
}

TEST(PasswordPolicyTest, RefusesThePasswordContainingTheUsername) {
  AuthConfig config;
  EXPECT_EQ(Reasons(CheckPasswordPolicy("xxAlice2026!!", "alice", config)),
            std::vector<std::string>{"contains_username"});
}

TEST(PasswordPolicyTest, RefusesControlCharactersBadUtf8AndHugeInput) {
  AuthConfig config;
  EXPECT_EQ(Reasons(CheckPasswordPolicy("Abcdefgh1!xy\n", "bob", config)),
            std::vector<std::string>{"control_character"});
  EXPECT_EQ(Reasons(CheckPasswordPolicy("Abcdefgh1!xy\xff", "bob", config)),
            std::vector<std::string>{"encoding"});
  EXPECT_EQ(Reasons(CheckPasswordPolicy(std::string(300, 'A'), "bob", config)),
            std::vector<std::string>{"too_long"});
}

TEST(PasswordHashTest, R_ACC_4_Argon2idEncodesAndVerifies) {
  Result<std::string> hash = HashPassword(Env::Default(), "Correct-Horse-9", kTestParams);
  ASSERT_TRUE(hash.ok()) << hash.status().ToString();
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=256,t=1,p=1$", 0), 0u) << *hash;
  EXPECT_EQ(*VerifyPassword(*hash, "Correct-Horse-9"), true);
  EXPECT_EQ(*VerifyPassword(*hash, "Correct-Horse-8"), false);
  EXPECT_EQ(*VerifyPassword(*hash, ""), false);
  EXPECT_EQ(*VerifyPassword(*hash, std::string(1000, 'x')), false);
  // A fresh salt each time.
  Result<std::string> again = HashPassword(Env::Default(), "Correct-Horse-9", kTestParams);
  EXPECT_NE(*hash, *again);
}

// Known answers from the argon2 reference implementation's own tests
// (phc-winner-argon2 src/test.c, argon2id v=19, password "password", salt
// "somesalt"): hashes made elsewhere, with other parameters, verify here.
TEST(PasswordHashTest, R_ACC_4_VerifiesReferenceArgon2idHashes) {
  for (const char* encoded :
       {"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"}) {
    Result<bool> verified = VerifyPassword(encoded, "password");
    ASSERT_TRUE(verified.ok()) << verified.status().ToString();
    EXPECT_TRUE(*verified) << encoded;
    EXPECT_FALSE(*VerifyPassword(encoded, "passwore")) << encoded;
    EXPECT_TRUE(NeedsRehash(encoded, kTestParams));
  }
}

TEST(PasswordHashTest, AGarbledStoredHashIsDataLoss) {
  EXPECT_EQ(VerifyPassword("$argon2id$v=19$nonsense", "x").status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(VerifyPassword("", "x").status().code(), ErrorCode::kDataLoss);
}

TEST(PasswordHashTest, NeedsRehashComparesTheParameters) {
  Result<std::string> hash = HashPassword(Env::Default(), "Correct-Horse-9", kTestParams);
  ASSERT_TRUE(hash.ok());
  EXPECT_FALSE(NeedsRehash(*hash, kTestParams));
  EXPECT_TRUE(NeedsRehash(*hash, {.memory_kib = 512, .iterations = 1, .parallelism = 1}));
}

TEST(PasswordHashTest, OneTimePasswordsMeetThePolicy) {
  AuthConfig config;
  for (int i = 0; i < 20; ++i) {
    Result<std::string> password = GenerateOneTimePassword(Env::Default(), 20);
    ASSERT_TRUE(password.ok());
    EXPECT_EQ(password->size(), 20u);
    EXPECT_TRUE(CheckPasswordPolicy(*password, "admin", config).ok()) << i;
  }
  EXPECT_FALSE(GenerateOneTimePassword(Env::Default(), 8).ok());
}

}  // namespace
}  // namespace custvault::identity
