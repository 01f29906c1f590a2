// R-BAK-2: a restore test records a pass for a sound backup and a fail,
// with the failed check named, for a corrupted one; the scratch directory
// is gone afterwards; the result is audited. R-CRY-5: a deleted customer
// that comes back is a failure.
#include "backup/restore_test.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "audit/entry.h"
#include "common/fake_env.h"
#include "service/test_vault.h"
#include "store/shred_ledger.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/sqlite_audit_store.h"

namespace custvault::backup {
namespace {

namespace fs = std::filesystem;
using service::Role;

constexpr int kCustomers = 30;

class RestoreTesterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backup_dir_ = dir_.path() + "-copy";
    fs::remove_all(backup_dir_);
    fs::create_directories(backup_dir_);
    scratch_parent_ = dir_.path() + "-scratch";
    fs::remove_all(scratch_parent_);
    fs::create_directories(scratch_parent_);
    OpenVault();
    auto clerk = Staff().ActorFor(Role::kEntryClerk);
    auto manager_token = Staff().Token(Role::kInfoManager);
    ASSERT_TRUE(manager_token.ok());
    manager_token_ = *manager_token;
    ASSERT_TRUE(clerk.ok()) << clerk.status().ToString();
    for (int i = 0; i < kCustomers; ++i) {
      auto created = vault_->customers().Create(
          *clerk, {{"name", "张三"}, {"phone", "1381234" + std::to_string(1000 + i)},
                   {"id_number", "11010519491231002X"}});
      ASSERT_TRUE(created.ok()) << created.status().ToString();
      ids_.push_back(created->id);
    }
    // "Back up": close the vault (its WAL is folded into the files), copy.
    staff_.reset();
    vault_.reset();
    fs::copy_file(dir_.path() + "/custvault.db", backup_dir_ + "/custvault.db");
    fs::copy_file(dir_.path() + "/audit.db", backup_dir_ + "/audit.db");
    OpenVault();
    audit_entries_ = AuditEntriesIn(backup_dir_ + "/audit.db");
  }
  void TearDown() override {
    staff_.reset();
    vault_.reset();
    fs::remove_all(backup_dir_);
    fs::remove_all(scratch_parent_);
  }

  // Staff of the open vault (the initial accounts log in once per data directory).
  service::TestStaff& Staff() {
    if (!staff_) staff_ = std::make_unique<service::TestStaff>(vault_->accounts(), dir_);
    return *staff_;
  }

  void OpenVault() {
    auto vault = service::Vault::Open(&env_, dir_.path(), service::FastAuthEnvironment());
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
  }

  static int64_t AuditEntriesIn(const std::string& path) {
    auto store = store::sqlite::SqliteAuditStore::Open({.path = path});
    EXPECT_TRUE(store.ok());
    auto count = (*store)->EntryCount();
    return count.ok() ? *count : -1;
  }

  // A restore that copies the "backup" and lets the test damage the copy.
  RestoreIntoFn CopyRestore(std::function<void(const std::string&)> damage = {},
                            int64_t customers_expected = kCustomers) {
    return [this, damage, customers_expected](const std::string& scratch) -> Result<RestoredData> {
      seen_scratch_ = scratch;
      fs::copy_file(backup_dir_ + "/custvault.db", scratch + "/custvault.db");
      fs::copy_file(backup_dir_ + "/audit.db", scratch + "/audit.db");
      if (damage) damage(scratch);
      RestoredData data;
      data.custvault_db_path = scratch + "/custvault.db";
      data.audit_db_path = scratch + "/audit.db";
      data.backup_id = "full-test";
      data.chain = {"full-test"};
      data.customers_expected = customers_expected;
      data.audit_entries_expected = audit_entries_;
      return data;
    };
  }

  RestoreTestOptions Options() {
    RestoreTestOptions options;
    options.scratch_parent = scratch_parent_;
    options.samples = 10;
    options.trigger = "job";
    options.actor_id = "job:restore_test";
    options.shred_ledger_path = dir_.path() + "/" + store::kShredLedgerFileName;
    return options;
  }

