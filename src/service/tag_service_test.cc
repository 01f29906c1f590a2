// TagService (R-TAG-1, R-TAG-3, R-TAG-4) through the whole path: customers
// created by CustomerService, business records added by BusinessService,
// re-classification filed as an approval and decided by a department head,
// tags applied by the store in one transaction.
#include "service/tag_service.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/fake_env.h"
#include "service/test_vault.h"

namespace custvault::service {
namespace {

constexpr int64_t kDayUs = 86'400'000'000;

class TagServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    environment_ = FastAuthEnvironment();
    dir_ = std::make_unique<TestDataDir>(environment_);
    Open();
    manager_ = As(Role::kInfoManager);
    head_ = As(Role::kDeptHead);
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
  }
  Actor As(Role role) {
    if (auto found = actors_.find(role); found != actors_.end()) return found->second;
    if (!staff_) staff_ = std::make_unique<TestStaff>(vault_->accounts(), *dir_);
    Result<Actor> actor = staff_->ActorFor(role);
    EXPECT_TRUE(actor.ok()) << actor.status().ToString();
    if (!actor.ok()) return Actor{};
    actors_[role] = *actor;
    return *actor;
  }

  TagService& tags() { return vault_->tags(); }
  ApprovalService& approvals() { return vault_->approvals(); }

