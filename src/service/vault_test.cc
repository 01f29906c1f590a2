#include "service/vault.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "audit/verify.h"
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

// Issue 10.3 (R-AUD-6): a change whose entry was written with it but never
// chained into audit.db (the process died between the two commits,
// simulated by stopping the audit writer first) gets its entry at the next
// open, before anything is served, once.
int64_t EntriesFor(Vault& vault, const std::string& customer_id, const std::string& operation) {
  store::AuditQuery query;
  query.customer_id = customer_id;
  query.operation = operation;
  query.limit = 100;
  Result<std::vector<store::AuditEntryRow>> rows = vault.audit().log().store().Search(query);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  int64_t ok = 0;
  for (const store::AuditEntryRow& row : rows.value()) ok += row.result == "ok" ? 1 : 0;
  return ok;
}

TEST(VaultTest, R_AUD_6_ChangesCommittedBeforeTheAuditWriterStoppedGetTheirEntriesAtOpen) {
  TestDataDir dir(FastAuthEnvironment());
  std::string kept, updated, deleted, created;
  {
    Result<std::unique_ptr<Vault>> vault =
        Vault::Open(Env::Default(), dir.path(), FastAuthEnvironment());
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    TestStaff staff((*vault)->accounts(), dir);
    Result<Actor> manager = staff.ActorFor(Role::kInfoManager);
    ASSERT_TRUE(manager.ok()) << manager.status().ToString();
    CustomerService& customers = (*vault)->customers();
    for (std::string* id : {&kept, &updated, &deleted}) {
      Result<CustomerView> made = customers.Create(*manager, {{"name", "张三"}});
      ASSERT_TRUE(made.ok()) << made.status().ToString();
      *id = made->id;
    }
    // The audit writer stops: every change below commits, its entry does not.
    ASSERT_TRUE((*vault)->audit().log().Close().ok());
    Result<CustomerView> create = customers.Create(*manager, {{"name", "李四"}});
    EXPECT_EQ(create.status().code(), ErrorCode::kUnavailable);
    Result<CustomerView> update =
        customers.Update(*manager, updated, {{"phone", std::optional<std::string>("13900001111")}});
    EXPECT_EQ(update.status().code(), ErrorCode::kUnavailable);
    EXPECT_EQ(customers.Delete(*manager, deleted).code(), ErrorCode::kUnavailable);
    NewTransaction transaction;
    transaction.amount_fen = 1234;
    transaction.occurred_at = "2026-01-02T03:04:05Z";
    transaction.channel = "app";
    EXPECT_EQ((*vault)->business().AddTransaction(*manager, kept, transaction).status().code(),
              ErrorCode::kUnavailable);
    Result<std::vector<store::AuditOutboxEntry>> outbox = (*vault)->store().AuditOutbox(0, 100);
    ASSERT_TRUE(outbox.ok());
    ASSERT_EQ(outbox->size(), 4u);  // the four changes, in commit order
    created = (*outbox)[0].row.customer_id;
    EXPECT_TRUE((*vault)->store().GetCustomer(created).ok());
    EXPECT_EQ((*vault)->store().GetCustomer(deleted).status().code(), ErrorCode::kNotFound);
  }
  for (int open = 0; open < 2; ++open) {  // the second open chains nothing again
    Result<std::unique_ptr<Vault>> vault =
        Vault::Open(Env::Default(), dir.path(), FastAuthEnvironment());
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    EXPECT_EQ(EntriesFor(**vault, created, "customer.create"), 1);
    EXPECT_EQ(EntriesFor(**vault, updated, "customer.update"), 1);
    EXPECT_EQ(EntriesFor(**vault, deleted, "customer.delete"), 1);
    EXPECT_EQ(EntriesFor(**vault, kept, "business.add"), 1);
    EXPECT_EQ(EntriesFor(**vault, kept, "customer.create"), 1);
    EXPECT_TRUE((*vault)->store().AuditOutbox(0, 100)->empty());
    Result<audit::VerifyReport> report =
        audit::VerifyChain((*vault)->audit().log().store(), (*vault)->keyring());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->intact());
  }
}

// Issue 10.3: an entry chained in audit.db whose outbox row the crash left
// behind is not chained a second time at open.
TEST(VaultTest, R_AUD_6_AnOutboxRowWhoseEntryIsChainedIsOnlyDeletedAtOpen) {
  TestDataDir dir(FastAuthEnvironment());
  std::string id;
  {
    Result<std::unique_ptr<Vault>> vault =
        Vault::Open(Env::Default(), dir.path(), FastAuthEnvironment());
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    TestStaff staff((*vault)->accounts(), dir);
    Result<Actor> manager = staff.ActorFor(Role::kInfoManager);
    ASSERT_TRUE(manager.ok());
    Result<CustomerView> made = (*vault)->customers().Create(*manager, {{"name", "王五"}});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    id = made->id;
    // Chained, but no later write ran to delete its outbox row.
    Result<std::vector<store::AuditOutboxEntry>> outbox = (*vault)->store().AuditOutbox(0, 100);
    ASSERT_TRUE(outbox.ok());
    ASSERT_EQ(outbox->size(), 1u);
  }
  Result<std::unique_ptr<Vault>> vault =
      Vault::Open(Env::Default(), dir.path(), FastAuthEnvironment());
  ASSERT_TRUE(vault.ok()) << vault.status().ToString();
  EXPECT_EQ(EntriesFor(**vault, id, "customer.create"), 1);
  EXPECT_TRUE((*vault)->store().AuditOutbox(0, 100)->empty());
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
