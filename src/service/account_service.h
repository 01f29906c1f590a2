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

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
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
#include "service/login_throttle.h"
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
inline constexpr char kEventChannelKeyRotated[] = "channel.key_rotated";
inline constexpr char kEventChannelRevoked[] = "channel.revoked";
inline constexpr char kEventAccessDenied[] = "access.denied";
// Summaries, one per client address and window (issues 10.6, 10.12): the
// reason says how many and over which window.
inline constexpr char kEventRejectedToken[] = "auth.rejected_token";
inline constexpr char kEventLoginRefused[] = "auth.login_refused";

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
  // The customer the refused request was about ("" for none): an id, not
  // personal data (issue 10.12).
  std::string customer_id;
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
  std::string status;                  // active | disabled | revoked
  int64_t expires_at_us = 0;           // the current key's end
  int64_t previous_valid_until_us = 0; // 0: no previous key still working
  int64_t revoked_at_us = 0;           // 0: not revoked
};

struct RegisteredChannel {
  ChannelView channel;
  std::string api_key;  // "cvk_...": shown once, stored only hashed
};

// Load of the password verifications (issue 10.6): read by tests, later
// by metrics.
struct LoginLoad {
  int concurrent_max = 0;          // the bound (auth.login_concurrent_max, 0 = cores)
  int in_flight = 0;               // verifications running now
  int high_water = 0;              // the most that ever ran at once
  int64_t verifications = 0;       // argon2 verifications started
  int64_t refused_busy = 0;        // 503: every slot was taken
  int64_t refused_throttled = 0;   // 429: the address's bucket was empty
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
// Refused tokens and refused logins are audited as one summary per client
// address per window (issues 10.6, 10.12), for at most this many addresses
// at once (the rest share one summary, address "*").
inline constexpr int64_t kRefusalSummaryWindowUs = 60'000'000;
inline constexpr size_t kRefusalSummaryAddressesMax = 4096;
// Unknown usernames tried at login, tracked for their lockout (issue 10.9).
inline constexpr size_t kUnknownNamesTrackedMax = 10000;
// Client addresses with a login bucket (issue 10.6).
inline constexpr size_t kLoginThrottleAddressesMax = 65536;

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
  // `customer_id` names the customer a customer-scoped request is about,
  // so a denial records which one was asked for (issue 10.12).
  Status Authorize(const Actor& actor, policy::Operation operation,
                   std::string_view customer_id = {});

  // ---- login and sessions ----
  // Deployment IP allow-list first (403), then the address's login bucket
  // (429; `retry_after_seconds` says when to retry), then the account:
  // unknown, pending or disabled accounts, wrong passwords and wrong,
  // missing or replayed TOTP codes all answer the same 401 and count as
  // failures (unknown names too, in a bounded table); the configured
  // number of consecutive failures locks the name (423) for
  // lockout_minutes; while locked every attempt is 423 without looking at
  // the password and is not counted. At most login_concurrent_max password
  // verifications run at once; beyond that 503 at once, no verification.
  // The per-account allow-list (403) only after a correct password.
  Result<LoginResult> Login(const std::string& username, const std::string& password,
                            const std::string& otp, const std::string& ip,
                            int64_t* retry_after_seconds = nullptr);
  // The actor of a full session: 401 for an unknown, idle-expired,
  // absolutely expired or disabled session (expired sessions are deleted),
  // 403 for an address outside an allow-list, and 403 "password change
  // required" / "TOTP enrolment required" for a limited session.
  Result<Actor> Authenticate(std::string_view token, const std::string& ip);
  // The same, but a limited session passes, with its limits: for logout,
  // password change and TOTP enrolment only.
  Result<SessionActor> AuthenticateSelfService(std::string_view token, const std::string& ip);
  // The bearer credential of an API request: "" is refused as missing, a
  // "cvk_" key goes to AuthenticateChannel, anything else to Authenticate.
  // Every refusal of a missing or bad credential is counted into one
  // auth.rejected_token summary per address and window (issue 10.12).
  Result<Actor> AuthenticateBearer(std::string_view token, const std::string& ip);
  // Writes the summaries of refusals whose window has ended (done also on
  // the way by the calls above); `all` writes the open windows too (at
  // shutdown and in tests).
  void FlushRefusalSummaries(bool all = false);
  LoginLoad login_load() const;
  Status Logout(const Actor& actor);
  // Policy, no reuse of the last password_history passwords (the current
  // one included). A wrong old password counts as a login failure. Every
  // other session of the account ends in the same transaction (the one
  // that made the change stays); their number goes to
  // `other_sessions_ended` when given and into the audit entry.
  Status ChangePassword(const Actor& actor, const std::string& old_password,
                        const std::string& new_password,
                        int64_t* other_sessions_ended = nullptr);
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

