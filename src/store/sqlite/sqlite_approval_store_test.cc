#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "store/approval_store.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/sqlite_store.h"
#include "store/tag_store.h"

namespace custvault::store {
namespace {

namespace fs = std::filesystem;

class SqliteApprovalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_approval_store_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Result<std::unique_ptr<Store>> base =
        OpenSqliteStore({.path = dir_ + "/custvault.db", .readers = 2, .busy_timeout_ms = 2000});
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    base_ = std::move(*base);
    Result<std::unique_ptr<ApprovalStore>> approvals = OpenSqliteApprovalStore(*base_);
    ASSERT_TRUE(approvals.ok()) << approvals.status().ToString();
    approvals_ = std::move(*approvals);
    Result<std::unique_ptr<TagStore>> tags = OpenSqliteTagStore(*base_);
    ASSERT_TRUE(tags.ok()) << tags.status().ToString();
    tags_ = std::move(*tags);
  }
  void TearDown() override {
    approvals_.reset();
    tags_.reset();
    base_.reset();
    fs::remove_all(dir_);
  }

  ApprovalRecord Approval(const std::string& id, const std::string& status = kApprovalPending,
                          int64_t at_us = 1000) {
    ApprovalRecord a;
    a.id = id;
    a.kind = "tag_batch";
    a.status = status;
    a.requested_by = "u_maker";
    a.requested_role = "info_manager";
    a.requested_at_us = at_us;
    a.expires_at_us = at_us + 1'000'000;
    a.summary = "3 tag changes";
    a.payload = std::string("\0\1payload", 9);
    return a;
  }
  std::vector<ApprovalItemRecord> Items(int64_t first_seq, int count) {
    std::vector<ApprovalItemRecord> items;
    for (int i = 0; i < count; ++i) {
      ApprovalItemRecord item;
      item.seq = first_seq + i;
      item.customer_id = "C" + std::to_string(first_seq + i);
      item.summary = "risk: low -> high";
      item.payload = "p" + std::to_string(first_seq + i);
      items.push_back(item);
    }
    return items;
  }
  ApprovalRecord Decision(int64_t at_us) {
    ApprovalRecord d;
    d.decided_by = "u_head";
    d.decided_role = "dept_head";
    d.decided_at_us = at_us;
    d.comment = "ok";
    return d;
  }
  void AddCustomer(const std::string& id, std::map<std::string, std::string> tags) {
    CustomerRecord r;
    r.id = id;
    r.channel = "staff:test";
    r.created_at_us = 1;
    r.updated_at_us = 1;
    r.wrapped_key = "k";
    r.fields["name"] = "sealed";
    r.tags = std::move(tags);
    ASSERT_TRUE(base_->InsertCustomer(r).ok());
  }

  std::string dir_;
  std::unique_ptr<Store> base_;
  std::unique_ptr<ApprovalStore> approvals_;
  std::unique_ptr<TagStore> tags_;
};

TEST_F(SqliteApprovalStoreTest, InsertGetRoundTripsEveryColumn) {
  ASSERT_TRUE(approvals_->InsertApproval(Approval("a_1")).ok());
  Result<ApprovalRecord> got = approvals_->GetApproval("a_1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->kind, "tag_batch");
  EXPECT_EQ(got->status, kApprovalPending);
  EXPECT_EQ(got->payload, std::string("\0\1payload", 9));
  EXPECT_EQ(got->expires_at_us, 1'001'000);
  EXPECT_EQ(approvals_->InsertApproval(Approval("a_1")).code(), ErrorCode::kConflict);
  EXPECT_EQ(approvals_->GetApproval("a_none").status().code(), ErrorCode::kNotFound);
}

TEST_F(SqliteApprovalStoreTest, RefusesValuesOverTheirLimits) {
  ApprovalRecord a = Approval("a_1");
  a.summary.assign(kApprovalSummaryBytesMax + 1, 'x');
  EXPECT_EQ(approvals_->InsertApproval(a).code(), ErrorCode::kInvalidArgument);
  a = Approval("a_1");
  a.comment.assign(kApprovalCommentBytesMax + 1, 'x');
  EXPECT_EQ(approvals_->InsertApproval(a).code(), ErrorCode::kInvalidArgument);
  a = Approval("a_1");
  a.status = "maybe";
  EXPECT_EQ(approvals_->InsertApproval(a).code(), ErrorCode::kInvalidArgument);
}

TEST_F(SqliteApprovalStoreTest, ItemsAppendInSequenceAndPage) {
  ASSERT_TRUE(approvals_->InsertApproval(Approval("a_1", kApprovalFiling)).ok());
  ASSERT_TRUE(approvals_->AppendItems("a_1", Items(1, 3)).ok());
  ASSERT_TRUE(approvals_->AppendItems("a_1", Items(4, 2)).ok());
  // A gap or a repeat is refused.
  EXPECT_EQ(approvals_->AppendItems("a_1", Items(9, 1)).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(approvals_->GetApproval("a_1")->item_count, 5);
  Result<ApprovalItemPage> page = approvals_->ListItems("a_1", 0, 2, false);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].customer_id, "C1");
  ASSERT_TRUE(page->next_seq.has_value());
  page = approvals_->ListItems("a_1", *page->next_seq, 10, false);
  ASSERT_EQ(page->items.size(), 3u);
  EXPECT_EQ(page->items[2].payload, "p5");
  EXPECT_FALSE(page->next_seq.has_value());
}

