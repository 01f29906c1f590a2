// Tests of BackupService: the policy on every backup use case, the audit
// entries (R-BAK-1, R-AUD-1), and the online restore through approval
// (R-BAK-2, R-APR-1).
#include "service/backup_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "audit/entry.h"
#include "service/test_vault.h"

namespace custvault::service {
namespace {

namespace fs = std::filesystem;

class BackupServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    environment_ = FastAuthEnvironment();
    dir_ = std::make_unique<TestDataDir>(environment_);
    Result<std::unique_ptr<Vault>> vault = Vault::Open(Env::Default(), dir_->path(), environment_);
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    staff_ = std::make_unique<TestStaff>(vault_->accounts(), *dir_);
  }
  void TearDown() override {
    staff_.reset();
    vault_.reset();
  }

  Actor As(Role role) {
    Result<Actor> actor = staff_->ActorFor(role);
    EXPECT_TRUE(actor.ok()) << actor.status().ToString();
    return actor.ok() ? *actor : Actor{};
  }

  std::vector<store::AuditEntryRow> Entries(std::string_view operation) {
    AuditSearch search;
    search.operation = std::string(operation);
    search.limit = 100;
    Result<AuditEntryPage> page = vault_->audit().Search(As(Role::kAuditor), search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<store::AuditEntryRow>{};
  }

  std::map<std::string, std::string> environment_;
  std::unique_ptr<TestDataDir> dir_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<TestStaff> staff_;
};

TEST_F(BackupServiceTest, R_BAK_1_TheSystemAdministratorTakesBackupsAndEachIsAudited) {
  Result<backup::BackupResult> full = vault_->backups().Run(As(Role::kSysAdmin), {.full = true});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  Result<backup::BackupResult> incremental =
      vault_->backups().Run(As(Role::kSysAdmin), {.full = false});
  ASSERT_TRUE(incremental.ok()) << incremental.status().ToString();
  EXPECT_EQ(incremental->manifest.previous_id, full->manifest.id);

  const std::vector<store::AuditEntryRow> runs = Entries(audit::op::kBackupRun);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_NE(runs[0].details.find(full->manifest.id), std::string::npos);
  EXPECT_NE(runs[0].details.find("manifest_sm3"), std::string::npos);
  EXPECT_EQ(runs[0].result, audit::result::kOk);
}

TEST_F(BackupServiceTest, OtherRolesMayNotTakeBackupsAndOnlyBackupReadersList) {
  for (Role role : {Role::kEntryClerk, Role::kInfoManager, Role::kAuditor, Role::kSecurityOfficer}) {
    EXPECT_EQ(vault_->backups().Run(As(role), {.full = true}).status().code(),
              ErrorCode::kPermissionDenied)
        << RoleName(role);
  }
  EXPECT_EQ(vault_->backups().List(As(Role::kEntryClerk)).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(vault_->backups().List(As(Role::kAuditor)).ok());
  EXPECT_TRUE(vault_->backups().List(As(Role::kSecurityOfficer)).ok());
}

TEST_F(BackupServiceTest, AJobTakesBackupsWithoutAnAccount) {
  Result<backup::BackupResult> full =
      vault_->backups().Run(ApprovalService::JobActor("backup_full"), {.full = true});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  const std::vector<store::AuditEntryRow> runs = Entries(audit::op::kBackupRun);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].actor_id, "job:backup_full");
}

TEST_F(BackupServiceTest, VerifyIsAuditedWithItsOutcome) {
  Result<backup::BackupResult> full = vault_->backups().Run(As(Role::kSysAdmin), {.full = true});
  ASSERT_TRUE(full.ok());
  ASSERT_TRUE(vault_->backups().Verify(As(Role::kAuditor), full->manifest.id).ok());
  // Damage it: the verification fails, naming the piece, and says so in the log.
  const std::string piece = full->path + "/custvault.db.cvb";
  std::string bytes;
  {
    std::ifstream in(piece, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  bytes[bytes.size() / 2] ^= 1;
  {
    std::ofstream out(piece, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  Result<backup::VerifyResult> broken = vault_->backups().Verify(As(Role::kAuditor), full->manifest.id);
  ASSERT_EQ(broken.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(broken.status().message().find("piece custvault.db"), std::string::npos);
  const std::vector<store::AuditEntryRow> verifies = Entries(audit::op::kBackupVerify);
  ASSERT_EQ(verifies.size(), 2u);
  EXPECT_EQ(verifies[0].result, audit::result::kOk);
  EXPECT_EQ(verifies[1].result, audit::result::kFailed);
}

TEST_F(BackupServiceTest, R_BAK_2_AnOnlineRestoreRunsOnlyWhenTheSecurityOfficerApproves) {
  Result<backup::BackupResult> full = vault_->backups().Run(As(Role::kSysAdmin), {.full = true});
  ASSERT_TRUE(full.ok());
  const Actor admin = As(Role::kSysAdmin);
  Result<ApprovalView> filed =
      vault_->backups().RequestRestore(admin, {.at_us = std::nullopt, .full_id = "", .reason = "drill"});
  ASSERT_TRUE(filed.ok()) << filed.status().ToString();
  EXPECT_EQ(filed->kind, "restore");
  EXPECT_EQ(filed->status, "pending");
  // Issue 11.5: into the data directory, never the backup location (the
  // restored vault holds a copy of the master key); the approval says so.
  const std::string target = OnlineRestoreTarget(vault_->config(), filed->id);
  EXPECT_EQ(target, vault_->config().data_dir + "/restores/" + filed->id);
  EXPECT_NE(filed->summary.find("never in a backup location"), std::string::npos) << filed->summary;
  EXPECT_FALSE(fs::exists(target));

  // The maker cannot decide it; an entry clerk may not ask.
  EXPECT_FALSE(vault_->approvals().Decide(admin, filed->id, {.approve = true}).ok());
  EXPECT_EQ(vault_->backups().RequestRestore(As(Role::kEntryClerk), {}).status().code(),
            ErrorCode::kPermissionDenied);

  Result<ApprovalView> decided =
      vault_->approvals().Decide(As(Role::kSecurityOfficer), filed->id, {.approve = true, .comment = "ok"});
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(decided->status, "approved") << decided->outcome;
  EXPECT_TRUE(fs::exists(target + "/custvault.toml"));
  EXPECT_TRUE(fs::exists(target + "/audit.db"));
  const std::string location = vault_->config().DataPath(vault_->config().backup.local_dir);
  for (const auto& entry : fs::recursive_directory_iterator(location)) {
    EXPECT_NE(entry.path().filename().string(), "master.key") << entry.path();
    EXPECT_EQ(entry.path().filename().string().find("restor"), std::string::npos) << entry.path();
  }
  Result<std::unique_ptr<Vault>> restored = Vault::Open(Env::Default(), target, environment_);
  EXPECT_TRUE(restored.ok()) << restored.status().ToString();
  const std::vector<store::AuditEntryRow> restores = Entries(audit::op::kBackupRestore);
  ASSERT_EQ(restores.size(), 1u);
  EXPECT_NE(restores[0].details.find(full->manifest.id), std::string::npos);
}

}  // namespace
}  // namespace custvault::service
