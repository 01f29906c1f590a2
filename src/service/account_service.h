// AccountService: identity and access control use cases (R-ACC-1..4):
// login (password, TOTP, lockout, IP allow-lists), sessions, password
// changes, TOTP enrolment, account management and reviews, maker-checker
// role grants, channel systems, the initial accounts, the reveal rate
// limit, and the policy check every other service uses (Authorize).
//
// Shared by the HTTP API (http/identity_routes) and the CLI
// (cli/user_commands). Every decision is made here, on the server, from
// the stored account and the policy table (policy/policy.h); nothing the
// client claims about itself is believed.
//
// Security events go to a SecurityEventSink (the audit log, connected by
// Vault). No audit, no access: a login whose success cannot be recorded
// fails and its session is removed.
//
// Thread safety: every method may be called from many threads at once.
// Secrets: passwords, TOTP secrets and tokens are never logged, never put
// in a Status message or an event.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/config.h"
#include "common/env.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "identity/password.h"
#include "policy/policy.h"
#include "service/actor.h"
#include "store/identity_store.h"
#include "store/store.h"

namespace custvault::service {

// ---- security events ----
inline constexpr char kEventLogin[] = "auth.login";
inline constexpr char kEventLoginFailed[] = "auth.login_failed";
inline constexpr char kEventLockout[] = "auth.lockout";
inline constexpr char kEventLogout[] = "auth.logout";
inline constexpr char kEventPasswordChanged[] = "auth.password_changed";
inline constexpr char kEventTotpEnrolled[] = "auth.totp_enrolled";
inline constexpr char kEventAccountCreated[] = "account.created";
inline constexpr char kEventAccountDisabled[] = "account.disabled";
inline constexpr char kEventAccountReviewed[] = "account.reviewed";
inline constexpr char kEventIpAllowlistChanged[] = "account.ip_allowlist_changed";
inline constexpr char kEventRoleRequested[] = "role.requested";
inline constexpr char kEventRoleApproved[] = "role.approved";
inline constexpr char kEventRoleRejected[] = "role.rejected";
inline constexpr char kEventChannelRegistered[] = "channel.registered";
inline constexpr char kEventAccessDenied[] = "access.denied";

// One security-relevant event. Holds ids, roles, addresses and short
// machine reasons only: never a password, code, token or customer value.
struct SecurityEvent {
  std::string type;        // one of the kEvent... names
  std::string actor_id;    // account id, "channel:<name>", or "anonymous"
  std::string actor_role;  // RoleName, or "" when not known
  std::string ip;
  std::string target;  // what it was about: account id, username tried,
                       // request id, channel name, operation name
  bool success = true;
  std::string reason;  // "bad_credentials", "locked", "ip_not_allowed", ...
  int64_t at_us = 0;
};

// Where security events go (the audit log). Record must be durable (or
// queued durably) before it returns OK; an error makes the caller refuse.
class SecurityEventSink {
 public:
  virtual ~SecurityEventSink() = default;
  virtual Status Record(const SecurityEvent& event) = 0;
};

// ---- results ----
struct LoginResult {
  std::string token;                  // "cvs_...": shown to the client once, stored only hashed
  int64_t expires_at_us = 0;          // the absolute end; idle timeout ends it sooner
  bool must_change_password = false;  // the session may only change the password
  bool must_enrol_totp = false;       // the session may only enrol TOTP (and change password)
};

// An account as shown to administrators: no hashes, no secrets.
struct AccountView {
  std::string id;
  std::string username;
  std::string display_name;
  Role role = Role::kEntryClerk;
  std::string status;  // pending | active | disabled
  bool must_change_password = false;
  bool totp_enrolled = false;
  int64_t locked_until_us = 0;
  int64_t password_changed_at_us = 0;
  int64_t last_review_at_us = 0;  // 0: never
  int64_t last_login_at_us = 0;
  int64_t created_at_us = 0;
  std::string ip_allowlist;
};

struct NewAccount {
  std::string username;      // [a-z0-9._-], 3..64, starts with a letter or digit
  std::string display_name;  // 0..128 bytes
  Role role = Role::kEntryClerk;
  std::string ip_allowlist;  // optional comma-separated CIDRs
};

struct CreatedAccount {
  AccountView account;            // status "pending" until its role grant is approved
  std::string role_request_id;    // the grant the security officer must approve
  std::string one_time_password;  // shown once; must be changed at first login
};

struct RoleRequestView {
  std::string id;
  std::string account_id;
  Role requested_role = Role::kEntryClerk;
  std::string requested_by;
  int64_t requested_at_us = 0;
  std::string status;  // pending | approved | rejected
  std::string decided_by;
  int64_t decided_at_us = 0;
  std::string comment;
};

struct TotpEnrolment {
  std::string otpauth_uri;  // for a QR code; contains the secret
  std::string secret_base32;
};

struct ChannelView {
  std::string name;
  std::string created_by;
  int64_t created_at_us = 0;
  std::string status;
};

struct RegisteredChannel {
  ChannelView channel;
  std::string api_key;  // "cvk_...": shown once, stored only hashed
};

struct InitialCredential {
  std::string username;
  Role role = Role::kSysAdmin;
  std::string password;  // one-time; must be changed at first login
};

// A session that authenticated, with what it is limited to.
struct SessionActor {
  Actor actor;
  bool must_change_password = false;
  bool must_enrol_totp = false;
  bool limited() const { return must_change_password || must_enrol_totp; }
};

inline constexpr char kAccountSecretsKeyPurpose[] = "account-secrets";
inline constexpr char kTotpIssuer[] = "custvault";
// The initial accounts `custvault init` creates (issue 3 item 1).
inline constexpr char kInitialSysAdminUsername[] = "admin";
inline constexpr char kInitialSecurityOfficerUsername[] = "security";
inline constexpr char kInitialAuditorUsername[] = "auditor";
inline constexpr size_t kOneTimePasswordLength = 20;
// last_seen is written at most this often per session (a write per request
// would serialise every request on the writer); idle expiry is therefore
// exact to within this interval.
inline constexpr int64_t kSessionTouchIntervalUs = 60'000'000;

class AccountService {
 public:
  // Makes sure the "account-secrets" domain key exists (creating and
  // storing it on first use) and parses the IP allow-list and TOTP roles
  // of the config (kInvalidArgument names the bad setting). All references
  // must outlive the service.
  static Result<std::unique_ptr<AccountService>> Create(Env* env, const Config& config,
                                                        crypto::Keyring& keyring,
                                                        store::Store& store,
                                                        store::IdentityStore& identity,
                                                        SecurityEventSink& events);