TEST_F(SqliteApprovalStoreTest, FilingBecomesPendingOnceAndAbandonedFilingFails) {
  ASSERT_TRUE(approvals_->InsertApproval(Approval("a_1", kApprovalFiling)).ok());
  ASSERT_TRUE(approvals_->FinishFiling("a_1", "2 changes").ok());
  EXPECT_EQ(approvals_->GetApproval("a_1")->status, kApprovalPending);
  EXPECT_EQ(approvals_->GetApproval("a_1")->summary, "2 changes");
  EXPECT_EQ(approvals_->FinishFiling("a_1", "again").code(), ErrorCode::kConflict);
  ASSERT_TRUE(approvals_->InsertApproval(Approval("a_2", kApprovalFiling)).ok());
  ASSERT_TRUE(approvals_->AbandonFiling("a_2", "filing_interrupted").ok());
  EXPECT_EQ(approvals_->GetApproval("a_2")->status, kApprovalFailed);
  EXPECT_EQ(approvals_->GetApproval("a_2")->outcome, "filing_interrupted");
}

TEST_F(SqliteApprovalStoreTest, DecideChoosesItemsAndOnlyOneDecisionWins) {
  ASSERT_TRUE(approvals_->InsertApproval(Approval("a_1", kApprovalFiling)).ok());
  ASSERT_TRUE(approvals_->AppendItems("a_1", Items(1, 4)).ok());
  ASSERT_TRUE(approvals_->FinishFiling("a_1", "4 changes").ok());
  EXPECT_EQ(approvals_->Decide("a_1", kApprovalApplying, Decision(2000), {7}, false).code(),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(approvals_->Decide("a_1", kApprovalApplying, Decision(2000), {2, 4}, false).ok());
  EXPECT_EQ(approvals_->Decide("a_1", kApprovalRejected, Decision(2001), {}, false).code(),
            ErrorCode::kConflict);
  ApprovalRecord a = *approvals_->GetApproval("a_1");
  EXPECT_EQ(a.status, kApprovalApplying);
  EXPECT_EQ(a.items_chosen, 2);
  EXPECT_EQ(a.decided_by, "u_head");
  Result<ApprovalItemPage> chosen = approvals_->ListItems("a_1", 0, 10, true);
  ASSERT_EQ(chosen->items.size(), 2u);
  EXPECT_EQ(chosen->items[0].seq, 2);
  EXPECT_EQ(chosen->items[1].seq, 4);
  ASSERT_TRUE(
      approvals_->FinishApplying("a_1", kApprovalPartiallyApproved, true, {4}, 1, "1 stale").ok());
  EXPECT_EQ(approvals_->FinishApplying("a_1", kApprovalApproved, true, {}, 0, "x").code(),
            ErrorCode::kConflict);
  a = *approvals_->GetApproval("a_1");
  EXPECT_EQ(a.status, kApprovalPartiallyApproved);
  EXPECT_EQ(a.items_applied, 1);
  chosen = approvals_->ListItems("a_1", 0, 10, true);
  EXPECT_TRUE(chosen->items[0].applied);
  EXPECT_FALSE(chosen->items[1].applied);
}

TEST_F(SqliteApprovalStoreTest, DecideRefusesAnExpiredApprovalButMayExpireIt) {
  ASSERT_TRUE(approvals_->InsertApproval(Approval("a_1")).ok());
  EXPECT_EQ(
      approvals_->Decide("a_1", kApprovalApplying, Decision(1'001'000), {}, true).code(),
      ErrorCode::kConflict);
  Result<std::vector<ApprovalRecord>> due = approvals_->ListDue(1'001'000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  ApprovalRecord expiry = Decision(1'001'000);
  expiry.decided_by = "system";
  ASSERT_TRUE(approvals_->Decide("a_1", kApprovalExpired, expiry, {}, false).ok());
  EXPECT_EQ(approvals_->GetApproval("a_1")->status, kApprovalExpired);
  EXPECT_TRUE(approvals_->ListDue(2'000'000, 10)->empty());
}

TEST_F(SqliteApprovalStoreTest, ConcurrentDecisionsHaveExactlyOneWinner) {
  ASSERT_TRUE(approvals_->InsertApproval(Approval("a_1")).ok());
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      Status s = approvals_->Decide("a_1", i % 2 ? kApprovalApplying : kApprovalRejected,
                                    Decision(2000), {}, true);
      if (s.ok()) ++wins;
      if (s.code() == ErrorCode::kConflict) ++conflicts;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), 7);
}

