#include "service/vault.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

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

// The real files, except that reading under `denied` fails as EACCES does
// (the tests run as root, which mode 000 does not stop).
class DeniedEnv final : public Env {
 public:
  explicit DeniedEnv(std::string denied) : denied_(std::move(denied)) {}
  int64_t NowMicros() override { return Env::Default()->NowMicros(); }
  Status RandomBytes(std::span<uint8_t> out) override { return Env::Default()->RandomBytes(out); }
  Result<std::string> ReadFile(const std::string& path) override {
    if (path.rfind(denied_, 0) == 0) return Internal("cannot open " + path + ": Permission denied");
    return Env::Default()->ReadFile(path);
  }
  Status WriteFileAtomic(const std::string& path, std::string_view data, int mode,
                         bool exclusive) override {
    return Env::Default()->WriteFileAtomic(path, data, mode, exclusive);
  }
  Result<int> FileMode(const std::string& path) override { return Env::Default()->FileMode(path); }
  bool FileExists(const std::string& path) override {
    return path.rfind(denied_ + "/", 0) != 0 && Env::Default()->FileExists(path);
  }
  Status RemoveFile(const std::string& path) override { return Env::Default()->RemoveFile(path); }
  Status CreateDirectories(const std::string& path, int mode) override {
    return Env::Default()->CreateDirectories(path, mode);
  }

 private:
  const std::string denied_;
};

// Issue 11.8: a directory that cannot be read is not "no data directory".
TEST(VaultTest, Issue11_8_AnUnreadableDataDirectorySaysWhyNotToRunInit) {
  TestDataDir dir(FastAuthEnvironment());
  DeniedEnv env(dir.path());
  for (const bool init : {false, true}) {
    const Status status = init ? InitDataDirectory(&env, dir.path(), FastAuthEnvironment()).status()
                               : Vault::Open(&env, dir.path(), FastAuthEnvironment()).status();
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.message().find("cannot read the custvault data directory"), std::string::npos)
        << status.ToString();
    EXPECT_NE(status.message().find("Permission denied"), std::string::npos) << status.ToString();
    EXPECT_EQ(status.message().find("custvault init"), std::string::npos) << status.ToString();
  }
}

// Issue 11.6: init refuses a directory holding a vault without its master
// key (or its config) before writing anything, and says what is missing;
// open says the same instead of failing on a key that does not open.
TEST(VaultTest, Issue11_6_InitRefusesAVaultMissingItsMasterKeyOrConfigAndWritesNothing) {
  for (const char* missing : {"master.key", "custvault.toml"}) {
    TestDataDir dir(FastAuthEnvironment());
    ASSERT_EQ(::unlink((dir.path() + "/" + missing).c_str()), 0);
    std::map<std::string, std::string> before;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
      before[entry.path().string()] =
          entry.is_regular_file() ? Env::Default()->ReadFile(entry.path().string()).value() : "";
    }
    Result<InitResult> init = InitDataDirectory(Env::Default(), dir.path(), FastAuthEnvironment());
    ASSERT_FALSE(init.ok());
    EXPECT_EQ(init.status().code(), ErrorCode::kConflict);
    EXPECT_NE(init.status().message().find(std::string(missing) + " is missing"), std::string::npos)
        << init.status().ToString();
    Result<std::unique_ptr<Vault>> vault =
        Vault::Open(Env::Default(), dir.path(), FastAuthEnvironment());
    ASSERT_FALSE(vault.ok());
    EXPECT_NE(vault.status().message().find(std::string(missing) + " is missing"),
              std::string::npos)
        << vault.status().ToString();
    std::map<std::string, std::string> after;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
      after[entry.path().string()] =
          entry.is_regular_file() ? Env::Default()->ReadFile(entry.path().string()).value() : "";
    }
    EXPECT_EQ(after, before) << missing;
  }
}

}  // namespace
}  // namespace custvault::service
