// IdentityStore: accounts, password history, sessions, role requests,
// account reviews and channel systems (R-ACC-1..4). Like Store, the only
// door to these tables; the services above never see SQL.
//
// What is stored: argon2id password hashes, SM3 hashes of session tokens
// and API keys, and TOTP secrets sealed by the keyring (never plaintext
// secrets). Rows carry no customer personal data.
// Thread safety: every method may be called from many threads at once.
// Each method is one transaction; the ones that must change several rows
// together (disable + end sessions, approve + change role, password change
// + history) say so.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace custvault::store {

// Limits checked before any write (kInvalidArgument above them).
inline constexpr size_t kIdentityIdBytesMax = 64;
inline constexpr size_t kUsernameBytesMax = 64;
inline constexpr size_t kDisplayNameBytesMax = 128;
inline constexpr size_t kPasswordHashBytesMax = 512;
inline constexpr size_t kSealedSecretBytesMax = 512;
inline constexpr size_t kIpAllowlistBytesMax = 4096;
inline constexpr size_t kCommentBytesMax = 1024;
inline constexpr int kIdentityListMax = 10000;  // rows any list call returns at most

struct AccountRecord {
  std::string id;
  std::string username;      // unique
  std::string display_name;  // a staff member's name: staff data, not customer data
  std::string role;          // service::RoleName
  // pending (created; its role grant awaits the security officer, no
  // login) | active | disabled
  std::string status = "active";
  std::string password_hash;      // argon2id encoded
  int64_t password_changed_at_us = 0;
  bool must_change_password = false;
  std::string totp_secret_sealed;   // confirmed TOTP secret (sealed); empty: not enrolled
  std::string totp_pending_sealed;  // secret offered at enrolment, until confirmed
  int64_t totp_last_step = 0;       // last accepted TOTP time step (replay protection)
  int failed_logins = 0;            // consecutive
  int64_t locked_until_us = 0;
  int64_t last_review_at_us = 0;  // 0: never reviewed (then created_at counts)
  int64_t last_login_at_us = 0;
  int64_t created_at_us = 0;
  std::string ip_allowlist;  // comma-separated CIDRs; empty: any (within the deployment's)
};

struct SessionRecord {
  std::string id;
  std::string token_hash;  // SM3 hex of the token; unique
  std::string account_id;
  int64_t created_at_us = 0;
  int64_t last_seen_us = 0;
  std::string ip;
};

struct RoleRequestRecord {
  std::string id;
  std::string account_id;
  std::string requested_role;
  std::string requested_by;  // account id of the sys_admin who asked
  int64_t requested_at_us = 0;
  std::string status = "pending";  // pending | approved | rejected
  std::string decided_by;
  int64_t decided_at_us = 0;
  std::string comment;
};

struct AccountReviewRecord {
  std::string account_id;
  std::string reviewed_by;
  int64_t reviewed_at_us = 0;
  std::string comment;
};

struct ChannelRecord {
  std::string name;
  std::string api_key_hash;  // SM3 hex of the key; unique
  std::string created_by;
  int64_t created_at_us = 0;
  std::string status = "active";  // active | disabled | revoked
  int64_t expires_at_us = 0;      // the current key is refused from then on
  // After a rotation the old key still works until previous_valid_until_us
  // (the overlap); "" when there is none.
  std::string previous_key_hash;
  int64_t previous_valid_until_us = 0;
  int64_t revoked_at_us = 0;  // 0: not revoked
};

