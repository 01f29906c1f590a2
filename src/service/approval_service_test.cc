// ApprovalService (R-APR-1): the maker-checker rules for every kind, partial
// approvals, expiry, concurrent decisions and recovery after a crash. The
// kinds' real handlers are replaced by a recording fake here; the tag and
// sensitive-edit handlers have their own tests (tag_service_test.cc).
#include "service/approval_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "common/fake_env.h"
#include "service/test_vault.h"

namespace custvault::service {
namespace {

using policy::ApprovalKind;

constexpr int64_t kDayUs = 86'400'000'000;

// Records what it was asked to apply; fails as told.
class FakeHandler final : public ApprovalHandler {
 public:
  Result<ApplyOutcome> Apply(const Actor& approver, const ApprovalRecord& approval,
                             const std::vector<ApprovalItemRecord>& chosen) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++calls;
    last_approver = approver.id;
    last_approval = approval.id;
    last_payload = approval.payload;
    last_chosen.clear();
    for (const ApprovalItemRecord& item : chosen) last_chosen.push_back(item.seq);
    if (!fail_with.ok()) {
      Status s = fail_with;
      if (fail_once) fail_with = Status::Ok();
      return s;
    }
    ApplyOutcome outcome;
    for (const ApprovalItemRecord& item : chosen) {
      if (item.payload == "stale") outcome.skipped_seqs.push_back(item.seq);
    }
    return outcome;
  }

  std::mutex mutex_;
  int calls = 0;
  std::string last_approver;
  std::string last_approval;
  std::string last_payload;
  std::vector<int64_t> last_chosen;
  Status fail_with;
  bool fail_once = false;
};

class ApprovalServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    environment_ = FastAuthEnvironment();
    dir_ = std::make_unique<TestDataDir>(environment_);
    Open();
  }
  void TearDown() override {
    staff_.reset();
    vault_.reset();
  }

  void Open() {
    staff_.reset();
    vault_.reset();
    Result<std::unique_ptr<Vault>> vault = Vault::Open(&env_, dir_->path(), environment_);
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    for (const policy::ApprovalKindRule& rule : policy::ApprovalKindRules()) {
      approvals().RegisterHandler(rule.kind, &handler_);
    }
  }
  // One account per role, logged in once and remembered: the services
  // judge the Actor, not the session, so it stays usable when the fake
  // clock moves past the idle timeout or the vault is reopened.
  Actor As(Role role) {
    if (auto found = actors_.find(role); found != actors_.end()) return found->second;
    if (!staff_) staff_ = std::make_unique<TestStaff>(vault_->accounts(), *dir_);
    Result<Actor> actor = staff_->ActorFor(role);
    EXPECT_TRUE(actor.ok()) << actor.status().ToString();
    if (!actor.ok()) return Actor{};
    actors_[role] = *actor;
    return *actor;
  }

  ApprovalService& approvals() { return vault_->approvals(); }

  // The role that may file each kind.
  static Role MakerOf(ApprovalKind kind) {
    switch (kind) {
      case ApprovalKind::kRestore:
      case ApprovalKind::kRoleGrant:
        return Role::kSysAdmin;
      default:
        return Role::kInfoManager;
    }
  }

  ApprovalView SubmitOk(const Actor& maker, ApprovalKind kind, int items = 0) {
    NewApproval request;
    request.kind = kind;
    request.subject = "C20261129000001";
    request.summary = "test approval";
    request.payload = "payload-bytes";
    for (int i = 0; i < items; ++i) {
      request.items.push_back({"C2026112900000" + std::to_string(i), "item " + std::to_string(i),
                               i == 2 ? "stale" : "p"});
    }
    Result<ApprovalView> view = approvals().Submit(maker, request);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return view.ok() ? *view : ApprovalView{};
  }

  std::vector<store::AuditEntryRow> AuditEntries(std::string_view operation) {
    AuditSearch search;
    search.operation = std::string(operation);
    search.limit = 500;
    Result<AuditEntryPage> page = vault_->audit().Search(As(Role::kAuditor), search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<store::AuditEntryRow>{};
  }
  int CountAudit(std::string_view operation, const std::string& needle) {
    int n = 0;
    for (const store::AuditEntryRow& row : AuditEntries(operation)) {
      if (row.details.find(needle) != std::string::npos) ++n;
    }
    return n;
  }

  ApprovalDecision Approve(std::vector<std::string> items = {}) {
    return {true, std::move(items), "looks right"};
  }

  FakeEnv env_;
  std::map<std::string, std::string> environment_;
  std::unique_ptr<TestDataDir> dir_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<TestStaff> staff_;
  std::map<Role, Actor> actors_;
  FakeHandler handler_;
};

