// SqliteIdentityStore: the IdentityStore on the tables of migration 2, in
// the same SQLite file as the customers and through the same connections:
// writes go through SqliteStore::WithWriter (the one writer, serialised
// with every other write), reads borrow from its reader pool. One file
// means one backup and one set of connections; identity writes are rare
// (logins, password changes) beside customer writes.
#pragma once

#include "store/identity_store.h"
#include "store/sqlite/sqlite_store.h"

namespace custvault::store::sqlite {

class SqliteIdentityStore final : public IdentityStore {
 public:
  // `base` must outlive this object.
  explicit SqliteIdentityStore(SqliteStore& base) : base_(base) {}

  Status InsertAccount(const AccountRecord& account) override;
  Result<AccountRecord> GetAccount(const std::string& id) override;
  Result<AccountRecord> GetAccountByUsername(const std::string& username) override;
  Result<std::vector<AccountRecord>> ListAccounts() override;
  Result<AccountRecord> RecordLoginFailure(const std::string& account_id, int lockout_failures,
                                           int64_t locked_until_us) override;
  Status RecordLoginSuccess(const SessionRecord& session,
                            std::optional<int64_t> totp_step) override;
  Result<int64_t> ChangePassword(const std::string& account_id, const std::string& new_hash,
                                 int64_t changed_at_us, bool must_change_password,
                                 int history_keep, const std::string& keep_session_id) override;
  Result<std::vector<std::string>> PasswordHistory(const std::string& account_id,
                                                   int limit) override;
  Status SetTotpPending(const std::string& account_id, const std::string& sealed) override;
  Status ConfirmTotp(const std::string& account_id, int64_t totp_step) override;
  Status SetIpAllowlist(const std::string& account_id, const std::string& allowlist) override;
  Result<int64_t> DisableAccount(const std::string& account_id) override;
  Status RecordReview(const AccountReviewRecord& review) override;
  Result<std::vector<AccountReviewRecord>> ListReviews(const std::string& account_id) override;

  Result<SessionRecord> GetSessionByTokenHash(const std::string& token_hash) override;
  Status TouchSession(const std::string& session_id, int64_t last_seen_us) override;
  Status DeleteSession(const std::string& session_id) override;
  Result<int64_t> DeleteSessionsOfAccount(const std::string& account_id) override;

  Status InsertRoleRequest(const RoleRequestRecord& request) override;
  Result<RoleRequestRecord> GetRoleRequest(const std::string& id) override;
  Result<std::vector<RoleRequestRecord>> ListRoleRequests(const std::string& status) override;
  Status DecideRoleRequest(const std::string& id, bool approve, const std::string& decided_by,
                           int64_t decided_at_us, const std::string& comment) override;

  Status InsertChannel(const ChannelRecord& channel) override;
  Result<ChannelRecord> GetChannelByKeyHash(const std::string& api_key_hash) override;
  Result<ChannelRecord> GetChannel(const std::string& name) override;
  Result<std::vector<ChannelRecord>> ListChannels() override;
  Status RotateChannelKey(const std::string& name, const std::string& new_key_hash,
                          int64_t previous_valid_until_us, int64_t expires_at_us) override;
  Status RevokeChannel(const std::string& name, int64_t revoked_at_us) override;

 private:
  // Runs `work` in one write transaction on the shared writer.
  Status Write(const std::function<Status(Connection&)>& work);
  Result<AccountRecord> ReadAccount(const char* sql, const std::string& key);

  SqliteStore& base_;
};

}  // namespace custvault::store::sqlite
