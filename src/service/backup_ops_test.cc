// R-BAK-1, R-BAK-2, R-OPS-2: the backup operations check the policy, run
// as jobs under the job actor with an audit entry, and say plainly what is
// missing when the backup core is not wired in.
#include "service/backup_ops.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "audit/entry.h"
#include "backup/backup_engine.h"
#include "common/fake_env.h"
#include "service/test_vault.h"

namespace custvault::service {
namespace {

class BackupOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto vault = Vault::Open(&env_, dir_.path(), FastAuthEnvironment());
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    staff_ = std::make_unique<TestStaff>(vault_->accounts(), dir_);
  }
  void TearDown() override {
    staff_.reset();
    vault_.reset();
  }

  Actor As(Role role) {
    auto actor = staff_->ActorFor(role);
    EXPECT_TRUE(actor.ok()) << actor.status().ToString();
    return actor.ok() ? *actor : Actor{};
  }

  int64_t AuditCount(std::string_view operation, std::string_view actor_id) {
    store::AuditQuery query;
    query.operation = std::string(operation);
    query.actor_id = std::string(actor_id);
    query.limit = 100;
    auto rows = vault_->audit().log().store().Search(query);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? static_cast<int64_t>(rows->size()) : -1;
  }

  FakeEnv env_{Env::Default()->NowMicros()};
  TestDataDir dir_{FastAuthEnvironment()};
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<TestStaff> staff_;
};

TEST_F(BackupOpsTest, RestoreTestRecordsAreReadByTheThreeAdministratorRolesOnly) {
  for (Role role : {Role::kAuditor, Role::kSecurityOfficer, Role::kSysAdmin}) {
    auto listing = vault_->backup_ops().RestoreTests(As(role), 20);
    ASSERT_TRUE(listing.ok()) << RoleName(role) << ": " << listing.status().ToString();
    EXPECT_TRUE(listing->records.empty());
    EXPECT_TRUE(listing->status.overdue) << "never tested is overdue (R-OPS-2)";
  }
  for (Role role : {Role::kEntryClerk, Role::kInfoManager, Role::kDeptHead}) {
    EXPECT_EQ(vault_->backup_ops().RestoreTests(As(role), 20).status().code(),
              ErrorCode::kPermissionDenied)
        << RoleName(role);
  }
}

TEST_F(BackupOpsTest, OnlyTheSystemAdministratorRunsARestoreTest) {
  RestoreTestRequest request;
  EXPECT_EQ(vault_->backup_ops().RestoreTest(As(Role::kAuditor), request).status().code(),
            ErrorCode::kPermissionDenied);
  // Allowed; with no backup at all the test runs and is recorded as failed.
  auto record = vault_->backup_ops().RestoreTest(As(Role::kSysAdmin), request);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_FALSE(record->passed);
  EXPECT_NE(record->failure.find("no usable full backup"), std::string::npos) << record->failure;
}

TEST_F(BackupOpsTest, ARestoreTestJobRunsAsTheJobActorAndIsAuditedEvenWhenItFails) {
  const Status outcome = vault_->backup_ops().RunRestoreTestJob();
  EXPECT_FALSE(outcome.ok());
  EXPECT_EQ(AuditCount(audit::op::kJobRun, "job:restore_test"), 1);
}

TEST_F(BackupOpsTest, TheBackupJobsAreRegisteredWithTheirConfiguredSchedules) {
  std::map<std::string, std::string> schedules;
  for (const jobs::JobStatus& job : vault_->scheduler().List()) schedules[job.name] = job.schedule;
  EXPECT_EQ(schedules["backup_incremental"], "daily 23:00");
  EXPECT_EQ(schedules["backup_full"], "weekly sun 03:00");
  EXPECT_EQ(schedules["restore_test"], "quarterly 04:00");
}

TEST_F(BackupOpsTest, ShippingIsOffWithoutAnOffsiteDirectory) {
  EXPECT_TRUE(vault_->backup_ops().StartShipping().ok());
  EXPECT_EQ(vault_->backup_ops().shipper(), nullptr);
  auto view = vault_->backup_ops().Shipping(As(Role::kAuditor));
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->configured);
  EXPECT_FALSE(view->running_here);
  EXPECT_EQ(vault_->backup_ops().Shipping(As(Role::kInfoManager)).status().code(),
            ErrorCode::kPermissionDenied);
}