  Result<RestoreTestRecord> RunTester(const RestoreIntoFn& restore,
                                      const RestoreTestOptions& options) {
    RestoreTester tester(&env_, vault_->catalog(),
                         dir_.path() + "/" + vault_->config().crypto.master_key_file,
                         vault_->keyring().profile(), log_, &vault_->audit().log());
    return tester.Run(restore, options);
  }

  int64_t RestoreTestAuditEntries(std::string_view result) {
    store::AuditQuery query;
    query.operation = std::string(audit::op::kRestoreTest);
    query.limit = 100;
    auto rows = vault_->audit().log().store().Search(query);
    EXPECT_TRUE(rows.ok());
    int64_t n = 0;
    for (const auto& row : *rows) n += row.result == result;
    return n;
  }

  FakeEnv env_{Env::Default()->NowMicros()};
  service::TestDataDir dir_{service::FastAuthEnvironment()};
  std::unique_ptr<service::Vault> vault_;
  std::unique_ptr<service::TestStaff> staff_;
  std::string backup_dir_, scratch_parent_, seen_scratch_, manager_token_;
  std::vector<std::string> ids_;
  int64_t audit_entries_ = 0;
  RestoreTestLog log_{&env_, {dir_.path() + "-scratch/records"}};
};

TEST_F(RestoreTesterTest, ASoundBackupPassesAndIsRecordedAndAudited) {
  auto record = RunTester(CopyRestore(), Options());
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_TRUE(record->passed) << record->failure;
  EXPECT_EQ(record->integrity_custvault_db, "ok");
  EXPECT_EQ(record->integrity_audit_db, "ok");
  EXPECT_TRUE(record->audit_chain_intact);
  EXPECT_EQ(record->customers_found, kCustomers);
  EXPECT_EQ(record->audit_entries, audit_entries_);
  EXPECT_EQ(record->samples_tried, 10);
  EXPECT_EQ(record->samples_failed, 0);
  EXPECT_EQ(record->backup_id, "full-test");
  EXPECT_FALSE(seen_scratch_.empty());
  EXPECT_FALSE(fs::exists(seen_scratch_)) << "the scratch directory must be removed";
  auto listed = log_.List(5);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].passed);
  EXPECT_EQ(RestoreTestAuditEntries(audit::result::kOk), 1);
}

TEST_F(RestoreTesterTest, MoreSamplesThanCustomersDecryptsThemAll) {
  RestoreTestOptions options = Options();
  options.samples = 1000;
  auto record = RunTester(CopyRestore(), options);
  ASSERT_TRUE(record.ok());
  EXPECT_TRUE(record->passed) << record->failure;
  EXPECT_EQ(record->samples_tried, kCustomers);
}

TEST_F(RestoreTesterTest, AFailedRestoreIsRecordedAsAFailNamingThePiece) {
  auto refuse = [this](const std::string& scratch) -> Result<RestoredData> {
    seen_scratch_ = scratch;
    std::ofstream(scratch + "/partial") << "x";
    return DataLoss("incr-20261129T230000Z chunk 3: SM3 does not match the manifest");
  };
  auto record = RunTester(refuse, Options());
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_FALSE(record->passed);
  EXPECT_NE(record->failure.find("incr-20261129T230000Z chunk 3"), std::string::npos)
      << record->failure;
  EXPECT_FALSE(fs::exists(seen_scratch_));
  EXPECT_EQ(RestoreTestAuditEntries(audit::result::kFailed), 1);
  auto status = log_.CurrentStatus(env_.NowMicros());
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->overdue) << "a failed test is no pass";
}