  std::string CreateCustomer(const std::string& credit_rating = "") {
    std::map<std::string, std::string> input = {{"name", "张三"}, {"phone", "13812345678"}};
    if (!credit_rating.empty()) input["credit_rating"] = credit_rating;
    Result<CustomerView> view = vault_->customers().Create(manager_, input);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return view.ok() ? view->id : "";
  }
  std::map<std::string, std::string> TagsOf(const std::string& id) {
    Result<store::CustomerRecord> record = vault_->store().GetCustomer(id);
    EXPECT_TRUE(record.ok()) << record.status().ToString();
    return record.ok() ? record->tags : std::map<std::string, std::string>{};
  }
  void Spend(const std::string& id, int64_t amount_fen, int64_t days_ago = 1) {
    NewTransaction tx;
    tx.amount_fen = amount_fen;
    tx.occurred_at = FormatRfc3339(env_.NowMicros() - days_ago * kDayUs);
    tx.channel = "store:SH-001";
    Result<TransactionView> added = vault_->business().AddTransaction(manager_, id, tx);
    ASSERT_TRUE(added.ok()) << added.status().ToString();
  }
  std::string Complain(const std::string& id, bool closed) {
    NewComplaint complaint;
    complaint.opened_at = FormatRfc3339(env_.NowMicros() - 10 * kDayUs);
    if (closed) {
      complaint.closed_at = FormatRfc3339(env_.NowMicros() - 9 * kDayUs);
      complaint.status = "closed";
    }
    complaint.summary = "货物破损";
    Result<ComplaintView> added = vault_->business().AddComplaint(manager_, id, complaint);
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    return added.ok() ? added->id : "";
  }
  ReclassifyReport Run(bool dry_run) {
    Result<ReclassifyReport> report = tags().Reclassify(manager_, {.dry_run = dry_run});
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : ReclassifyReport{};
  }
  // Item ids of an approval whose customer is one of `customers`.
  std::vector<std::string> ItemsFor(const std::string& approval_id,
                                    const std::set<std::string>& customers) {
    std::vector<std::string> ids;
    std::optional<std::string> cursor;
    do {
      Result<ApprovalDetail> detail = approvals().Get(head_, approval_id, cursor, 200);
      EXPECT_TRUE(detail.ok()) << detail.status().ToString();
      if (!detail.ok()) break;
      for (const ApprovalItemView& item : detail->items) {
        if (customers.count(item.customer_id)) ids.push_back(item.id);
      }
      cursor = detail->next_items_cursor;
    } while (cursor);
    return ids;
  }
  std::vector<store::AuditEntryRow> AuditEntries(std::string_view operation) {
    AuditSearch search;
    search.operation = std::string(operation);
    search.limit = 500;
    Result<AuditEntryPage> page = vault_->audit().Search(As(Role::kAuditor), search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<store::AuditEntryRow>{};
  }

  FakeEnv env_;
  std::map<std::string, std::string> environment_;
  std::unique_ptr<TestDataDir> dir_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<TestStaff> staff_;
  std::map<Role, Actor> actors_;
  Actor manager_;
  Actor head_;
};

using Tags = std::map<std::string, std::string>;

TEST_F(TagServiceTest, TheFirstOpenSeedsRulesVersionOneFromTheBuiltInRules) {
  Result<RulesOverview> rules = tags().GetRules(head_);
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ(rules->active.version, 1);
  EXPECT_EQ(rules->active.status, "active");
  EXPECT_EQ(rules->active.text, rules::DefaultRulesToml());
  EXPECT_EQ(rules->versions.size(), 1u);
  EXPECT_EQ(tags().GetRules(As(Role::kEntryClerk)).status().code(),
            ErrorCode::kPermissionDenied);
}

// R-TAG-1: tags at creation, without approval: no business records yet,
// so the credit rating alone decides the risk.
TEST_F(TagServiceTest, NewCustomersGetInitialTagsAtOnce) {
  EXPECT_EQ(TagsOf(CreateCustomer()), (Tags{{"risk", "low"}, {"value_tier", "ordinary"}}));
  EXPECT_EQ(TagsOf(CreateCustomer("AAA")), (Tags{{"risk", "low"}, {"value_tier", "ordinary"}}));
  EXPECT_EQ(TagsOf(CreateCustomer("BB")), (Tags{{"risk", "low"}, {"value_tier", "ordinary"}}));
  EXPECT_EQ(TagsOf(CreateCustomer("B")), (Tags{{"risk", "high"}, {"value_tier", "ordinary"}}));
  EXPECT_EQ(TagsOf(CreateCustomer("D")), (Tags{{"risk", "high"}, {"value_tier", "ordinary"}}));
  // An import tags every row the same way.
  Result<ImportOutcome> imported = vault_->customers().Import(
      manager_, {{{"name", "李四"}, {"credit_rating", "C"}}, {{"name", "王五"}}});
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  Result<store::CustomerPage> page = vault_->store().ListCustomers(std::nullopt, std::nullopt, 100);
  int high = 0;
  for (const store::CustomerRecord& r : page->items) high += r.tags.at("risk") == "high";
  EXPECT_EQ(high, 3);  // B, D and the imported C
  EXPECT_TRUE(approvals().List(head_, {})->items.empty());  // no approval for initial tags
}

// The acceptance boundaries of R-TAG-1 in CNY, through business records,
// a re-classification and a department head's approval.
TEST_F(TagServiceTest, ValueTierBoundariesThroughTheWholePath) {
  const std::vector<std::pair<int64_t, std::string>> cases = {
      {999'999, "ordinary"},    // 9,999.99 CNY
      {1'000'000, "medium"},    // 10,000.00 CNY
      {9'999'999, "medium"},    // 99,999.99 CNY
      {10'000'000, "high"},     // 100,000.00 CNY
  };
  std::map<std::string, std::string> expected;
  for (const auto& [fen, tier] : cases) {
    const std::string id = CreateCustomer();
    // Two transactions, so the sum is what counts.
    Spend(id, fen - 1);
    Spend(id, 1);
    expected[id] = tier;
  }
  // Outside the 365-day window: does not count.
  const std::string old_spender = CreateCustomer();
  Spend(old_spender, 50'000'000, 366);
  expected[old_spender] = "ordinary";
  // Nothing changes before approval.
  for (const auto& [id, tier] : expected) EXPECT_EQ(TagsOf(id).at("value_tier"), "ordinary");

  const ReclassifyReport dry = Run(/*dry_run=*/true);
  EXPECT_EQ(dry.customers_scanned, 5);
  EXPECT_EQ(dry.customers_changed, 3);
  EXPECT_FALSE(dry.approval.has_value());
  for (const CustomerTagChange& change : dry.sample) {
    EXPECT_EQ(change.to.at("value_tier"), expected.at(change.customer_id));
  }

  const ReclassifyReport filed = Run(/*dry_run=*/false);
  ASSERT_TRUE(filed.approval.has_value());
  EXPECT_EQ(filed.approval->kind, "tag_batch");
  EXPECT_EQ(filed.approval->item_count, 3);
  for (const auto& [id, tier] : expected) EXPECT_EQ(TagsOf(id).at("value_tier"), "ordinary");
  Result<ApprovalView> decided = approvals().Decide(head_, filed.approval->id, {true, {}, "ok"});
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(decided->status, "approved");
  EXPECT_EQ(decided->items_applied, 3);
  for (const auto& [id, tier] : expected) EXPECT_EQ(TagsOf(id).at("value_tier"), tier) << id;
  EXPECT_EQ(TagsOf(old_spender).at("risk"), "low");
  // Applied: a new run finds nothing to change.
  EXPECT_EQ(Run(true).customers_changed, 0);
}

// R-TAG-1: "any complaint or low credit rating: high; else low".
TEST_F(TagServiceTest, EachRiskCauseMakesRiskHigh) {
  const std::string open_complaint = CreateCustomer("AA");
  Complain(open_complaint, /*closed=*/false);
  const std::string closed_complaint = CreateCustomer("AA");
  Complain(closed_complaint, /*closed=*/true);
  const std::string low_rating = CreateCustomer("AA");
  // The rating changes by an approved sensitive edit.
  Result<CustomerView> edit =
      vault_->customers().Update(manager_, low_rating, {{"credit_rating", "CCC"}});
  ASSERT_TRUE(edit.ok()) << edit.status().ToString();
  ASSERT_TRUE(approvals().Decide(head_, edit->pending_approval_id, {true, {}, "ok"}).ok());
  const std::string clean = CreateCustomer("AA");
  Spend(clean, 100);

  const ReclassifyReport filed = Run(false);
  ASSERT_TRUE(filed.approval.has_value());
  EXPECT_EQ(filed.approval->item_count, 3);
  ASSERT_TRUE(approvals().Decide(head_, filed.approval->id, {true, {}, "ok"}).ok());
  EXPECT_EQ(TagsOf(open_complaint).at("risk"), "high");
  EXPECT_EQ(TagsOf(closed_complaint).at("risk"), "high");
  EXPECT_EQ(TagsOf(low_rating).at("risk"), "high");
  EXPECT_EQ(TagsOf(clean).at("risk"), "low");
}

TEST_F(TagServiceTest, ADryRunChangesNothingAndFilesNothing) {
  const std::string id = CreateCustomer();
  Spend(id, 20'000'000);
  const Tags before = TagsOf(id);
  const ReclassifyReport dry = Run(true);
  EXPECT_EQ(dry.customers_changed, 1);
  ASSERT_EQ(dry.transitions.size(), 1u);
  EXPECT_EQ(dry.transitions[0].dimension, "value_tier");
  EXPECT_EQ(dry.transitions[0].from, "ordinary");
  EXPECT_EQ(dry.transitions[0].to, "high");
  EXPECT_EQ(dry.transitions[0].customers, 1);
  EXPECT_EQ(TagsOf(id), before);
  Result<ApprovalListPage> batches = approvals().List(head_, {.kind = "tag_batch"});
  EXPECT_TRUE(batches->items.empty());
  // Audited as a dry run.
  const std::vector<store::AuditEntryRow> runs = AuditEntries("tag.reclassify");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_NE(runs[0].details.find("\"dry_run\":true"), std::string::npos);
}

TEST_F(TagServiceTest, APartialApprovalChangesExactlyTheChosenCustomers) {
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(CreateCustomer());
    Spend(ids.back(), 2'000'000);
  }
  const ReclassifyReport filed = Run(false);
  ASSERT_TRUE(filed.approval.has_value());
  const std::vector<std::string> chosen = ItemsFor(filed.approval->id, {ids[1], ids[3]});
  ASSERT_EQ(chosen.size(), 2u);
  Result<ApprovalView> decided = approvals().Decide(head_, filed.approval->id, {true, chosen, "half"});
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(decided->status, "partially_approved");
  EXPECT_EQ(TagsOf(ids[0]).at("value_tier"), "ordinary");
  EXPECT_EQ(TagsOf(ids[1]).at("value_tier"), "medium");
  EXPECT_EQ(TagsOf(ids[2]).at("value_tier"), "ordinary");
  EXPECT_EQ(TagsOf(ids[3]).at("value_tier"), "medium");
}

TEST_F(TagServiceTest, ARejectedBatchChangesNoCustomer) {
  const std::string id = CreateCustomer();
  Spend(id, 20'000'000);
  const ReclassifyReport filed = Run(false);
  ASSERT_TRUE(filed.approval.has_value());
  ASSERT_TRUE(approvals().Decide(head_, filed.approval->id, {false, {}, "not now"}).ok());
  EXPECT_EQ(TagsOf(id).at("value_tier"), "ordinary");
}

// A change whose customer's tags moved on since filing is skipped, not
// forced: the approver approved "from X to Y".
TEST_F(TagServiceTest, AnItemMadeStaleBeforeApprovalIsSkippedAndRecorded) {
  const std::string moved = CreateCustomer();
  const std::string steady = CreateCustomer();
  Spend(moved, 2'000'000);
  Spend(steady, 2'000'000);
  const ReclassifyReport filed = Run(false);
  ASSERT_TRUE(filed.approval.has_value());
  // Meanwhile a manual change to "high" is approved for `moved`.
  Result<ApprovalView> manual = tags().RequestTagChange(manager_, moved, "value_tier", "high",
                                                        "contract signed yesterday");
  ASSERT_TRUE(manual.ok()) << manual.status().ToString();
  ASSERT_TRUE(approvals().Decide(head_, manual->id, {true, {}, "ok"}).ok());
  Result<ApprovalView> batch = approvals().Decide(head_, filed.approval->id, {true, {}, "ok"});
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(batch->status, "approved");
  EXPECT_EQ(batch->items_applied, 1);
  EXPECT_NE(batch->outcome.find("1 stale"), std::string::npos) << batch->outcome;
  EXPECT_EQ(TagsOf(moved).at("value_tier"), "high");
  EXPECT_EQ(TagsOf(steady).at("value_tier"), "medium");
}

// R-TAG-4: a manual tag change goes through the same approval.
TEST_F(TagServiceTest, AManualTagChangeWaitsForADepartmentHead) {
  const std::string id = CreateCustomer();
  EXPECT_EQ(tags()
                .RequestTagChange(As(Role::kEntryClerk), id, "risk", "high", "reason")
                .status()
                .code(),
            ErrorCode::kPermissionDenied);
  Result<ApprovalView> bad = tags().RequestTagChange(manager_, id, "colour", "RED!", " ");
  ASSERT_EQ(bad.status().code(), ErrorCode::kValidationFailed);
  EXPECT_EQ(bad.status().details().size(), 3u);
  EXPECT_EQ(tags().RequestTagChange(manager_, id, "risk", "low", "x").status().code(),
            ErrorCode::kConflict);  // already low
  EXPECT_EQ(tags().RequestTagChange(manager_, "C20260101999999", "risk", "high", "x")
                .status()
                .code(),
            ErrorCode::kNotFound);
  Result<ApprovalView> filed =
      tags().RequestTagChange(manager_, id, "risk", "high", "fraud report from branch");
  ASSERT_TRUE(filed.ok()) << filed.status().ToString();
  EXPECT_EQ(filed->kind, "tag_change");
  EXPECT_EQ(filed->subject, id);
  EXPECT_NE(filed->summary.find("risk: low -> high"), std::string::npos) << filed->summary;
  EXPECT_EQ(TagsOf(id).at("risk"), "low");
  EXPECT_EQ(approvals().Decide(manager_, filed->id, {true, {}, "self"}).status().code(),
            ErrorCode::kPermissionDenied);
  Result<ApprovalView> decided = approvals().Decide(head_, filed->id, {true, {}, "ok"});
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(decided->status, "approved");
  EXPECT_EQ(TagsOf(id).at("risk"), "high");
  const std::vector<store::AuditEntryRow> applied = AuditEntries("tag.apply");
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].customer_id, id);
  EXPECT_EQ(applied[0].actor_id, head_.id);
}