TEST_F(SqliteApprovalStoreTest, ListFiltersAndPagesNewestFirst) {
  for (int i = 0; i < 5; ++i) {
    ApprovalRecord a = Approval("a_" + std::to_string(i), kApprovalPending, 1000 + i);
    if (i == 1) a.kind = "tag_change";
    if (i == 2) a.status = kApprovalRejected;
    if (i == 3) a.subject = "C1";
    ASSERT_TRUE(approvals_->InsertApproval(a).ok());
  }
  Result<std::vector<ApprovalRecord>> all = approvals_->ListApprovals({}, std::nullopt, 3);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "a_4");
  EXPECT_TRUE((*all)[0].payload.empty());  // lists never carry payloads
  ApprovalPosition after{(*all)[2].requested_at_us, (*all)[2].id};
  Result<std::vector<ApprovalRecord>> rest = approvals_->ListApprovals({}, after, 3);
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[1].id, "a_0");
  ApprovalFilter pending;
  pending.status = kApprovalPending;
  pending.kinds = {"tag_batch"};
  EXPECT_EQ(approvals_->ListApprovals(pending, std::nullopt, 10)->size(), 3u);
  ApprovalFilter subject;
  subject.subject = "C1";
  ASSERT_EQ(approvals_->ListApprovals(subject, std::nullopt, 10)->size(), 1u);
}

TEST_F(SqliteApprovalStoreTest, ApprovalsCannotBeDeleted) {
  ASSERT_TRUE(approvals_->InsertApproval(Approval("a_1")).ok());
  auto* sqlite_store = dynamic_cast<sqlite::SqliteStore*>(base_.get());
  Status deleted = sqlite_store->WithWriter([](sqlite::Connection& writer) {
    return writer.Exec("DELETE FROM approvals", "delete approvals");
  });
  EXPECT_FALSE(deleted.ok());
  EXPECT_TRUE(approvals_->GetApproval("a_1").ok());
}

TEST_F(SqliteApprovalStoreTest, RulesVersionsActivateOneAtATime) {
  EXPECT_EQ(tags_->ActiveRulesVersion().status().code(), ErrorCode::kNotFound);
  RulesVersionRecord v1{1, "rules v1", kRulesActive, "system", 10, "", 10};
  ASSERT_TRUE(tags_->InsertRulesVersion(v1).ok());
  RulesVersionRecord v3{3, "rules v3", kRulesProposed, "u_1", 20, "a_1", 0};
  EXPECT_EQ(tags_->InsertRulesVersion(v3).code(), ErrorCode::kConflict);
  RulesVersionRecord v2{2, "rules v2", kRulesProposed, "u_1", 20, "a_1", 0};
  ASSERT_TRUE(tags_->InsertRulesVersion(v2).ok());
  EXPECT_EQ(tags_->ActiveRulesVersion()->version, 1);
  ASSERT_TRUE(tags_->ActivateRulesVersion(2, 30).ok());
  ASSERT_TRUE(tags_->ActivateRulesVersion(2, 31).ok());  // idempotent
  EXPECT_EQ(tags_->ActiveRulesVersion()->version, 2);
  EXPECT_EQ(tags_->ActiveRulesVersion()->activated_at_us, 30);
  EXPECT_EQ(tags_->GetRulesVersion(1)->status, kRulesSuperseded);
  EXPECT_EQ(tags_->ActivateRulesVersion(1, 40).code(), ErrorCode::kConflict);
  EXPECT_EQ(tags_->ActivateRulesVersion(9, 40).code(), ErrorCode::kNotFound);
  Result<std::vector<RulesVersionRecord>> list = tags_->ListRulesVersions(10);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].version, 2);
}

