// Sensitive-field edits through approval (R-ACC-1, R-APR-1).
#include "service/sensitive_edit.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "service/test_vault.h"

namespace custvault::service {
namespace {

TEST(SealedUpdateTest, RoundTripsAndRefusesMalformedBytes) {
  store::CustomerUpdate update;
  update.id = "C20261129000001";
  update.set_fields = {{"bank_account", std::string("\x01\x02\0env", 6)}, {"name", "sealed"}};
  update.set_blind_indexes = {{"bank_account", std::string(32, '\x7f')}};
  update.removed_fields = {"credit_rating", "email"};
  const std::string bytes = EncodeSealedUpdate(update);
  Result<store::CustomerUpdate> back = DecodeSealedUpdate(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, update.id);
  EXPECT_EQ(back->set_fields, update.set_fields);
  EXPECT_EQ(back->set_blind_indexes, update.set_blind_indexes);
  EXPECT_EQ(back->removed_fields, update.removed_fields);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_EQ(DecodeSealedUpdate(bytes.substr(0, cut)).status().code(), ErrorCode::kDataLoss)
        << cut;
  }
  EXPECT_EQ(DecodeSealedUpdate(bytes + "x").status().code(), ErrorCode::kDataLoss);
  std::string other_version = bytes;
  other_version[0] = 9;
  EXPECT_EQ(DecodeSealedUpdate(other_version).status().code(), ErrorCode::kDataLoss);
}

TEST(TruncateUtf8Test, NeverSplitsACharacter) {
  EXPECT_EQ(TruncateUtf8("abc", 5), "abc");
  EXPECT_EQ(TruncateUtf8("北京市", 4), "北");  // 3 bytes each
  EXPECT_EQ(TruncateUtf8("北京市", 6), "北京");
  EXPECT_EQ(TruncateUtf8("a北", 2), "a");
}

class SensitiveEditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto environment = FastAuthEnvironment();
    dir_ = std::make_unique<TestDataDir>(environment);
    Result<std::unique_ptr<Vault>> vault = Vault::Open(Env::Default(), dir_->path(), environment);
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    staff_ = std::make_unique<TestStaff>(vault_->accounts(), *dir_);
    manager_ = staff_->ActorFor(Role::kInfoManager).value();
    head_ = staff_->ActorFor(Role::kDeptHead).value();
    Result<CustomerView> created = vault_->customers().Create(
        manager_, {{"name", "张三"},
                   {"phone", "13812345678"},
                   {"bank_account", "6222021234567890128"},
                   {"credit_rating", "AA"}});
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    created_ = *created;
  }
  void TearDown() override {
    staff_.reset();
    vault_.reset();
  }

  std::unique_ptr<TestDataDir> dir_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<TestStaff> staff_;
  Actor manager_;
  Actor head_;
  CustomerView created_;
};

TEST_F(SensitiveEditTest, TheWholeUpdateIsFiledSealedAndAppliedOnlyOnApproval) {
  Result<CustomerView> filed = vault_->customers().Update(
      manager_, created_.id, {{"bank_account", "6228480012345671"}, {"phone", "13900001111"}});
  ASSERT_TRUE(filed.ok()) << filed.status().ToString();
  ASSERT_FALSE(filed->pending_approval_id.empty());
  // Nothing changed, not even the basic field that came with it.
  EXPECT_EQ(vault_->customers().Get(manager_, created_.id)->fields, created_.fields);
  Result<ApprovalRecord> record = vault_->approvals().GetRecord(filed->pending_approval_id);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->kind, "sensitive_edit");
  EXPECT_EQ(record->subject, created_.id);
  EXPECT_EQ(record->status, "pending");
  // Masked values only, in the summary and in the payload no plaintext.
  EXPECT_EQ(record->summary.find("6228480012345671"), std::string::npos) << record->summary;
  EXPECT_EQ(record->summary.find("13900001111"), std::string::npos) << record->summary;
  EXPECT_NE(record->summary.find("bank_account"), std::string::npos);
  EXPECT_EQ(record->payload.find("6228480012345671"), std::string::npos);
  EXPECT_EQ(record->payload.find("13900001111"), std::string::npos);

  Result<ApprovalView> approved =
      vault_->approvals().Decide(head_, filed->pending_approval_id, {true, {}, "verified"});
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_EQ(approved->status, "approved");
  // The change is exactly what was filed: readable, and searchable by its
  // new blind index.
  Result<RevealedFields> revealed = vault_->customers().Reveal(
      manager_, created_.id, {"bank_account", "phone"}, "checking the approved change");
  ASSERT_TRUE(revealed.ok()) << revealed.status().ToString();
  EXPECT_EQ(revealed->fields.at("bank_account").view(), "6228480012345671");
  EXPECT_EQ(revealed->fields.at("phone").view(), "13900001111");
  Result<CustomerListPage> found =
      vault_->customers().Search(manager_, "phone", "13900001111", std::nullopt, {});
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->items.size(), 1u);
  EXPECT_EQ(found->items[0].id, created_.id);
}