  // ---- policy ----
  // kPermissionDenied (403) unless the actor's role may run the operation
  // (policy table); a denial is recorded as kEventAccessDenied. Only staff
  // and channel actors are judged by role; bootstrap and local-operator
  // actors are denied (they predate accounts).
  Status Authorize(const Actor& actor, policy::Operation operation);

  // ---- login and sessions ----
  // Deployment IP allow-list first (403), then the account: unknown,
  // pending or disabled accounts, wrong passwords and wrong, missing or
  // replayed TOTP codes all answer the same 401 and count as failures;
  // the configured number of consecutive failures locks the account (423)
  // for lockout_minutes; while locked every attempt is 423 without looking
  // at the password and is not counted. Per-account allow-list: 403.
  Result<LoginResult> Login(const std::string& username, const std::string& password,
                            const std::string& otp, const std::string& ip);
  // The actor of a full session: 401 for an unknown, idle-expired,
  // absolutely expired or disabled session (expired sessions are deleted),
  // 403 for an address outside an allow-list, and 403 "password change
  // required" / "TOTP enrolment required" for a limited session.
  Result<Actor> Authenticate(std::string_view token, const std::string& ip);
  // The same, but a limited session passes, with its limits: for logout,
  // password change and TOTP enrolment only.
  Result<SessionActor> AuthenticateSelfService(std::string_view token, const std::string& ip);
  Status Logout(const Actor& actor);
  // Policy, no reuse of the last password_history passwords (the current
  // one included). A wrong old password counts as a login failure.
  Status ChangePassword(const Actor& actor, const std::string& old_password,
                        const std::string& new_password);
  // A new secret, pending until confirmed; kConflict if already enrolled.
  Result<TotpEnrolment> BeginTotpEnrolment(const Actor& actor);
  // kPermissionDenied for a wrong code; kNotFound if nothing is pending.
  Status ConfirmTotpEnrolment(const Actor& actor, const std::string& code);