TEST_F(ApprovalServiceTest, SubmitRecordsAPendingApprovalAndAuditsTheRequest) {
  const Actor manager = As(Role::kInfoManager);
  const ApprovalView filed = SubmitOk(manager, ApprovalKind::kTagBatch, 3);
  EXPECT_EQ(filed.status, "pending");
  EXPECT_EQ(filed.kind, "tag_batch");
  EXPECT_EQ(filed.requested_by, manager.id);
  EXPECT_EQ(filed.requested_role, "info_manager");
  EXPECT_EQ(filed.item_count, 3);
  EXPECT_EQ(filed.expires_at_us, env_.NowMicros() + 14 * kDayUs);  // config default
  EXPECT_EQ(filed.id.rfind("a_", 0), 0u);
  EXPECT_EQ(CountAudit("approval.request", filed.id), 1);
}

TEST_F(ApprovalServiceTest, MakerNeedsTheKindsRequestOperation) {
  NewApproval request;
  request.kind = ApprovalKind::kTagChange;
  request.summary = "x";
  EXPECT_EQ(approvals().Submit(As(Role::kEntryClerk), request).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(approvals().Submit(As(Role::kDeptHead), request).status().code(),
            ErrorCode::kPermissionDenied);
  request.kind = ApprovalKind::kRestore;
  EXPECT_EQ(approvals().Submit(As(Role::kInfoManager), request).status().code(),
            ErrorCode::kPermissionDenied);
}

// R-APR-1: "The requester can never approve their own request", for every
// kind, even when the requester's role (changed since, say) would decide it.
TEST_F(ApprovalServiceTest, SelfApprovalIsRefusedForEveryKindAndAudited) {
  for (const policy::ApprovalKindRule& rule : policy::ApprovalKindRules()) {
    SCOPED_TRACE(std::string(rule.name));
    const Actor maker = As(MakerOf(rule.kind));
    std::string id;
    if (rule.kind == ApprovalKind::kRoleGrant) {
      NewAccount account;
      account.username = "grant.target";
      account.role = Role::kEntryClerk;
      Result<CreatedAccount> created = vault_->accounts().CreateAccount(maker, account);
      ASSERT_TRUE(created.ok()) << created.status().ToString();
      id = created->role_request_id;
    } else {
      id = SubmitOk(maker, rule.kind, rule.kind == ApprovalKind::kTagBatch ? 2 : 0).id;
    }
    Actor self = maker;
    self.role = rule.approver;  // the same account, now holding the deciding role
    Result<ApprovalView> decided = approvals().Decide(self, id, Approve());
    EXPECT_EQ(decided.status().code(), ErrorCode::kPermissionDenied);
    Result<ApprovalDetail> after = approvals().Get(As(rule.approver), id, std::nullopt, {});
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    EXPECT_EQ(after->approval.status, "pending");
    EXPECT_EQ(CountAudit("access.denied", id), 1);
  }
  EXPECT_EQ(handler_.calls, 0);
}

// Issue 10.13: a sys_admin deciding the role grant they filed was told
// "your role may not decide this kind of approval"; the reason is that the
// requester never decides their own request, and the answer says so for
// every kind, whatever the requester's role.
TEST_F(ApprovalServiceTest, R_APR_1_OwnRequestIsRefusedWithTheOwnRequestReason) {
  const std::string own_reason = "the requester of an approval may never decide it";
  for (const policy::ApprovalKindRule& rule : policy::ApprovalKindRules()) {
    SCOPED_TRACE(std::string(rule.name));
    const Actor maker = As(MakerOf(rule.kind));
    std::string id;
    if (rule.kind == ApprovalKind::kRoleGrant) {
      NewAccount account;
      account.username = "own.grant";
      account.role = Role::kEntryClerk;
      Result<CreatedAccount> created = vault_->accounts().CreateAccount(maker, account);
      ASSERT_TRUE(created.ok()) << created.status().ToString();
      id = created->role_request_id;
    } else {
      id = SubmitOk(maker, rule.kind).id;
    }
    Result<ApprovalView> decided = approvals().Decide(maker, id, Approve());
    EXPECT_EQ(decided.status().code(), ErrorCode::kPermissionDenied);
    EXPECT_EQ(decided.status().message(), own_reason);
    int own_request_denials = 0;
    for (const store::AuditEntryRow& row : AuditEntries("access.denied")) {
      if (row.details.find(id) != std::string::npos &&
          row.details.find("own_request") != std::string::npos) {
        ++own_request_denials;
      }
    }
    EXPECT_EQ(own_request_denials, 1);
  }
  // Someone else's approval of a kind the caller's role does not decide
  // still gets the role's reason.
  const ApprovalView batch = SubmitOk(As(Role::kInfoManager), ApprovalKind::kTagBatch, 2);
  Result<ApprovalView> wrong_role = approvals().Decide(As(Role::kSecurityOfficer), batch.id,
                                                       Approve());
  EXPECT_EQ(wrong_role.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(wrong_role.status().message(), own_reason);
}

TEST_F(ApprovalServiceTest, OnlyTheKindsApproverRoleDecides) {
  const ApprovalView batch = SubmitOk(As(Role::kInfoManager), ApprovalKind::kTagBatch, 2);
  for (Role role : {Role::kInfoManager, Role::kSecurityOfficer, Role::kAuditor, Role::kSysAdmin,
                    Role::kEntryClerk}) {
    EXPECT_EQ(approvals().Decide(As(role), batch.id, Approve()).status().code(),
              ErrorCode::kPermissionDenied)
        << RoleName(role);
  }
  const ApprovalView restore = SubmitOk(As(Role::kSysAdmin), ApprovalKind::kRestore);
  EXPECT_EQ(approvals().Decide(As(Role::kDeptHead), restore.id, Approve()).status().code(),
            ErrorCode::kPermissionDenied);
  Result<ApprovalView> ok = approvals().Decide(As(Role::kSecurityOfficer), restore.id, Approve());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->status, "approved");
  EXPECT_EQ(handler_.last_payload, "payload-bytes");
  EXPECT_EQ(handler_.calls, 1);
}

TEST_F(ApprovalServiceTest, ARejectedBatchAppliesNothingAndKeepsTheComment) {
  const ApprovalView batch = SubmitOk(As(Role::kInfoManager), ApprovalKind::kTagBatch, 3);
  const Actor head = As(Role::kDeptHead);
  // A rejection needs a reason, and refuses every item (no subset).
  EXPECT_EQ(approvals().Decide(head, batch.id, {false, {}, " "}).status().code(),
            ErrorCode::kValidationFailed);
  EXPECT_EQ(approvals().Decide(head, batch.id, {false, {"1"}, "no"}).status().code(),
            ErrorCode::kValidationFailed);
  EXPECT_EQ(approvals()
                .Decide(head, batch.id, {true, {}, std::string(1025, 'x')})
                .status()
                .code(),
            ErrorCode::kValidationFailed);
  Result<ApprovalView> rejected = approvals().Decide(head, batch.id, {false, {}, "numbers off"});
  ASSERT_TRUE(rejected.ok()) << rejected.status().ToString();
  EXPECT_EQ(rejected->status, "rejected");
  EXPECT_EQ(rejected->decided_by, head.id);
  EXPECT_EQ(rejected->decided_role, "dept_head");
  EXPECT_EQ(rejected->comment, "numbers off");
  EXPECT_EQ(handler_.calls, 0);
  Result<ApprovalDetail> detail = approvals().Get(head, batch.id, std::nullopt, {});
  for (const ApprovalItemView& item : detail->items) {
    EXPECT_FALSE(item.chosen);
    EXPECT_FALSE(item.applied);
  }
  // Decided once: a second decision is a conflict.
  EXPECT_EQ(approvals().Decide(head, batch.id, Approve()).status().code(), ErrorCode::kConflict);
  EXPECT_EQ(CountAudit("approval.decide", "\"rejected\""), 1);
}

TEST_F(ApprovalServiceTest, APartialApprovalAppliesExactlyTheChosenItems) {
  const ApprovalView batch = SubmitOk(As(Role::kInfoManager), ApprovalKind::kTagBatch, 5);
  const Actor head = As(Role::kDeptHead);
  EXPECT_EQ(approvals().Decide(head, batch.id, Approve({"6"})).status().code(),
            ErrorCode::kValidationFailed);
  EXPECT_EQ(approvals().Decide(head, batch.id, Approve({"x"})).status().code(),
            ErrorCode::kInvalidArgument);
  Result<ApprovalView> decided = approvals().Decide(head, batch.id, Approve({"4", "3", "4"}));
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(handler_.last_chosen, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(handler_.last_approver, head.id);
  EXPECT_EQ(decided->status, "partially_approved");
  EXPECT_EQ(decided->items_chosen, 2);
  EXPECT_EQ(decided->items_applied, 1);  // item 3's payload is "stale": skipped by the handler
  Result<ApprovalDetail> detail = approvals().Get(head, batch.id, std::nullopt, 2);
  ASSERT_TRUE(detail.ok());
  ASSERT_EQ(detail->items.size(), 2u);
  EXPECT_FALSE(detail->items[0].chosen);
  EXPECT_FALSE(detail->items[1].chosen);
  ASSERT_TRUE(detail->next_items_cursor.has_value());
  detail = approvals().Get(head, batch.id, detail->next_items_cursor, 10);
  ASSERT_EQ(detail->items.size(), 3u);
  EXPECT_EQ(detail->items[0].id, "3");
  EXPECT_TRUE(detail->items[0].chosen);
  EXPECT_FALSE(detail->items[0].applied);
  EXPECT_TRUE(detail->items[1].chosen);
  EXPECT_TRUE(detail->items[1].applied);
  EXPECT_FALSE(detail->items[2].chosen);
  EXPECT_FALSE(detail->items[2].applied);
  EXPECT_EQ(CountAudit("approval.decide", "partially_approved"), 1);
}

TEST_F(ApprovalServiceTest, ApprovingEveryItemIsApproved) {
  const ApprovalView batch = SubmitOk(As(Role::kInfoManager), ApprovalKind::kTagBatch, 2);
  Result<ApprovalView> decided = approvals().Decide(As(Role::kDeptHead), batch.id, Approve());
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(decided->status, "approved");
  EXPECT_EQ(decided->items_chosen, 2);
  EXPECT_EQ(decided->items_applied, 2);
  EXPECT_EQ(handler_.last_chosen, (std::vector<int64_t>{1, 2}));
}

TEST_F(ApprovalServiceTest, APendingApprovalExpiresAndCannotBeDecidedAfterwards) {
  const Actor manager = As(Role::kInfoManager);
  const Actor head = As(Role::kDeptHead);
  const Actor auditor = As(Role::kAuditor);
  const ApprovalView change = SubmitOk(manager, ApprovalKind::kTagChange);
  const ApprovalView other = SubmitOk(manager, ApprovalKind::kTagChange);
  env_.AdvanceMicros(14 * kDayUs - 1);
  Result<ApprovalDetail> still = approvals().Get(head, change.id, std::nullopt, {});
  EXPECT_EQ(still->approval.status, "pending");
  env_.AdvanceMicros(1);
  Result<ApprovalView> late = approvals().Decide(head, change.id, Approve());
  EXPECT_EQ(late.status().code(), ErrorCode::kConflict);
  EXPECT_EQ(approvals().Get(head, change.id, std::nullopt, {})->approval.status, "expired");
  // The other one expires by the sweep a list runs.
  Result<ApprovalListPage> list = approvals().List(head, {.status = "pending"});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_TRUE(list->items.empty());
  EXPECT_EQ(approvals().Get(head, other.id, std::nullopt, {})->approval.status, "expired");
  EXPECT_EQ(handler_.calls, 0);
  (void)auditor;
  EXPECT_EQ(CountAudit("approval.expire", change.id), 1);
  EXPECT_EQ(CountAudit("approval.expire", other.id), 1);
}

TEST_F(ApprovalServiceTest, TwoConcurrentDecisionsApplyOnce) {
  const ApprovalView batch = SubmitOk(As(Role::kInfoManager), ApprovalKind::kTagBatch, 4);
  const Actor head = As(Role::kDeptHead);
  std::atomic<int> ok{0};
  std::atomic<int> conflict{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      Result<ApprovalView> r = approvals().Decide(
          head, batch.id, i % 2 ? Approve() : ApprovalDecision{false, {}, "no"});
      if (r.ok()) ++ok;
      if (r.status().code() == ErrorCode::kConflict) ++conflict;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflict.load(), 5);
  EXPECT_LE(handler_.calls, 1);
}

// A crash between "applying" and its end: the next open applies it (the
// handler is idempotent) and finishes it.
TEST_F(ApprovalServiceTest, AnApprovalLeftApplyingIsFinishedAtTheNextOpen) {
  const ApprovalView batch = SubmitOk(As(Role::kInfoManager), ApprovalKind::kTagBatch, 3);
  const Actor head = As(Role::kDeptHead);
  handler_.fail_with = Internal("disk on fire");
  handler_.fail_once = true;
  Result<ApprovalView> failed = approvals().Decide(head, batch.id, Approve({"1", "3"}));
  EXPECT_EQ(failed.status().code(), ErrorCode::kInternal);
  EXPECT_EQ(approvals().Get(head, batch.id, std::nullopt, {})->approval.status, "applying");
  EXPECT_EQ(approvals().Decide(head, batch.id, Approve()).status().code(), ErrorCode::kConflict);
  Open();  // the restart: the vault's own tag handler refuses the fake payload
  // and leaves it "applying"; with the fake handler it finishes.
  EXPECT_EQ(approvals().Get(head, batch.id, std::nullopt, {})->approval.status, "applying");
  ASSERT_TRUE(approvals().FinishInterrupted().ok());
  EXPECT_EQ(handler_.calls, 2);
  EXPECT_EQ(handler_.last_chosen, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(handler_.last_approver, head.id);
  Result<ApprovalDetail> after = approvals().Get(As(Role::kDeptHead), batch.id, std::nullopt, {});
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->approval.status, "partially_approved");
  EXPECT_EQ(after->approval.items_applied, 1);  // item 3 is "stale" to the fake handler
}

TEST_F(ApprovalServiceTest, AFilingInterruptedByACrashIsClosedAsFailedAtTheNextOpen) {
  {
    Result<std::unique_ptr<store::ApprovalStore>> raw =
        store::OpenSqliteApprovalStore(vault_->store());
    ASSERT_TRUE(raw.ok());
    store::ApprovalRecord half;
    half.id = "a_interrupted";
    half.kind = "tag_batch";
    half.status = store::kApprovalFiling;
    half.requested_by = "job:reclassify";
    half.requested_at_us = env_.NowMicros();
    half.expires_at_us = env_.NowMicros() + kDayUs;
    ASSERT_TRUE((*raw)->InsertApproval(half).ok());
  }
  Open();
  Result<ApprovalDetail> after =
      approvals().Get(As(Role::kDeptHead), "a_interrupted", std::nullopt, {});
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->approval.status, "failed");
  EXPECT_EQ(after->approval.outcome, "filing_interrupted");
}

TEST_F(ApprovalServiceTest, ACleanRefusalByTheHandlerFailsTheApproval) {
  const ApprovalView edit = SubmitOk(As(Role::kInfoManager), ApprovalKind::kSensitiveEdit);
  handler_.fail_with = NotFound("customer_deleted");
  Result<ApprovalView> decided = approvals().Decide(As(Role::kDeptHead), edit.id, Approve());
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(decided->status, "failed");
  EXPECT_EQ(decided->outcome, "customer_deleted");
  EXPECT_EQ(decided->items_applied, 0);
}

TEST_F(ApprovalServiceTest, AFilingInPiecesIsInvisibleUntilFinished) {
  const Actor job = ApprovalService::JobActor("reclassify");
  Result<std::unique_ptr<ApprovalFiling>> filing =
      approvals().BeginFiling(job, ApprovalKind::kTagBatch, "", "rules:v1");
  ASSERT_TRUE(filing.ok()) << filing.status().ToString();
  ASSERT_TRUE((*filing)->AddItems({{"C1", "a", "p"}, {"C2", "b", "p"}}).ok());
  ASSERT_TRUE((*filing)->AddItems({{"C3", "c", "p"}}).ok());
  const Actor head = As(Role::kDeptHead);
  EXPECT_EQ(approvals().Decide(head, (*filing)->id(), Approve()).status().code(),
            ErrorCode::kConflict);  // still being filed
  Result<ApprovalView> filed = (*filing)->Finish("3 changes");
  ASSERT_TRUE(filed.ok()) << filed.status().ToString();
  EXPECT_EQ(filed->item_count, 3);
  EXPECT_EQ(filed->requested_by, "job:reclassify");
  EXPECT_EQ(filed->status, "pending");
  EXPECT_TRUE(approvals().Decide(head, filed->id, Approve()).ok());
  // Nothing filed: no approval at all.
  Result<std::unique_ptr<ApprovalFiling>> empty =
      approvals().BeginFiling(job, ApprovalKind::kTagBatch, "", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ((*empty)->Finish("nothing").status().code(), ErrorCode::kNotFound);
}

TEST_F(ApprovalServiceTest, EachRoleListsTheKindsItRequestsOrDecides) {
  const Actor manager = As(Role::kInfoManager);
  const Actor admin = As(Role::kSysAdmin);
  SubmitOk(manager, ApprovalKind::kTagChange);
  SubmitOk(admin, ApprovalKind::kRestore);
  // As(...) created accounts through role grants: those show as role_grant.
  auto kinds_seen = [&](Role role) {
    std::set<std::string> kinds;
    Result<ApprovalListPage> page = approvals().List(As(role), {});
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (page.ok()) {
      for (const ApprovalView& v : page->items) kinds.insert(v.kind);
    }
    return kinds;
  };
  EXPECT_EQ(kinds_seen(Role::kInfoManager), (std::set<std::string>{"tag_change"}));
  EXPECT_EQ(kinds_seen(Role::kDeptHead), (std::set<std::string>{"tag_change"}));
  EXPECT_EQ(kinds_seen(Role::kSecurityOfficer),
            (std::set<std::string>{"restore", "role_grant"}));
  EXPECT_EQ(kinds_seen(Role::kSysAdmin), (std::set<std::string>{"restore", "role_grant"}));
  EXPECT_EQ(kinds_seen(Role::kAuditor),
            (std::set<std::string>{"restore", "role_grant", "tag_change"}));
  EXPECT_EQ(approvals().List(As(Role::kEntryClerk), {}).status().code(),
            ErrorCode::kPermissionDenied);
  Result<ApprovalListPage> restores = approvals().List(As(Role::kDeptHead), {.kind = "restore"});
  EXPECT_TRUE(restores->items.empty());
}

TEST_F(ApprovalServiceTest, ListPagesAcrossApprovalsAndRoleGrants) {
  const Actor auditor = As(Role::kAuditor);
  const Actor manager = As(Role::kInfoManager);
  std::set<std::string> filed;
  for (int i = 0; i < 5; ++i) {
    env_.AdvanceMicros(1);
    filed.insert(SubmitOk(manager, ApprovalKind::kTagChange).id);
  }
  std::set<std::string> seen;
  std::optional<std::string> cursor;
  int pages = 0;
  do {
    Result<ApprovalListPage> page = approvals().List(auditor, {.cursor = cursor, .limit = 2});
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const ApprovalView& v : page->items) EXPECT_TRUE(seen.insert(v.id).second) << v.id;
    cursor = page->next_cursor;
    ++pages;
  } while (cursor && pages < 20);
  for (const std::string& id : filed) EXPECT_EQ(seen.count(id), 1u);
  // Role grants of the staff made for this test are in the same list.
  int grants = 0;
  for (const std::string& id : seen) grants += id.rfind("r_", 0) == 0;
  EXPECT_GE(grants, 1);
}

TEST_F(ApprovalServiceTest, RoleGrantsAreDecidedThroughTheSameCall) {
  const Actor admin = As(Role::kSysAdmin);
  NewAccount account;
  account.username = "new.clerk";
  account.role = Role::kEntryClerk;
  Result<CreatedAccount> created = vault_->accounts().CreateAccount(admin, account);
  ASSERT_TRUE(created.ok());
  const std::string id = created->role_request_id;
  EXPECT_EQ(approvals().Decide(As(Role::kDeptHead), id, Approve()).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(approvals().Decide(As(Role::kSecurityOfficer), id, Approve({"1"})).status().code(),
            ErrorCode::kInvalidArgument);
  Result<ApprovalView> decided = approvals().Decide(As(Role::kSecurityOfficer), id, Approve());
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(decided->kind, "role_grant");
  EXPECT_EQ(decided->status, "approved");
  EXPECT_EQ(vault_->accounts().FindAccountByUsername("new.clerk")->status, "active");
  EXPECT_EQ(handler_.calls, 0);  // role grants are the account service's
}

TEST_F(ApprovalServiceTest, AnApprovalAnotherRoleMayNotSeeLooksMissing) {
  const ApprovalView restore = SubmitOk(As(Role::kSysAdmin), ApprovalKind::kRestore);
  EXPECT_EQ(approvals().Get(As(Role::kDeptHead), restore.id, std::nullopt, {}).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(approvals().Get(As(Role::kDeptHead), "a_nope", std::nullopt, {}).status().code(),
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace custvault::service