TEST_F(SensitiveEditTest, ARejectedEditChangesNothing) {
  Result<CustomerView> filed =
      vault_->customers().Update(manager_, created_.id, {{"credit_rating", std::nullopt}});
  ASSERT_TRUE(filed.ok()) << filed.status().ToString();
  ASSERT_TRUE(vault_->approvals()
                  .Decide(head_, filed->pending_approval_id, {false, {}, "keep the rating"})
                  .ok());
  EXPECT_EQ(vault_->customers().Get(manager_, created_.id)->fields, created_.fields);
}

TEST_F(SensitiveEditTest, AnEditOfADeletedCustomerFailsCleanly) {
  Result<CustomerView> filed =
      vault_->customers().Update(manager_, created_.id, {{"bank_account", "6228480012345671"}});
  ASSERT_TRUE(filed.ok()) << filed.status().ToString();
  ASSERT_TRUE(vault_->customers().Delete(manager_, created_.id).ok());
  Result<ApprovalView> decided =
      vault_->approvals().Decide(head_, filed->pending_approval_id, {true, {}, "ok"});
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(decided->status, "failed");
  EXPECT_EQ(decided->outcome, "customer_deleted");
  EXPECT_EQ(vault_->store().GetCustomer(created_.id).status().code(), ErrorCode::kNotFound);
}

TEST_F(SensitiveEditTest, RolesThatMayNotEditAtAllAreStillRefused) {
  Result<CustomerView> clerk = vault_->customers().Update(
      staff_->ActorFor(Role::kEntryClerk).value(), created_.id,
      {{"bank_account", "6228480012345671"}});
  ASSERT_EQ(clerk.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(clerk.status().details().at(0), (FieldError{"bank_account", "not_allowed"}));
  // Invalid values are refused before anything is filed.
  Result<CustomerView> invalid =
      vault_->customers().Update(manager_, created_.id, {{"bank_account", "123"}});
  EXPECT_EQ(invalid.status().code(), ErrorCode::kValidationFailed);
  EXPECT_TRUE(vault_->approvals().List(head_, {})->items.empty());
}

TEST_F(SensitiveEditTest, AnApprovedRatingChangeFilesTheTagChangeItCauses) {
  Result<CustomerView> filed =
      vault_->customers().Update(manager_, created_.id, {{"credit_rating", "C"}});
  ASSERT_TRUE(filed.ok()) << filed.status().ToString();
  ASSERT_TRUE(
      vault_->approvals().Decide(head_, filed->pending_approval_id, {true, {}, "ok"}).ok());
  Result<ApprovalListPage> changes = vault_->approvals().List(head_, {.kind = "tag_change"});
  ASSERT_EQ(changes->items.size(), 1u);
  EXPECT_NE(changes->items[0].summary.find("risk: low -> high"), std::string::npos);
  EXPECT_EQ(vault_->store().GetCustomer(created_.id)->tags.at("risk"), "low");  // not yet
}

// Issue 11.3, the exact sequence: manager A files {credit_rating D, phone
// P1}; a clerk sets phone P2; manager B files {credit_rating A}; approving
// B then A used to leave D and P1, silently reverting both newer changes.
TEST_F(SensitiveEditTest, Issue_11_3_AnOlderEditFailsAsStaleInsteadOfOverwritingNewerData) {
  const Actor clerk = staff_->ActorFor(Role::kEntryClerk).value();
  Result<CustomerView> a = vault_->customers().Update(
      manager_, created_.id, {{"credit_rating", "D"}, {"phone", "13900000001"}});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_FALSE(a->pending_approval_id.empty());
  Result<CustomerView> p2 =
      vault_->customers().Update(clerk, created_.id, {{"phone", "13900000002"}});
  ASSERT_TRUE(p2.ok()) << p2.status().ToString();
  ASSERT_TRUE(p2->pending_approval_id.empty());
  Result<CustomerView> b =
      vault_->customers().Update(manager_, created_.id, {{"credit_rating", "A"}});
  ASSERT_TRUE(b.ok()) << b.status().ToString();

  // Before deciding, the approver sees which fields A touches and that
  // newer values exist (no values: it may not see them in plaintext).
  Result<ApprovalDetail> shown = vault_->approvals().Get(head_, a->pending_approval_id, {}, {});
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  const std::string details = boost::json::serialize(shown->details);
  EXPECT_NE(details.find(R"({"field":"credit_rating","change":"set","newer_value_exists":false})"),
            std::string::npos)
      << details;
  EXPECT_NE(details.find(R"({"field":"phone","change":"set","newer_value_exists":true})"),
            std::string::npos)
      << details;
  EXPECT_EQ(details.find("1390000000"), std::string::npos) << details;

  Result<ApprovalView> approved_b =
      vault_->approvals().Decide(head_, b->pending_approval_id, {true, {}, "ok"});
  ASSERT_TRUE(approved_b.ok()) << approved_b.status().ToString();
  EXPECT_EQ(approved_b->status, "approved");
  Result<ApprovalView> approved_a =
      vault_->approvals().Decide(head_, a->pending_approval_id, {true, {}, "ok"});
  ASSERT_TRUE(approved_a.ok()) << approved_a.status().ToString();
  EXPECT_EQ(approved_a->status, "failed");
  EXPECT_NE(approved_a->outcome.find("stale"), std::string::npos) << approved_a->outcome;
  EXPECT_NE(approved_a->outcome.find("credit_rating"), std::string::npos) << approved_a->outcome;
  EXPECT_NE(approved_a->outcome.find("phone"), std::string::npos) << approved_a->outcome;

  // Both newer changes stand: rating A, phone P2 (found by search).
  Result<RevealedFields> revealed = vault_->customers().Reveal(
      manager_, created_.id, {"credit_rating", "phone"}, "checking the stale approval");
  ASSERT_TRUE(revealed.ok()) << revealed.status().ToString();
  EXPECT_EQ(revealed->fields.at("credit_rating").view(), "A");
  EXPECT_EQ(revealed->fields.at("phone").view(), "13900000002");
  Result<CustomerListPage> found =
      vault_->customers().Search(manager_, "phone", "13900000002", std::nullopt, {});
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->items.size(), 1u);
}