  // ---- channels (channel.manage) ----
  // The key expires at `expires_at_us` (0: auth.channel_key_days from now);
  // it must lie in the future and at most auth.channel_key_days_max ahead.
  Result<RegisteredChannel> RegisterChannel(const Actor& actor, const std::string& name,
                                            int64_t expires_at_us = 0);
  Result<std::vector<ChannelView>> ListChannels(const Actor& actor);
  // A new key (returned once, expiring as for RegisterChannel); the old one
  // keeps working for auth.channel_key_overlap_hours, then is refused.
  // kNotFound unless the channel exists and is active. Audited.
  Result<RegisteredChannel> RotateChannelKey(const Actor& actor, const std::string& name,
                                             int64_t expires_at_us = 0);
  // Every key of the channel stops working with the next request. Audited.
  Result<ChannelView> RevokeChannel(const Actor& actor, const std::string& name);
  // 401 unless the key is the current key of an active channel before its
  // expiry, or its previous key within the overlap; deployment allow-list
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
  // The expiry of a new channel key: `requested_us` checked, or the default.
  Result<int64_t> ChannelKeyExpiry(int64_t requested_us, int64_t now_us) const;
  bool PasswordExpired(const store::AccountRecord& account, int64_t now_us) const;
  Status RecordEvent(SecurityEvent event);
  // Records a refused login and answers `answer`.
  Status LoginFailure(const std::string& actor_id, const std::string& role,
                      const std::string& target, const std::string& ip, const std::string& reason,
                      Status answer);
  Status CountFailure(const store::AccountRecord& account, const std::string& ip,
                      const std::string& reason);
  Result<SessionActor> LoadSession(std::string_view token, const std::string& ip);
  Result<Actor> LoadChannel(std::string_view api_key, const std::string& ip);
  Result<store::AccountRecord> AccountOf(const Actor& actor);
  Status CheckAllowlists(const store::AccountRecord& account, const std::string& ip) const;
  // Constant-ish time for unknown users: verify against a dummy hash made
  // with the configured parameters, so "no such user" costs a hash too.
  void BurnPasswordVerification(const std::string& password);

  // One of the login_concurrent_max password-verification slots, held
  // while argon2 runs; released when destroyed.
  class VerificationSlot {
   public:
    explicit VerificationSlot(std::atomic<int>* in_flight) : in_flight_(in_flight) {}
    VerificationSlot(VerificationSlot&& other) noexcept : in_flight_(other.in_flight_) {
      other.in_flight_ = nullptr;
    }
    VerificationSlot& operator=(VerificationSlot&&) = delete;
    ~VerificationSlot() {
      if (in_flight_ != nullptr) in_flight_->fetch_sub(1);
    }

   private:
    std::atomic<int>* in_flight_;
  };
  // A slot, or kUnavailable (503) at once when all are taken (counted into
  // the auth.login_refused summary of `ip`).
  Result<VerificationSlot> EnterVerification(const std::string& ip,
                                             int64_t* retry_after_seconds);
  // Unknown usernames (issue 10.9): locked now? / one more failure (true
  // when it locks the name).
  bool UnknownNameLocked(const std::string& username, int64_t now_us);
  bool CountUnknownNameFailure(const std::string& username, int64_t now_us);
  // Counts one refusal of `type` from `ip` into its window's summary.
  void CountRefusal(const char* type, const std::string& ip);

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

  const int login_concurrent_max_;
  std::atomic<int> verifications_in_flight_{0};
  std::atomic<int> verifications_high_water_{0};
  std::atomic<int64_t> verifications_{0};
  std::atomic<int64_t> refused_busy_{0};
  std::atomic<int64_t> refused_throttled_{0};
  std::unique_ptr<LoginThrottle> throttle_;

  struct UnknownName {
    int failures = 0;
    int64_t locked_until_us = 0;
    int64_t last_us = 0;
  };
  std::mutex unknown_names_mutex_;
  std::map<std::string, UnknownName> unknown_names_;  // guarded

  struct RefusalWindow {
    int64_t start_us = 0;
    int64_t count = 0;
  };
  std::mutex refusals_mutex_;
  // (event type, address) -> the open window; guarded
  std::map<std::pair<std::string, std::string>, RefusalWindow> refusals_;
  std::atomic<int64_t> refusals_due_us_{std::numeric_limits<int64_t>::max()};  // earliest window end

  std::mutex reveal_mutex_;
  std::function<void()> password_changed_hook_;
  std::map<std::string, std::deque<int64_t>> reveals_;  // account id -> times (us), guarded
};

AccountView ToAccountView(const store::AccountRecord& account);

}  // namespace custvault::service