class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  // ---- accounts ----
  // kConflict if the id or the username exists.
  virtual Status InsertAccount(const AccountRecord& account) = 0;
  virtual Result<AccountRecord> GetAccount(const std::string& id) = 0;  // kNotFound
  virtual Result<AccountRecord> GetAccountByUsername(const std::string& username) = 0;
  // By username, at most kIdentityListMax.
  virtual Result<std::vector<AccountRecord>> ListAccounts() = 0;
  // Adds one consecutive failure; when the count reaches `lockout_failures`
  // the account is locked until `locked_until_us` (and the count restarts,
  // so the next lockout again needs that many). Returns the account after.
  virtual Result<AccountRecord> RecordLoginFailure(const std::string& account_id,
                                                   int lockout_failures,
                                                   int64_t locked_until_us) = 0;
  // One transaction: clears the failure count, sets last_login_at_us,
  // advances totp_last_step to `totp_step` when given, and inserts the
  // session. kConflict (nothing written) if totp_step is not above the
  // stored one: the same code was accepted by a concurrent login.
  virtual Status RecordLoginSuccess(const SessionRecord& session,
                                    std::optional<int64_t> totp_step) = 0;
  // One transaction: the old hash goes to the history (keeping the newest
  // `history_keep`), the new hash and time are set, must_change_password as
  // given, and every session of the account except `keep_session_id` ("":
  // none kept) is deleted. Returns how many sessions ended. kNotFound if
  // absent.
  virtual Result<int64_t> ChangePassword(const std::string& account_id,
                                         const std::string& new_hash, int64_t changed_at_us,
                                         bool must_change_password, int history_keep,
                                         const std::string& keep_session_id) = 0;
  // Newest first, at most `limit` (the current hash is not included).
  virtual Result<std::vector<std::string>> PasswordHistory(const std::string& account_id,
                                                           int limit) = 0;
  virtual Status SetTotpPending(const std::string& account_id, const std::string& sealed) = 0;
  // Moves the pending secret to the confirmed one and sets totp_last_step.
  // kNotFound if nothing is pending.
  virtual Status ConfirmTotp(const std::string& account_id, int64_t totp_step) = 0;
  virtual Status SetIpAllowlist(const std::string& account_id, const std::string& allowlist) = 0;
  // One transaction: status "disabled" and every session of the account
  // deleted. Returns how many sessions ended.
  virtual Result<int64_t> DisableAccount(const std::string& account_id) = 0;
  // One transaction: the review row and accounts.last_review_at_us.
  virtual Status RecordReview(const AccountReviewRecord& review) = 0;
  virtual Result<std::vector<AccountReviewRecord>> ListReviews(const std::string& account_id) = 0;

  // ---- sessions ----
  virtual Result<SessionRecord> GetSessionByTokenHash(const std::string& token_hash) = 0;
  virtual Status TouchSession(const std::string& session_id, int64_t last_seen_us) = 0;
  virtual Status DeleteSession(const std::string& session_id) = 0;  // no error if absent
  virtual Result<int64_t> DeleteSessionsOfAccount(const std::string& account_id) = 0;

  // ---- role requests (maker-checker) ----
  virtual Status InsertRoleRequest(const RoleRequestRecord& request) = 0;
  virtual Result<RoleRequestRecord> GetRoleRequest(const std::string& id) = 0;
  // Newest first; `status` filters when not empty. At most kIdentityListMax.
  virtual Result<std::vector<RoleRequestRecord>> ListRoleRequests(const std::string& status) = 0;
  // One transaction: the request (still pending, else kConflict) gets its
  // decision; an approval also sets the account's role and makes a
  // pending account active.
  virtual Status DecideRoleRequest(const std::string& id, bool approve,
                                   const std::string& decided_by, int64_t decided_at_us,
                                   const std::string& comment) = 0;

  // ---- channels ----
  virtual Status InsertChannel(const ChannelRecord& channel) = 0;  // kConflict on name or key
  // The channel whose current or (still stored) previous key has this hash;
  // the caller compares the hashes to tell which. kNotFound otherwise.
  virtual Result<ChannelRecord> GetChannelByKeyHash(const std::string& api_key_hash) = 0;
  virtual Result<ChannelRecord> GetChannel(const std::string& name) = 0;  // kNotFound
  virtual Result<std::vector<ChannelRecord>> ListChannels() = 0;
  // One transaction: the current key becomes the previous one (valid until
  // `previous_valid_until_us`), `new_key_hash` the current one, expiring at
  // `expires_at_us`. kNotFound unless the channel exists and is active.
  virtual Status RotateChannelKey(const std::string& name, const std::string& new_key_hash,
                                  int64_t previous_valid_until_us, int64_t expires_at_us) = 0;
  // Status "revoked" at `revoked_at_us`, the previous key forgotten: no key
  // of the channel works any more. kNotFound unless it exists and is not
  // revoked already.
  virtual Status RevokeChannel(const std::string& name, int64_t revoked_at_us) = 0;
};

// The identity tables of an SQLite store, on the same file and the same
// connections (its writer and reader pool). `store` must be the result of
// OpenSqliteStore (kInvalidArgument otherwise) and must outlive the
// returned object.
Result<std::unique_ptr<IdentityStore>> OpenSqliteIdentityStore(Store& store);

}  // namespace custvault::store