TEST_F(RestoreTesterTest, ACorruptedDatabaseFailsTheIntegrityCheck) {
  // The page header of every page after the first is overwritten: a block
  // of garbage at one offset can land on free pages (a migration that
  // rebuilds a table frees some), which integrity_check rightly ignores.
  auto damage = [](const std::string& scratch) {
    const std::string path = scratch + "/custvault.db";
    const auto size = fs::file_size(path);
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    unsigned char page_size_bytes[2] = {};
    file.seekg(16);
    file.read(reinterpret_cast<char*>(page_size_bytes), 2);
    const size_t page_size = (size_t{page_size_bytes[0]} << 8) | page_size_bytes[1];
    ASSERT_GE(page_size, 512u);
    const std::string garbage(12, '\x33');
    for (size_t offset = page_size; offset + garbage.size() <= size; offset += page_size) {
      file.seekp(static_cast<std::streamoff>(offset));
      file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
  };
  auto record = RunTester(CopyRestore(damage), Options());
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_FALSE(record->passed);
  EXPECT_NE(record->failure.find("custvault.db integrity check"), std::string::npos)
      << record->failure;
  EXPECT_NE(record->integrity_custvault_db, "ok");
}

TEST_F(RestoreTesterTest, ACountDifferentFromTheManifestFails) {
  auto record = RunTester(CopyRestore({}, kCustomers + 1), Options());
  ASSERT_TRUE(record.ok());
  EXPECT_FALSE(record->passed);
  EXPECT_EQ(record->failure, "customers: 30 restored, the manifest says 31");
}

TEST_F(RestoreTesterTest, AnEditedAuditEntryFailsTheChainCheck) {
  auto damage = [](const std::string& scratch) {
    auto connection = store::sqlite::Connection::Open({.path = scratch + "/audit.db"});
    ASSERT_TRUE(connection.ok());
    // As an attacker with file access: drop the guard triggers, edit one entry.
    ASSERT_TRUE((*connection)
                    ->Exec("DROP TRIGGER IF EXISTS audit_entries_append_only;"
                           "UPDATE audit_entries SET actor_id = 'someone-else' WHERE seq = 2;",
                           "tamper")
                    .ok());
  };
  auto record = RunTester(CopyRestore(damage), Options());
  ASSERT_TRUE(record.ok());
  EXPECT_FALSE(record->passed);
  EXPECT_FALSE(record->audit_chain_intact);
  EXPECT_NE(record->failure.find("audit chain broken at seq 2"), std::string::npos)
      << record->failure;
}

TEST_F(RestoreTesterTest, ACustomerDeletedAfterTheBackupComingBackIsAFailure) {
  // The backup predates the deletion, and this restore (unlike the real
  // one) does not shred again: the test must notice.
  auto manager = vault_->accounts().Authenticate(manager_token_, "127.0.0.1");
  ASSERT_TRUE(manager.ok());
  ASSERT_TRUE(vault_->customers().Delete(*manager, ids_[3]).ok());
  auto record = RunTester(CopyRestore(), Options());
  ASSERT_TRUE(record.ok());
  EXPECT_FALSE(record->passed);
  EXPECT_NE(record->failure.find("deleted customers are back, first " + ids_[3]),
            std::string::npos)
      << record->failure;
}

TEST_F(RestoreTesterTest, AWrongCustomerKekFailsTheSamples) {
  // The customer-kek of the copy replaced by a fresh one: keys unwrap no more.
  auto damage = [this](const std::string& scratch) {
    auto keyring = crypto::Keyring::Open(
        &env_, dir_.path() + "/" + vault_->config().crypto.master_key_file,
        vault_->keyring().profile(), false);
    ASSERT_TRUE(keyring.ok());
    auto fresh = (*keyring)->CreateDomainKey(crypto::kCustomerKekPurpose, 1);
    ASSERT_TRUE(fresh.ok());
    auto connection = store::sqlite::Connection::Open({.path = scratch + "/custvault.db"});
    ASSERT_TRUE(connection.ok());
    auto update = (*connection)
                      ->Prepare("UPDATE keys SET wrapped = ?1 WHERE purpose = 'customer-kek'",
                                "replace kek");
    ASSERT_TRUE(update.ok());
    (*update)->BindBlob(1, fresh->wrapped);
    ASSERT_TRUE((*update)->Run().ok());
  };
  auto record = RunTester(CopyRestore(damage), Options());
  ASSERT_TRUE(record.ok());
  EXPECT_FALSE(record->passed);
  EXPECT_EQ(record->samples_failed, 10);
  EXPECT_NE(record->failure.find("10 of 10 sampled customers do not decrypt"), std::string::npos)
      << record->failure;
}

}  // namespace
}  // namespace custvault::backup