  // ---- accounts (sys_admin: account.manage; reviews: account.review) ----
  // The account starts "pending" with a role request that a security
  // officer must approve before it can log in (R-ACC-3).
  Result<CreatedAccount> CreateAccount(const Actor& actor, const NewAccount& request);
  Result<std::vector<AccountView>> ListAccounts(const Actor& actor);
  // Disables and ends every session of the account in one transaction.
  Status DisableAccount(const Actor& actor, const std::string& account_id);
  Status SetIpAllowlist(const Actor& actor, const std::string& account_id,
                        const std::string& allowlist);
  Status ReviewAccount(const Actor& actor, const std::string& account_id,
                       const std::string& comment);
  // Active or pending accounts not reviewed (or created) within
  // review_interval_days.
  Result<std::vector<AccountView>> OverdueReviews(const Actor& actor);

  // ---- role grants: sys_admin requests, security_officer approves ----
  Result<RoleRequestView> RequestRole(const Actor& actor, const std::string& account_id, Role role,
                                      const std::string& comment);
  Result<std::vector<RoleRequestView>> ListRoleRequests(const Actor& actor,
                                                        const std::string& status);
  Result<RoleRequestView> DecideRoleRequest(const Actor& actor, const std::string& request_id,
                                            bool approve, const std::string& comment);

  // ---- channels ----
  Result<RegisteredChannel> RegisterChannel(const Actor& actor, const std::string& name);
  Result<std::vector<ChannelView>> ListChannels(const Actor& actor);
  // 401 unless the key belongs to an active channel; deployment allow-list
  // applies.
  Result<Actor> AuthenticateChannel(std::string_view api_key, const std::string& ip);

  // ---- initial accounts ----
  // admin (sys_admin), security (security_officer), auditor (auditor),
  // each active with a random one-time password that must be changed at
  // first login. kConflict if any account exists.
  Result<std::vector<InitialCredential>> CreateInitialAccounts();
  // true once none of the three initial accounts still has its one-time
  // password (then initial-credentials can be removed).
  Result<bool> InitialPasswordsAllChanged();

  // ---- reveal rate limit ----
  // kRateLimited (429) when the actor already revealed reveal_per_hour_max
  // times within the last hour (sliding window, in memory); otherwise
  // counts this reveal.
  Status CheckRevealRate(const Actor& actor);

  // Account id from username (for the CLI and tests).
  Result<AccountView> FindAccountByUsername(const std::string& username);

  // Runs after every successful password change (the vault removes the
  // initial-credentials file once all initial accounts changed theirs).
  // Set once, before the service is shared.
  void SetPasswordChangedHook(std::function<void()> hook) {
    password_changed_hook_ = std::move(hook);
  }

 private:
  AccountService(Env* env, const Config& config, crypto::Keyring& keyring,
                 store::IdentityStore& identity, SecurityEventSink& events, CidrSet allowlist,
                 std::vector<Role> totp_roles);

  bool TotpRequired(Role role) const;
  bool PasswordExpired(const store::AccountRecord& account, int64_t now_us) const;
  Status RecordEvent(SecurityEvent event);
  // Records a refused login and answers `answer`.
  Status LoginFailure(const std::string& actor_id, const std::string& role,
                      const std::string& target, const std::string& ip, const std::string& reason,
                      Status answer);
  Status CountFailure(const store::AccountRecord& account, const std::string& ip,
                      const std::string& reason);
  Result<SessionActor> LoadSession(std::string_view token, const std::string& ip);
  Result<store::AccountRecord> AccountOf(const Actor& actor);
  Status CheckAllowlists(const store::AccountRecord& account, const std::string& ip) const;
  // Constant-ish time for unknown users: verify against a dummy hash made
  // with the configured parameters, so "no such user" costs a hash too.
  void BurnPasswordVerification(const std::string& password);

  Env* env_;
  const Config& config_;
  crypto::Keyring& keyring_;
  store::IdentityStore& identity_;
  SecurityEventSink& events_;
  const CidrSet deployment_allowlist_;
  const std::vector<Role> totp_roles_;
  const identity::Argon2Params argon2_;

  std::once_flag dummy_hash_once_;
  std::string dummy_hash_;

  std::mutex reveal_mutex_;
  std::function<void()> password_changed_hook_;
  std::map<std::string, std::deque<int64_t>> reveals_;  // account id -> times (us), guarded
};

AccountView ToAccountView(const store::AccountRecord& account);

}  // namespace custvault::service
