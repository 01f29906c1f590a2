// Who may list and run the scheduler's jobs, and what is audited
// (R-ACC-2 least privilege on every endpoint, R-AUD-1 every operation
// logged), through a real data directory.
#include "service/jobs_service.h"

#include <gtest/gtest.h>

#include <atomic>

#include "audit/entry.h"
#include "service/test_vault.h"
#include "service/vault.h"

namespace custvault::service {
namespace {

Actor Staff(Role role, const std::string& id) {
  Actor actor;
  actor.kind = ActorKind::kStaff;
  actor.id = id;
  actor.role = role;
  actor.ip = "127.0.0.1";
  return actor;
}

class JobsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Vault>> vault =
        Vault::Open(Env::Default(), dir_.path(), FastAuthEnvironment());
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(vault).value();
    ASSERT_TRUE(vault_
                    ->AddScheduledJob("nightly_test", "daily 01:00",
                                      [this] {
                                        ++runs_;
                                        return fail_ ? Internal("disk full") : Status::Ok();
                                      })
                    .ok());
  }

  std::vector<store::AuditEntryRow> Entries(const std::string& operation) {
    AuditSearch search;
    search.operation = operation;
    Result<AuditEntryPage> page =
        vault_->audit().Search(Staff(Role::kAuditor, "u_auditor"), search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<store::AuditEntryRow>{};
  }

  TestDataDir dir_{FastAuthEnvironment()};
  std::unique_ptr<Vault> vault_;
  std::atomic<int> runs_{0};
  std::atomic<bool> fail_{false};
};

TEST_F(JobsServiceTest, ListNeedsJobsRead) {
  for (Role role : {Role::kAuditor, Role::kSecurityOfficer, Role::kSysAdmin}) {
    Result<std::vector<jobs::JobStatus>> list = vault_->jobs().List(Staff(role, "u_reader"));
    ASSERT_TRUE(list.ok()) << RoleName(role);
    bool found = false;
    for (const jobs::JobStatus& status : *list) {
      if (status.name != "nightly_test") continue;
      found = true;
      EXPECT_EQ(status.schedule, "daily 01:00");
      EXPECT_TRUE(status.next_run_at_us.has_value());
    }
    EXPECT_TRUE(found);
  }
  for (Role role : {Role::kEntryClerk, Role::kInfoManager, Role::kDeptHead}) {
    EXPECT_EQ(vault_->jobs().List(Staff(role, "u_other")).status().code(),
              ErrorCode::kPermissionDenied)
        << RoleName(role);
  }
}

TEST_F(JobsServiceTest, RunNowIsForSystemAdministratorsAndADenialIsAudited) {
  const Status denied =
      vault_->jobs().RunNow(Staff(Role::kSecurityOfficer, "u_sec"), "nightly_test");
  EXPECT_EQ(denied.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(runs_, 0);
  const std::vector<store::AuditEntryRow> entries = Entries(std::string(audit::op::kAccessDenied));
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries.back().actor_id, "u_sec");
  EXPECT_NE(entries.back().details.find("job.run"), std::string::npos);
  Actor channel = Staff(Role::kSysAdmin, "crm");
  channel.kind = ActorKind::kChannel;  // only a staff sys_admin
  EXPECT_EQ(vault_->jobs().RunNow(channel, "nightly_test").code(), ErrorCode::kPermissionDenied);
}

TEST_F(JobsServiceTest, RunNowRunsTheJobAndAuditsJobRun) {
  ASSERT_TRUE(vault_->jobs().RunNow(Staff(Role::kSysAdmin, "u_admin"), "nightly_test").ok());
  EXPECT_EQ(runs_, 1);
  std::vector<store::AuditEntryRow> entries = Entries(std::string(audit::op::kJobRun));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].actor_id, "u_admin");
  EXPECT_EQ(entries[0].result, "ok");
  EXPECT_NE(entries[0].details.find("\"job\":\"nightly_test\""), std::string::npos);

  fail_ = true;
  const Status failed = vault_->jobs().RunNow(Staff(Role::kSysAdmin, "u_admin"), "nightly_test");
  EXPECT_EQ(failed.code(), ErrorCode::kInternal);
  entries = Entries(std::string(audit::op::kJobRun));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].result, "failed");
  EXPECT_NE(entries[1].details.find("\"error\":\"internal\""), std::string::npos);
  EXPECT_EQ(entries[1].details.find("disk full"), std::string::npos);  // codes only
  const jobs::JobStatus status = [&] {
    for (const jobs::JobStatus& s : vault_->scheduler().List()) {
      if (s.name == "nightly_test") return s;
    }
    return jobs::JobStatus{};
  }();
  EXPECT_EQ(status.last_result, "failed: internal: disk full");
}

TEST_F(JobsServiceTest, RunNowOfAnUnknownJobIsNotFound) {
  EXPECT_EQ(vault_->jobs().RunNow(Staff(Role::kSysAdmin, "u_admin"), "no_such_job").code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(vault_->jobs().RunNow(Staff(Role::kSysAdmin, "u_admin"), std::string(100, 'x')).code(),
            ErrorCode::kNotFound);
}

TEST_F(JobsServiceTest, ABadScheduleNamesItsConfigKey) {
  const Status bad = vault_->AddScheduledJob("backup_test", "hourly", [] { return Status::Ok(); });
  EXPECT_EQ(bad.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("jobs.backup_test"), std::string::npos) << bad.message();
}

TEST(VaultJobsTest, ABadScheduleInTheConfigStopsTheStartWithTheKeyNamed) {
  TestDataDir dir(FastAuthEnvironment());
  Result<std::unique_ptr<Vault>> vault =
      Vault::Open(Env::Default(), dir.path(),
                  FastAuthEnvironment({{"CUSTVAULT_JOBS_BACKUP_FULL", "weekly sunday 03:00"}}));
  ASSERT_FALSE(vault.ok());
  EXPECT_NE(vault.status().message().find("jobs.backup_full"), std::string::npos)
      << vault.status().ToString();
}

}  // namespace
}  // namespace custvault::service