TEST_F(TagServiceTest, AManualChangeForADeletedCustomerFailsCleanly) {
  const std::string id = CreateCustomer();
  Result<ApprovalView> filed = tags().RequestTagChange(manager_, id, "risk", "high", "reason");
  ASSERT_TRUE(filed.ok());
  ASSERT_TRUE(vault_->customers().Delete(manager_, id).ok());
  Result<ApprovalView> decided = approvals().Decide(head_, filed->id, {true, {}, "ok"});
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(decided->status, "failed");
  EXPECT_EQ(decided->outcome, "customer_deleted");
}

// Tags follow the data: a change of business records files (once) the tag
// change it causes; nothing changes before approval.
TEST_F(TagServiceTest, BusinessRecordsFileARecomputedTagChangeOnce) {
  const std::string id = CreateCustomer();
  Spend(id, 600'000);
  EXPECT_TRUE(approvals().List(head_, {.kind = "tag_change"})->items.empty());  // still ordinary
  Spend(id, 600'000);  // 12,000.00 CNY: medium
  Result<ApprovalListPage> pending = approvals().List(head_, {.kind = "tag_change"});
  ASSERT_EQ(pending->items.size(), 1u);
  EXPECT_EQ(pending->items[0].requested_by, "job:recompute");
  EXPECT_EQ(pending->items[0].subject, id);
  Spend(id, 1);  // still medium: the same change is not filed again
  EXPECT_EQ(approvals().List(head_, {.kind = "tag_change"})->items.size(), 1u);
  EXPECT_EQ(TagsOf(id).at("value_tier"), "ordinary");
  ASSERT_TRUE(approvals().Decide(head_, pending->items[0].id, {true, {}, "ok"}).ok());
  EXPECT_EQ(TagsOf(id).at("value_tier"), "medium");
  Result<std::optional<ApprovalView>> again = tags().RecomputeCustomer(id);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST_F(TagServiceTest, ANewRulesVersionTakesEffectOnlyWhenApproved) {
  const std::string id = CreateCustomer();
  Spend(id, 600'000);  // 6,000.00 CNY
  std::string lower(rules::DefaultRulesToml());
  const std::string from = "spend_fen >= 1_000_000";
  ASSERT_NE(lower.find(from), std::string::npos);
  lower.replace(lower.find(from), from.size(), "spend_fen >= 500_000");

  Result<ProposedRules> bad = tags().ProposeRules(manager_, "format = 1\nwindow_days = -3\n");
  ASSERT_EQ(bad.status().code(), ErrorCode::kValidationFailed);
  EXPECT_EQ(bad.status().details().at(0).field, "text");
  EXPECT_EQ(tags().ProposeRules(head_, lower).status().code(), ErrorCode::kPermissionDenied);

  // The default rules read the credit rating, which a department head
  // sees masked: no dry run of them for that role (issue 11.2). The
  // information manager's dry run counts one customer: under the minimum
  // group, so not shown.
  EXPECT_EQ(tags().DryRunRules(head_, lower).status().code(), ErrorCode::kPermissionDenied);
  Result<ReclassifyReport> dry = tags().DryRunRules(manager_, lower);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_TRUE(dry->customers_changed_suppressed);
  EXPECT_EQ(dry->customers_changed, 0);
  EXPECT_TRUE(dry->sample.empty());  // counts only

  Result<ProposedRules> proposed = tags().ProposeRules(manager_, lower);
  ASSERT_TRUE(proposed.ok()) << proposed.status().ToString();
  EXPECT_EQ(proposed->version.version, 2);
  EXPECT_EQ(proposed->version.status, "proposed");
  EXPECT_EQ(proposed->approval.kind, "rules_change");
  EXPECT_EQ(tags().active_version(), 1);
  EXPECT_EQ(Run(true).customers_changed, 0);  // v1 still rules

  ASSERT_TRUE(approvals().Decide(head_, proposed->approval.id, {true, {}, "agreed"}).ok());
  EXPECT_EQ(tags().active_version(), 2);
  Result<RulesOverview> rules = tags().GetRules(As(Role::kAuditor));
  ASSERT_TRUE(rules.ok());
  EXPECT_EQ(rules->active.version, 2);
  EXPECT_EQ(rules->active.approval_status, "approved");
  EXPECT_EQ(rules->versions.back().status, "superseded");
  EXPECT_EQ(Run(true).customers_changed, 1);
  EXPECT_EQ(AuditEntries("rules.change").size(), 3u);  // refused, proposed, activated
}

// One dimension whose single rule is `when`: customers for whom it holds
// move from the default "ordinary" to "high".
std::string OneRuleText(const std::string& when) {
  return "format = 1\nwindow_days = 365\n[[dimension]]\nname = \"value_tier\"\n"
         "default = \"ordinary\"\n[[dimension.rule]]\nvalue = \"high\"\nwhen = '" +
         when + "'\n";
}

// Issue 11.1: refused dry runs and proposals are audited like accepted
// ones: the outcome and why, never the text.
TEST_F(TagServiceTest, Issue_11_1_RefusedDryRunsAndProposalsAreAudited) {
  std::string costly = "format = 1\nwindow_days = 365\n[";
  for (int i = 0; i < 32000; ++i) costly += "a.";
  costly += "a]\n";
  Result<ReclassifyReport> dry = tags().DryRunRules(As(Role::kAuditor), costly);
  EXPECT_EQ(dry.status().code(), ErrorCode::kValidationFailed);
  EXPECT_NE(dry.status().message().find("dotted key has too many parts"), std::string::npos)
      << dry.status().message();
  Result<ProposedRules> proposed = tags().ProposeRules(manager_, costly);
  EXPECT_EQ(proposed.status().code(), ErrorCode::kValidationFailed);
  EXPECT_EQ(tags().ProposeRules(manager_, std::string(70'000, '#')).status().code(),
            ErrorCode::kTooLarge);

  const std::vector<store::AuditEntryRow> dry_runs = AuditEntries("tag.reclassify");
  ASSERT_EQ(dry_runs.size(), 1u);
  EXPECT_EQ(dry_runs[0].result, "invalid");
  EXPECT_EQ(dry_runs[0].actor_role, "auditor");
  EXPECT_NE(dry_runs[0].details.find("\"outcome\":\"refused\""), std::string::npos);
  EXPECT_NE(dry_runs[0].details.find("\"dry_run\":true"), std::string::npos);
  EXPECT_EQ(dry_runs[0].details.find("a.a"), std::string::npos) << dry_runs[0].details;
  const std::vector<store::AuditEntryRow> proposals = AuditEntries("rules.change");
  ASSERT_EQ(proposals.size(), 2u);
  for (const store::AuditEntryRow& entry : proposals) {
    EXPECT_EQ(entry.result, "invalid");
    EXPECT_NE(entry.details.find("\"outcome\":\"refused\""), std::string::npos);
    EXPECT_EQ(entry.details.find("a.a"), std::string::npos) << entry.details;
  }
  EXPECT_EQ(tags().active_version(), 1);
}

// Issue 11.2: a department head sees the credit rating masked and the
// auditor sees no customer field; ten dry runs of
// `spend_fen == X and credit_rating == "CCC"` revealed the rating. A dry
// run may use only metrics the caller reads in plaintext, counts under
// kDryRunGroupMin are suppressed, and the audit entry names the metrics.
TEST_F(TagServiceTest, Issue_11_2_ADryRunRevealsNothingTheCallerMayNotSee) {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    ids.push_back(CreateCustomer(i == 0 ? "CCC" : "AA"));
    Spend(ids.back(), 100'000 + i);
  }
  const Actor auditor = As(Role::kAuditor);
  for (const std::string when :
       {"spend_fen == 100000 and credit_rating == \"CCC\"",
        "spend_fen == 100000 and credit_rating != \"CCC\"",
        "credit_rating in [\"CCC\", \"CC\"]", "not (credit_rating == \"CCC\")",
        "spend_fen >= 0 or credit_rating == \"\""}) {
    SCOPED_TRACE(when);
    for (const Actor& caller : {head_, auditor}) {
      Result<ReclassifyReport> dry = tags().DryRunRules(caller, OneRuleText(when));
      EXPECT_EQ(dry.status().code(), ErrorCode::kPermissionDenied);
      EXPECT_NE(dry.status().message().find("credit_rating"), std::string::npos);
    }
  }
  // The auditor reads no business records either.
  EXPECT_EQ(tags().DryRunRules(auditor, OneRuleText("spend_fen >= 0")).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(tags().DryRunRules(auditor, OneRuleText("order_count >= 0")).status().code(),
            ErrorCode::kPermissionDenied);
  // A condition on no metric at all tells the auditor only the totals.
  EXPECT_TRUE(tags().DryRunRules(auditor, OneRuleText("false")).ok());

  // What the head may read, it may count, but a group that singles out
  // fewer than ten customers (an exact value, a range narrowed to one)
  // answers "<10" and so does the total.
  for (const std::string when :
       {"spend_fen == 100003", "spend_fen >= 100003 and spend_fen <= 100003",
        "spend_fen != 100003 and spend_fen < 100005", "spend_fen in [100001, 100002]"}) {
    SCOPED_TRACE(when);
    Result<ReclassifyReport> dry = tags().DryRunRules(head_, OneRuleText(when));
    ASSERT_TRUE(dry.ok()) << dry.status().ToString();
    EXPECT_TRUE(dry->small_groups_suppressed);
    EXPECT_TRUE(dry->customers_changed_suppressed);
    EXPECT_EQ(dry->customers_changed, 0);
    ASSERT_EQ(dry->transitions.size(), 1u);
    EXPECT_TRUE(dry->transitions[0].suppressed);
    EXPECT_EQ(dry->transitions[0].customers, 0);
  }
  // Groups of ten or more are counted exactly.
  Result<ReclassifyReport> all = tags().DryRunRules(head_, OneRuleText("spend_fen >= 100000"));
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_FALSE(all->customers_changed_suppressed);
  EXPECT_EQ(all->customers_changed, 12);
  ASSERT_EQ(all->transitions.size(), 1u);
  EXPECT_EQ(all->transitions[0].customers, 12);
  // Two such runs differing by one customer cannot be told apart from
  // counts of the rating, which no head's run may name; the metrics each
  // run used are in its audit entry.
  bool named_metrics = false;
  bool named_refused_metrics = false;
  for (const store::AuditEntryRow& entry : AuditEntries("tag.reclassify")) {
    if (entry.details.find(R"("metrics":["spend_fen"])") != std::string::npos) {
      named_metrics = true;
    }
    if (entry.result == "denied" &&
        entry.details.find(R"("metrics":["credit_rating","spend_fen"])") != std::string::npos) {
      named_refused_metrics = true;
    }
  }
  EXPECT_TRUE(named_metrics);
  EXPECT_TRUE(named_refused_metrics);
  // The information manager reads the rating in plaintext (reveal): allowed.
  EXPECT_TRUE(tags().DryRunRules(manager_, OneRuleText("credit_rating == \"CCC\"")).ok());
}

// Issue 11.9: a rules_change approval showed the same summary for every
// version. It now carries the impact computed at filing (small groups
// suppressed) and shows the line diff against the active version.
TEST_F(TagServiceTest, Issue_11_9_ARulesChangeShowsItsDiffAndImpact) {
  std::vector<std::string> ids;
  for (int i = 0; i < 11; ++i) {
    ids.push_back(CreateCustomer());
    Spend(ids.back(), 600'000);
  }
  std::string lower(rules::DefaultRulesToml());
  const std::string from = "spend_fen >= 1_000_000";
  ASSERT_NE(lower.find(from), std::string::npos);
  lower.replace(lower.find(from), from.size(), "spend_fen >= 500_000");
  Result<ProposedRules> proposed = tags().ProposeRules(manager_, lower);
  ASSERT_TRUE(proposed.ok()) << proposed.status().ToString();
  Result<ApprovalDetail> shown = approvals().Get(head_, proposed->approval.id, {}, {});
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  const boost::json::object& details = shown->details;
  ASSERT_TRUE(details.contains("diff")) << boost::json::serialize(details);
  std::vector<std::string> diff;
  for (const boost::json::value& line : details.at("diff").as_array()) {
    diff.push_back(std::string(line.as_string()));
  }
  int removed = 0, added = 0;
  for (const std::string& line : diff) {
    if (line.rfind("- ", 0) == 0) {
      ++removed;
      EXPECT_NE(line.find("1_000_000"), std::string::npos) << line;
    }
    if (line.rfind("+ ", 0) == 0) {
      ++added;
      EXPECT_NE(line.find("500_000"), std::string::npos) << line;
    }
  }
  EXPECT_EQ(removed, 1);
  EXPECT_EQ(added, 1);
  EXPECT_LE(diff.size(), 1u + 1u + 2 * kRulesDiffContextLines);
  const std::string impact = boost::json::serialize(details.at("impact"));
  EXPECT_NE(impact.find(R"("customers_changed":11)"), std::string::npos) << impact;
  EXPECT_NE(impact.find(
                R"({"dimension":"value_tier","from":"ordinary","to":"medium","customers":11})"),
            std::string::npos)
      << impact;
  EXPECT_NE(proposed->approval.summary.find("11 of 11 customers"), std::string::npos)
      << proposed->approval.summary;

  // A second version that moves nobody: its own diff, and its impact
  // (zero) suppressed.
  std::string one = lower;
  one.replace(one.find("spend_fen >= 500_000"), 20, "spend_fen >= 999_999_999");
  Result<ProposedRules> second = tags().ProposeRules(manager_, one);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  Result<ApprovalDetail> second_shown = approvals().Get(head_, second->approval.id, {}, {});
  ASSERT_TRUE(second_shown.ok());
  EXPECT_NE(boost::json::serialize(second_shown->details.at("diff")).find("999_999_999"),
            std::string::npos);
  EXPECT_NE(second->approval.summary, proposed->approval.summary);
  // The approved version still activates from the new payload.
  ASSERT_TRUE(approvals().Decide(head_, proposed->approval.id, {true, {}, "ok"}).ok());
  EXPECT_EQ(tags().active_version(), proposed->version.version);
}

TEST(RulesDiffTest, Issue_11_9_ShowsChangedLinesWithContextAndIsBounded) {
  EXPECT_EQ(RulesDiff("a\nb\nc\n", "a\nb\nc\n"),
            (std::vector<std::string>{"  a", "  b", "  c"}));
  EXPECT_EQ(RulesDiff("a\nb\nc", "a\nx\nc"),
            (std::vector<std::string>{"  a", "- b", "+ x", "  c"}));
  std::string big_before, big_after;
  for (int i = 0; i < 3000; ++i) {
    big_before += "line " + std::to_string(i) + "\n";
    big_after += "other " + std::to_string(i) + "\n";
  }
  const std::vector<std::string> bounded = RulesDiff(big_before, big_after);
  EXPECT_EQ(bounded.size(), kRulesDiffLinesMax);
  EXPECT_NE(bounded.back().find("cut"), std::string::npos);
}

TEST_F(TagServiceTest, ARejectedRulesVersionNeverBecomesActive) {
  Result<ProposedRules> proposed =
      tags().ProposeRules(manager_, std::string(rules::DefaultRulesToml()));
  ASSERT_TRUE(proposed.ok()) << proposed.status().ToString();
  ASSERT_TRUE(approvals().Decide(head_, proposed->approval.id, {false, {}, "no need"}).ok());
  EXPECT_EQ(tags().active_version(), 1);
  Result<RulesOverview> rules = tags().GetRules(head_);
  EXPECT_EQ(rules->versions.front().approval_status, "rejected");
  EXPECT_EQ(rules->versions.front().status, "proposed");
}

// A crash after the decision and before the tags were written: the next
// open applies the approved items with the real handler.
TEST_F(TagServiceTest, ABatchLeftApplyingByACrashIsAppliedAtTheNextOpen) {
  const std::string id = CreateCustomer();
  Spend(id, 20'000'000);
  const ReclassifyReport filed = Run(false);
  ASSERT_TRUE(filed.approval.has_value());
  {
    Result<std::unique_ptr<store::ApprovalStore>> raw =
        store::OpenSqliteApprovalStore(vault_->store());
    ASSERT_TRUE(raw.ok());
    store::ApprovalRecord decision;
    decision.decided_by = head_.id;
    decision.decided_role = "dept_head";
    decision.decided_at_us = env_.NowMicros();
    ASSERT_TRUE((*raw)->Decide(filed.approval->id, store::kApprovalApplying, decision, {}, true).ok());
  }
  EXPECT_EQ(TagsOf(id).at("value_tier"), "ordinary");
  Open();
  EXPECT_EQ(TagsOf(id).at("value_tier"), "high");
  Result<ApprovalDetail> after = approvals().Get(head_, filed.approval->id, std::nullopt, {});
  EXPECT_EQ(after->approval.status, "approved");
  EXPECT_EQ(after->approval.items_applied, 1);
}

TEST_F(TagServiceTest, ReclassificationReadsInBatchesAndReportsProgress) {
  std::vector<FieldValues> rows(250, FieldValues{{"name", "王五"}});
  Result<ImportOutcome> imported = vault_->customers().Import(manager_, rows);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  Result<store::CustomerPage> page = vault_->store().ListCustomers(std::nullopt, std::nullopt, 300);
  ASSERT_EQ(page->items.size(), 250u);
  for (int i : {0, 99, 100, 249}) Spend(page->items[i].id, 1'500'000);
  staff_.reset();
  vault_.reset();
  environment_["CUSTVAULT_TAGS_RECLASSIFY_BATCH_SIZE"] = "100";
  Open();
  std::vector<std::pair<int64_t, int64_t>> progress;
  Result<ReclassifyReport> report = tags().Reclassify(
      manager_, {.dry_run = false, .progress = [&](int64_t done, int64_t total) {
                   progress.emplace_back(done, total);
                 }});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(progress,
            (std::vector<std::pair<int64_t, int64_t>>{{100, 250}, {200, 250}, {250, 250}}));
  EXPECT_EQ(report->customers_changed, 4);
  EXPECT_EQ(report->approval->item_count, 4);
}

TEST_F(TagServiceTest, TheScheduledJobFilesAsTheSystemForADepartmentHead) {
  const std::string id = CreateCustomer();
  Spend(id, 20'000'000);
  Result<ReclassifyReport> report =
      tags().Reclassify(ApprovalService::JobActor("reclassify"), {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_TRUE(report->approval.has_value());
  EXPECT_EQ(report->approval->requested_by, "job:reclassify");
  EXPECT_TRUE(approvals().Decide(head_, report->approval->id, {true, {}, "ok"}).ok());
  EXPECT_EQ(TagsOf(id).at("value_tier"), "high");
  // A person without tag.reclassify may not start one.
  EXPECT_EQ(tags().Reclassify(head_, {}).status().code(), ErrorCode::kPermissionDenied);
}

}  // namespace
}  // namespace custvault::service
