#include "service/vault.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "service/test_vault.h"

namespace custvault::service {
namespace {

TEST(VaultTest, InitCreatesPrivateFilesAndThreeSeparateAdminAccounts) {  // R-ACC-1
  TestDataDir dir(FastAuthEnvironment());
  Env* env = Env::Default();
  EXPECT_EQ(env->FileMode(dir.path()).value(), 0700);
  EXPECT_EQ(env->FileMode(dir.path() + "/master.key").value(), 0600);
  EXPECT_EQ(env->FileMode(dir.path() + "/initial-credentials").value(), 0600);
  const std::string credentials = env->ReadFile(dir.path() + "/initial-credentials").value();
  ASSERT_EQ(dir.initial_passwords().size(), 3u);
  for (const char* user : {"admin", "security", "auditor"}) {
    const std::string& password = dir.initial_passwords().at(user);
    EXPECT_GE(password.size(), 16u);
    EXPECT_NE(credentials.find(password), std::string::npos) << user;
  }
  EXPECT_NE(dir.initial_passwords().at("admin"), dir.initial_passwords().at("security"));
}

TEST(VaultTest, InitTwiceIsRefused) {
  TestDataDir dir(FastAuthEnvironment());
  Result<InitResult> again = InitDataDirectory(Env::Default(), dir.path(), FastAuthEnvironment());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), ErrorCode::kConflict);
}

TEST(VaultTest, InitialCredentialsAreRemovedOnceAllThreeChangedTheirPasswords) {  // issue 3 item 1
  TestDataDir dir(FastAuthEnvironment());
  Result<std::unique_ptr<Vault>> vault =
      Vault::Open(Env::Default(), dir.path(), FastAuthEnvironment());
  ASSERT_TRUE(vault.ok()) << vault.status().ToString();
  const std::string file = dir.path() + "/initial-credentials";
  ASSERT_TRUE(FirstLogin((*vault)->accounts(), "admin", dir.initial_passwords().at("admin")).ok());
  ASSERT_TRUE(
      FirstLogin((*vault)->accounts(), "security", dir.initial_passwords().at("security")).ok());
  EXPECT_TRUE(Env::Default()->FileExists(file));
  ASSERT_TRUE(
      FirstLogin((*vault)->accounts(), "auditor", dir.initial_passwords().at("auditor")).ok());
  EXPECT_FALSE(Env::Default()->FileExists(file));
}

TEST(VaultTest, OpeningAMissingDirectorySaysToRunInit) {
  Result<std::unique_ptr<Vault>> vault = Vault::Open(Env::Default(), "/nonexistent/cv", {});
  ASSERT_FALSE(vault.ok());
  EXPECT_EQ(vault.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(vault.status().message().find("custvault init"), std::string::npos);
}

TEST(VaultTest, AMasterKeyReadableByOthersStopsTheStart) {  // R-CRY-2
  TestDataDir dir(FastAuthEnvironment());
  ASSERT_EQ(::chmod((dir.path() + "/master.key").c_str(), 0644), 0);
  Result<std::unique_ptr<Vault>> vault = Vault::Open(Env::Default(), dir.path(), {});
  ASSERT_FALSE(vault.ok());
  EXPECT_EQ(vault.status().code(), ErrorCode::kPermissionDenied);
}

TEST(VaultTest, ABadConfigKeyStopsTheStartWithTheKeyNamed) {
  TestDataDir dir(FastAuthEnvironment());
  Result<std::unique_ptr<Vault>> vault =
      Vault::Open(Env::Default(), dir.path(), {{"CUSTVAULT_CRYPTO_PROFILE", "rot13"}});
  ASSERT_FALSE(vault.ok());
  EXPECT_NE(vault.status().message().find("crypto.profile"), std::string::npos);
}

}  // namespace
}  // namespace custvault::service