// Issue 11.3, neighbours: whoever changed the field (a removal by another
// approved edit, a clerk's direct write), the older edit is stale; a field
// rewritten with the same bytes or not touched at all is not. (A deleted
// customer: AnEditOfADeletedCustomerFailsCleanly.)
TEST_F(SensitiveEditTest, Issue_11_3_AnyNewerWriteOfATouchedFieldMakesTheEditStale) {
  // A field removed meanwhile by another approved edit.
  Result<CustomerView> set = vault_->customers().Update(
      manager_, created_.id, {{"bank_account", "6228480012345671"}});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  Result<CustomerView> removal =
      vault_->customers().Update(manager_, created_.id, {{"bank_account", std::nullopt}});
  ASSERT_TRUE(removal.ok()) << removal.status().ToString();
  ASSERT_EQ(vault_->approvals()
                .Decide(head_, removal->pending_approval_id, {true, {}, "ok"})
                ->status,
            "approved");
  Result<ApprovalView> stale_set =
      vault_->approvals().Decide(head_, set->pending_approval_id, {true, {}, "ok"});
  ASSERT_TRUE(stale_set.ok());
  EXPECT_EQ(stale_set->status, "failed");
  EXPECT_NE(stale_set->outcome.find("bank_account"), std::string::npos) << stale_set->outcome;

  // A field written again with the same stored bytes is not newer; any
  // other write of it (here a clerk's; self-service writes the same store
  // row the same way) is.
  Result<CustomerView> rating_and_phone = vault_->customers().Update(
      manager_, created_.id, {{"credit_rating", "B"}, {"phone", "13900000003"}});
  ASSERT_TRUE(rating_and_phone.ok()) << rating_and_phone.status().ToString();
  Result<store::CustomerRecord> record = vault_->store().GetCustomer(created_.id);
  ASSERT_TRUE(record.ok());
  store::CustomerUpdate same_bytes;
  same_bytes.id = created_.id;
  same_bytes.updated_at_us = record->updated_at_us;
  same_bytes.set_fields["phone"] = record->fields.at("phone");
  ASSERT_TRUE(vault_->store().UpdateCustomer(same_bytes).ok());
  Result<ApprovalDetail> unchanged =
      vault_->approvals().Get(head_, rating_and_phone->pending_approval_id, {}, {});
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(boost::json::serialize(unchanged->details).find("\"newer_value_exists\":true"),
            std::string::npos);
  Result<CustomerView> by_clerk = vault_->customers().Update(
      staff_->ActorFor(Role::kEntryClerk).value(), created_.id, {{"phone", "13900000004"}});
  ASSERT_TRUE(by_clerk.ok()) << by_clerk.status().ToString();
  Result<ApprovalView> stale_phone = vault_->approvals().Decide(
      head_, rating_and_phone->pending_approval_id, {true, {}, "ok"});
  ASSERT_TRUE(stale_phone.ok());
  EXPECT_EQ(stale_phone->status, "failed");
  EXPECT_NE(stale_phone->outcome.find("phone"), std::string::npos) << stale_phone->outcome;
  EXPECT_EQ(stale_phone->outcome.find("credit_rating"), std::string::npos)
      << stale_phone->outcome;  // the rating was not touched meanwhile

  // Untouched fields: the edit applies.
  Result<CustomerView> fresh =
      vault_->customers().Update(manager_, created_.id, {{"credit_rating", "BB"}});
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(vault_->approvals().Decide(head_, fresh->pending_approval_id, {true, {}, "ok"})->status,
            "approved");
}

}  // namespace
}  // namespace custvault::service
