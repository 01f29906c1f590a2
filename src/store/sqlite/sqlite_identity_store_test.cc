#include "store/sqlite/sqlite_identity_store.h"
#include "store/sqlite/migrations.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

namespace custvault::store::sqlite {
namespace {

namespace fs = std::filesystem;

class SqliteIdentityStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_identity_store_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Result<std::unique_ptr<Store>> base =
        OpenSqliteStore({.path = dir_ + "/custvault.db", .readers = 2, .busy_timeout_ms = 2000});
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    base_ = std::move(*base);
    Result<std::unique_ptr<IdentityStore>> identity = OpenSqliteIdentityStore(*base_);
    ASSERT_TRUE(identity.ok()) << identity.status().ToString();
    store_ = std::move(*identity);
  }
  void TearDown() override {
    store_.reset();
    base_.reset();
    fs::remove_all(dir_);
  }

  AccountRecord Account(const std::string& id, const std::string& username) {
    AccountRecord a;
    a.id = id;
    a.username = username;
    a.display_name = "Staff " + username;
    a.role = "info_manager";
    a.password_hash = "$argon2id$hash-of-" + username;
    a.password_changed_at_us = 1000;
    a.created_at_us = 1000;
    return a;
  }

  SessionRecord Session(const std::string& id, const std::string& account_id) {
    return {id, "hash-" + id, account_id, 5000, 5000, "10.0.0.1"};
  }

  std::string dir_;
  std::unique_ptr<Store> base_;
  std::unique_ptr<IdentityStore> store_;
};

TEST_F(SqliteIdentityStoreTest, AccountsRoundTripAndUsernamesAreUnique) {
  AccountRecord a = Account("u1", "li.lei");
  a.ip_allowlist = "10.0.0.0/8";
  a.must_change_password = true;
  ASSERT_TRUE(store_->InsertAccount(a).ok());
  Result<AccountRecord> got = store_->GetAccountByUsername("li.lei");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, "u1");
  EXPECT_EQ(got->ip_allowlist, "10.0.0.0/8");
  EXPECT_TRUE(got->must_change_password);
  EXPECT_TRUE(got->totp_secret_sealed.empty());
  EXPECT_EQ(store_->InsertAccount(Account("u2", "li.lei")).code(), ErrorCode::kConflict);
  EXPECT_EQ(store_->GetAccount("nobody").status().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store_->InsertAccount(Account("u3", "han.meimei")).ok());
  Result<std::vector<AccountRecord>> all = store_->ListAccounts();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].username, "han.meimei");  // by username
}

TEST_F(SqliteIdentityStoreTest, AccountsShareTheCustomerDatabaseFileAndSchema) {
  ASSERT_TRUE(store_->InsertAccount(Account("u1", "a")).ok());
  EXPECT_EQ(*base_->SchemaVersion(), LatestSchemaVersion());  // one schema, one file
  EXPECT_FALSE(fs::exists(dir_ + "/identity.db"));
}

TEST_F(SqliteIdentityStoreTest, R_ACC_4_FailuresLockAtTheThresholdAndTheCountRestarts) {
  ASSERT_TRUE(store_->InsertAccount(Account("u1", "a")).ok());
  for (int i = 1; i <= 2; ++i) {
    Result<AccountRecord> after = store_->RecordLoginFailure("u1", 3, 99'000);
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->failed_logins, i);
    EXPECT_EQ(after->locked_until_us, 0);
  }
  Result<AccountRecord> locked = store_->RecordLoginFailure("u1", 3, 99'000);
  ASSERT_TRUE(locked.ok());
  EXPECT_EQ(locked->locked_until_us, 99'000);
  EXPECT_EQ(locked->failed_logins, 0);
  EXPECT_EQ(store_->RecordLoginFailure("nobody", 3, 1).status().code(), ErrorCode::kNotFound);
}

TEST_F(SqliteIdentityStoreTest, R_ACC_4_LoginSuccessResetsFailuresAndRefusesAReusedTotpStep) {
  ASSERT_TRUE(store_->InsertAccount(Account("u1", "a")).ok());
  ASSERT_TRUE(store_->RecordLoginFailure("u1", 5, 1).ok());
  ASSERT_TRUE(store_->RecordLoginSuccess(Session("s1", "u1"), 100).ok());
  Result<AccountRecord> after = store_->GetAccount("u1");
  EXPECT_EQ(after->failed_logins, 0);
  EXPECT_EQ(after->totp_last_step, 100);
  EXPECT_EQ(after->last_login_at_us, 5000);
  // The same step again: a replay; nothing is written, not even the session.
  EXPECT_EQ(store_->RecordLoginSuccess(Session("s2", "u1"), 100).code(), ErrorCode::kConflict);
  EXPECT_EQ(store_->GetSessionByTokenHash("hash-s2").status().code(), ErrorCode::kNotFound);
  Result<SessionRecord> session = store_->GetSessionByTokenHash("hash-s1");
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->account_id, "u1");
  EXPECT_EQ(session->ip, "10.0.0.1");
}

TEST_F(SqliteIdentityStoreTest, R_ACC_4_PasswordChangeKeepsTheNewestHistoryOnly) {
  ASSERT_TRUE(store_->InsertAccount(Account("u1", "a")).ok());
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(store_->ChangePassword("u1", "h" + std::to_string(i), 2000 + i, false, 5, "").ok());
  }
  Result<std::vector<std::string>> history = store_->PasswordHistory("u1", 10);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(*history, (std::vector<std::string>{"h5", "h4", "h3", "h2", "h1"}));
  EXPECT_EQ(store_->GetAccount("u1")->password_hash, "h6");
  EXPECT_EQ(store_->GetAccount("u1")->password_changed_at_us, 2006);
}