// With real backups: a full backup and shipping off-site, a restore test
// that passes, the off-site copy and retention through the operations.
class BackupOpsWithOffsiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    offsite_ = dir_.path() + "-offsite";
    std::filesystem::remove_all(offsite_);
    std::filesystem::create_directories(offsite_);
    auto vault = Vault::Open(&env_, dir_.path(),
                             FastAuthEnvironment({{"CUSTVAULT_BACKUP_OFFSITE_DIR", offsite_},
                                                  {"CUSTVAULT_BACKUP_KEEP_FULL", "1"}}));
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    staff_ = std::make_unique<TestStaff>(vault_->accounts(), dir_);
    auto clerk = staff_->ActorFor(Role::kEntryClerk);
    ASSERT_TRUE(clerk.ok());
    clerk_ = *clerk;
    auto admin = staff_->ActorFor(Role::kSysAdmin);
    ASSERT_TRUE(admin.ok());
    admin_ = *admin;
    // The backup core's service is not in this test: take backups with its engine.
    vault_->backup_ops().SetCore({[this](const Actor&, bool full) -> Result<std::string> {
      auto key = backup::CurrentBackupKey(vault_->store());
      if (!key.ok()) return key.status();
      backup::BackupEngine engine(&env_, backup::EngineOptionsFromConfig(vault_->config()),
                                  vault_->keyring(), *key);
      auto result = full ? engine.RunFull() : engine.RunIncremental();
      if (!result.ok()) return result.status();
      return result->manifest.id;
    }});
  }
  void TearDown() override {
    staff_.reset();
    vault_.reset();
    std::filesystem::remove_all(offsite_);
  }

  void Create(int n) {
    for (int i = 0; i < n; ++i) {
      env_.AdvanceMicros(1000);
      ASSERT_TRUE(vault_->customers()
                      .Create(clerk_, {{"name", "赵六"}, {"phone", "1370000" + std::to_string(1000 + i)}})
                      .ok());
    }
  }

  FakeEnv env_{Env::Default()->NowMicros()};
  TestDataDir dir_{FastAuthEnvironment()};
  std::string offsite_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<TestStaff> staff_;
  Actor clerk_, admin_;
};

TEST_F(BackupOpsWithOffsiteTest, BackupJobsCopyOffsiteAndTheRestoreTestPasses) {
  Create(12);
  ASSERT_TRUE(vault_->backup_ops().RunBackupJob(/*full=*/true).ok());
  Create(5);
  ASSERT_TRUE(vault_->backup_ops().StartShipping().ok());
  ASSERT_NE(vault_->backup_ops().shipper(), nullptr);
  ASSERT_TRUE(vault_->backup_ops().shipper()->ShipOnce().ok());
  auto listed = backup::ListBackups(offsite_);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u) << "the full backup was copied off-site by the job";

  RestoreTestRequest request;
  request.samples = 10;
  auto record = vault_->backup_ops().RestoreTest(admin_, request);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_TRUE(record->passed) << record->failure;
  EXPECT_EQ(record->location, "offsite");  // Issue 10.13: never the server path
  EXPECT_EQ(record->customers_found, 17) << "the full backup and the shipped creates";
  EXPECT_GE(record->segments_applied, 1);
  EXPECT_EQ(record->samples_tried, 10);
  auto listing = vault_->backup_ops().RestoreTests(*staff_->ActorFor(Role::kAuditor), 10);
  ASSERT_TRUE(listing.ok());
  ASSERT_EQ(listing->records.size(), 1u);
  EXPECT_FALSE(listing->status.overdue);
  // The record is off-site too.
  EXPECT_TRUE(std::filesystem::exists(offsite_ + "/" + backup::kRestoreTestsFileName));
  vault_->backup_ops().StopShipping();
}

TEST_F(BackupOpsWithOffsiteTest, RetentionKeepsTheNewestChainInBothLocations) {
  Create(3);
  ASSERT_TRUE(vault_->backup_ops().RunBackupJob(true).ok());
  env_.AdvanceMicros(2'000'000);
  Create(2);
  ASSERT_TRUE(vault_->backup_ops().RunBackupJob(false).ok());
  env_.AdvanceMicros(2'000'000);
  ASSERT_TRUE(vault_->backup_ops().RunBackupJob(true).ok());
  // keep_full = 1: the first chain (full + incremental) is gone in both places.
  for (const std::string& location : {vault_->backup_ops().local_dir(), offsite_}) {
    auto listed = backup::ListBackups(location);
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u) << location;
    EXPECT_EQ((*listed)[0].manifest->kind, backup::BackupKind::kFull);
  }
  store::AuditQuery query;
  query.operation = std::string(audit::op::kBackupShip);
  query.actor_id = "job:backup_full";
  query.limit = 100;
  auto shipped = vault_->audit().log().store().Search(query);
  ASSERT_TRUE(shipped.ok());
  EXPECT_EQ(shipped->size(), 2u) << "each backup job audits its off-site copy";
  query.operation = std::string(audit::op::kJobRun);
  query.actor_id.clear();
  auto runs = vault_->audit().log().store().Search(query);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 3u);
}

TEST_F(BackupOpsWithOffsiteTest, ARestoreTestOfACorruptedOffsiteBackupIsRecordedAsAFail) {
  Create(5);
  ASSERT_TRUE(vault_->backup_ops().RunBackupJob(true).ok());
  auto listed = backup::ListBackups(offsite_);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  const std::string piece = offsite_ + "/" + (*listed)[0].id + "/custvault.db.cvb";
  {
    std::fstream file(piece, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    file.put('\x55');
  }
  RestoreTestRequest request;
  request.with_shipped = false;
  auto record = vault_->backup_ops().RestoreTest(admin_, request);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_FALSE(record->passed);
  EXPECT_NE(record->failure.find((*listed)[0].id), std::string::npos) << record->failure;
  EXPECT_NE(record->failure.find("custvault.db"), std::string::npos) << record->failure;
  auto listing = vault_->backup_ops().RestoreTests(admin_, 5);
  ASSERT_TRUE(listing.ok());
  ASSERT_EQ(listing->records.size(), 1u);
  EXPECT_FALSE(listing->records[0].passed);
  EXPECT_TRUE(listing->status.overdue);
}
}  // namespace
}  // namespace custvault::service