TEST_F(SqliteApprovalStoreTest, TagChangesApplyOnlyWhereTagsAreAsExpected) {
  AddCustomer("C1", {{"risk", "low"}, {"value_tier", "ordinary"}});
  AddCustomer("C2", {{"risk", "low"}});
  AddCustomer("C3", {{"risk", "high"}});  // changed since the change was computed
  std::vector<TagChange> changes = {
      {"C1", {{"value_tier", "ordinary"}}, {{"value_tier", "medium"}}},
      {"C2", {{"risk", "low"}, {"value_tier_absent_before", "x"}}, {{"risk", "high"}}},
      {"C2", {{"risk", "low"}}, {{"risk", "high"}, {"value_tier", "high"}}},
      {"C3", {{"risk", "low"}}, {{"risk", "medium"}}},
      {"C9", {{"risk", "low"}}, {{"risk", "high"}}},
  };
  Result<std::vector<TagChangeOutcome>> outcomes = tags_->ApplyTagChanges(changes, 500);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  EXPECT_EQ((*outcomes)[0], TagChangeOutcome::kApplied);
  EXPECT_EQ((*outcomes)[1], TagChangeOutcome::kStale);  // expected a tag it does not have
  EXPECT_EQ((*outcomes)[2], TagChangeOutcome::kApplied);
  EXPECT_EQ((*outcomes)[3], TagChangeOutcome::kStale);
  EXPECT_EQ((*outcomes)[4], TagChangeOutcome::kMissing);
  EXPECT_EQ(base_->GetCustomer("C1")->tags.at("value_tier"), "medium");
  EXPECT_EQ(base_->GetCustomer("C1")->tags.at("risk"), "low");  // other dimensions untouched
  EXPECT_EQ(base_->GetCustomer("C2")->tags.at("value_tier"), "high");
  EXPECT_EQ(base_->GetCustomer("C3")->tags.at("risk"), "high");
  // Applying again is harmless: everything applied is already applied.
  outcomes = tags_->ApplyTagChanges({changes[0], changes[2]}, 600);
  EXPECT_EQ((*outcomes)[0], TagChangeOutcome::kAlreadyApplied);
  EXPECT_EQ((*outcomes)[1], TagChangeOutcome::kAlreadyApplied);
}

TEST_F(SqliteApprovalStoreTest, ABadTagChangeIsRefusedBeforeAnyIsWritten) {
  AddCustomer("C1", {{"risk", "low"}});
  std::vector<TagChange> changes = {{"C1", {{"risk", "low"}}, {{"risk", "high"}}},
                                    {"C2", {}, {{"risk", std::string(300, 'x')}}}};
  EXPECT_EQ(tags_->ApplyTagChanges(changes, 500).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(base_->GetCustomer("C1")->tags.at("risk"), "low");
}

TEST_F(SqliteApprovalStoreTest, ScanForClassificationReadsOneFieldTheKeyAndTagsInIdOrder) {
  AddCustomer("C1", {{"risk", "low"}, {"value_tier", "ordinary"}});
  AddCustomer("C2", {});
  AddCustomer("C3", {{"risk", "high"}});
  CustomerUpdate rating;
  rating.id = "C3";
  rating.updated_at_us = 2;
  rating.set_fields["credit_rating"] = "sealed-rating";
  ASSERT_TRUE(base_->UpdateCustomer(rating).ok());
  Result<std::vector<ClassificationRow>> rows = tags_->ScanForClassification("", 2, "credit_rating");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].id, "C1");
  EXPECT_EQ((*rows)[0].wrapped_key, "k");
  EXPECT_FALSE((*rows)[0].field.has_value());
  EXPECT_EQ((*rows)[0].tags, (std::vector<std::pair<std::string, std::string>>{
                                 {"risk", "low"}, {"value_tier", "ordinary"}}));
  EXPECT_TRUE((*rows)[1].tags.empty());
  rows = tags_->ScanForClassification("C2", 10, "credit_rating");
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].id, "C3");
  EXPECT_EQ((*rows)[0].field, std::optional<std::string>("sealed-rating"));
  EXPECT_EQ((*rows)[0].tags, (std::vector<std::pair<std::string, std::string>>{{"risk", "high"}}));
  EXPECT_TRUE(tags_->ScanForClassification("C3", 10, "credit_rating")->empty());
  EXPECT_EQ(tags_->ScanForClassification("", 0, "x").status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace custvault::store
