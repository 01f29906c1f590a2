#include "service/vault.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "service/test_vault.h"

namespace custvault::service {
namespace {

TEST(VaultTest, InitCreatesPrivateFilesAndABootstrapTokenShownOnce) {
  TestDataDir dir;
  Env* env = Env::Default();
  EXPECT_EQ(env->FileMode(dir.path()).value(), 0700);
  EXPECT_EQ(env->FileMode(dir.path() + "/master.key").value(), 0600);
  EXPECT_EQ(env->FileMode(dir.path() + "/initial-credentials").value(), 0600);
  const std::string credentials = env->ReadFile(dir.path() + "/initial-credentials").value();
  EXPECT_NE(credentials.find(dir.token()), std::string::npos);
  EXPECT_EQ(dir.token().rfind("cvb_", 0), 0u);
  EXPECT_EQ(dir.token().size(), 4 + 2 * kBootstrapTokenBytes);
}

TEST(VaultTest, InitTwiceIsRefusedAndKeepsTheFirstToken) {
  TestDataDir dir;
  Result<InitResult> again = InitDataDirectory(Env::Default(), dir.path(), {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), ErrorCode::kConflict);
  Result<std::unique_ptr<Vault>> vault = Vault::Open(Env::Default(), dir.path(), {});
  ASSERT_TRUE(vault.ok()) << vault.status().ToString();
  EXPECT_TRUE((*vault)->AuthenticateBootstrapToken(dir.token(), "127.0.0.1").ok());
}

TEST(VaultTest, OnlyTheExactBootstrapTokenAuthenticates) {
  TestDataDir dir;
  Result<std::unique_ptr<Vault>> vault = Vault::Open(Env::Default(), dir.path(), {});
  ASSERT_TRUE(vault.ok()) << vault.status().ToString();
  std::string wrong = dir.token();
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ((*vault)->AuthenticateBootstrapToken(wrong, "ip").status().code(),
            ErrorCode::kUnauthenticated);
  EXPECT_FALSE((*vault)->AuthenticateBootstrapToken("", "ip").ok());
  EXPECT_FALSE((*vault)->AuthenticateBootstrapToken(std::string(10000, 'x'), "ip").ok());
  Result<Actor> actor = (*vault)->AuthenticateBootstrapToken(dir.token(), "10.1.2.3");
  ASSERT_TRUE(actor.ok());
  EXPECT_EQ(actor->ip, "10.1.2.3");
}

TEST(VaultTest, OpeningAMissingDirectorySaysToRunInit) {
  Result<std::unique_ptr<Vault>> vault = Vault::Open(Env::Default(), "/nonexistent/cv", {});
  ASSERT_FALSE(vault.ok());
  EXPECT_EQ(vault.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(vault.status().message().find("custvault init"), std::string::npos);
}

TEST(VaultTest, AMasterKeyReadableByOthersStopsTheStart) {  // R-CRY-2
  TestDataDir dir;
  ASSERT_EQ(::chmod((dir.path() + "/master.key").c_str(), 0644), 0);
  Result<std::unique_ptr<Vault>> vault = Vault::Open(Env::Default(), dir.path(), {});
  ASSERT_FALSE(vault.ok());
  EXPECT_EQ(vault.status().code(), ErrorCode::kPermissionDenied);
}

TEST(VaultTest, ABadConfigKeyStopsTheStartWithTheKeyNamed) {
  TestDataDir dir;
  Result<std::unique_ptr<Vault>> vault =
      Vault::Open(Env::Default(), dir.path(), {{"CUSTVAULT_CRYPTO_PROFILE", "rot13"}});
  ASSERT_FALSE(vault.ok());
  EXPECT_NE(vault.status().message().find("crypto.profile"), std::string::npos);
}

}  // namespace
}  // namespace custvault::service