TEST_F(SqliteIdentityStoreTest, R_ACC_3_DisablingEndsEverySessionOfTheAccountAtOnce) {
  ASSERT_TRUE(store_->InsertAccount(Account("u1", "a")).ok());
  ASSERT_TRUE(store_->InsertAccount(Account("u2", "b")).ok());
  ASSERT_TRUE(store_->RecordLoginSuccess(Session("s1", "u1"), std::nullopt).ok());
  ASSERT_TRUE(store_->RecordLoginSuccess(Session("s2", "u1"), std::nullopt).ok());
  ASSERT_TRUE(store_->RecordLoginSuccess(Session("s3", "u2"), std::nullopt).ok());
  Result<int64_t> ended = store_->DisableAccount("u1");
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(*ended, 2);
  EXPECT_EQ(store_->GetAccount("u1")->status, "disabled");
  EXPECT_EQ(store_->GetSessionByTokenHash("hash-s1").status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->GetSessionByTokenHash("hash-s3").ok());
}

TEST_F(SqliteIdentityStoreTest, TotpEnrolmentMovesThePendingSecretOnConfirmation) {
  ASSERT_TRUE(store_->InsertAccount(Account("u1", "a")).ok());
  EXPECT_EQ(store_->ConfirmTotp("u1", 7).code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store_->SetTotpPending("u1", "sealed-bytes").ok());
  EXPECT_EQ(store_->GetAccount("u1")->totp_secret_sealed, "");
  ASSERT_TRUE(store_->ConfirmTotp("u1", 7).ok());
  Result<AccountRecord> a = store_->GetAccount("u1");
  EXPECT_EQ(a->totp_secret_sealed, "sealed-bytes");
  EXPECT_EQ(a->totp_pending_sealed, "");
  EXPECT_EQ(a->totp_last_step, 7);
}

TEST_F(SqliteIdentityStoreTest, R_ACC_3_RoleRequestIsDecidedOnceAndApprovalChangesTheRole) {
  ASSERT_TRUE(store_->InsertAccount(Account("u1", "a")).ok());
  RoleRequestRecord request{"r1", "u1", "dept_head", "admin1", 3000};
  ASSERT_TRUE(store_->InsertRoleRequest(request).ok());
  EXPECT_EQ(store_->GetAccount("u1")->role, "info_manager");  // not before approval
  ASSERT_TRUE(store_->DecideRoleRequest("r1", true, "sec1", 4000, "ok").ok());
  EXPECT_EQ(store_->GetAccount("u1")->role, "dept_head");
  EXPECT_EQ(store_->DecideRoleRequest("r1", false, "sec1", 4001, "").code(),
            ErrorCode::kConflict);
  Result<RoleRequestRecord> decided = store_->GetRoleRequest("r1");
  EXPECT_EQ(decided->status, "approved");
  EXPECT_EQ(decided->decided_by, "sec1");
  AccountRecord fresh = Account("u2", "new.hire");
  fresh.status = "pending";
  ASSERT_TRUE(store_->InsertAccount(fresh).ok());
  ASSERT_TRUE(store_->InsertRoleRequest({"r3", "u2", "entry_clerk", "admin1", 4500}).ok());
  ASSERT_TRUE(store_->DecideRoleRequest("r3", true, "sec1", 4600, "").ok());
  EXPECT_EQ(store_->GetAccount("u2")->status, "active");
  ASSERT_TRUE(store_->InsertRoleRequest({"r2", "u1", "auditor", "admin1", 5000}).ok());
  ASSERT_TRUE(store_->DecideRoleRequest("r2", false, "sec1", 6000, "no").ok());
  EXPECT_EQ(store_->GetAccount("u1")->role, "dept_head");
  EXPECT_EQ(store_->ListRoleRequests("pending")->size(), 0u);
  EXPECT_EQ(store_->ListRoleRequests("")->size(), 3u);
}

TEST_F(SqliteIdentityStoreTest, ReviewsSetTheLastReviewDate) {
  ASSERT_TRUE(store_->InsertAccount(Account("u1", "a")).ok());
  ASSERT_TRUE(store_->RecordReview({"u1", "admin1", 7000, "still in post"}).ok());
  EXPECT_EQ(store_->GetAccount("u1")->last_review_at_us, 7000);
  EXPECT_EQ(store_->ListReviews("u1")->size(), 1u);
  EXPECT_EQ(store_->RecordReview({"nobody", "admin1", 7000, ""}).code(), ErrorCode::kNotFound);
}

TEST_F(SqliteIdentityStoreTest, ChannelsAreFoundByKeyHashOnly) {
  ASSERT_TRUE(store_->InsertChannel({"wechat", "keyhash1", "admin1", 1, "active"}).ok());
  EXPECT_EQ(store_->InsertChannel({"wechat", "keyhash2", "admin1", 1, "active"}).code(),
            ErrorCode::kConflict);
  EXPECT_EQ(store_->GetChannelByKeyHash("keyhash1")->name, "wechat");
  EXPECT_EQ(store_->GetChannelByKeyHash("other").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->ListChannels()->size(), 1u);
}

TEST_F(SqliteIdentityStoreTest, OversizedValuesAreRefusedBeforeAnyWrite) {
  AccountRecord a = Account("u1", std::string(65, 'x'));
  EXPECT_EQ(store_->InsertAccount(a).code(), ErrorCode::kInvalidArgument);
  a = Account("u1", "a");
  a.ip_allowlist = std::string(5000, '1');
  EXPECT_EQ(store_->InsertAccount(a).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->ListAccounts()->size(), 0u);
}

}  // namespace
}  // namespace custvault::store::sqlite
