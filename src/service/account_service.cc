#include "service/account_service.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <thread>

#include "identity/base32.h"
#include "identity/token.h"
#include "identity/totp.h"

namespace custvault::service {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerMinute = 60 * kMicrosPerSecond;
constexpr int64_t kMicrosPerHour = 60 * kMicrosPerMinute;
constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;
constexpr size_t kOtpBytesMax = 16;
constexpr size_t kUsernameBytesMin = 3;
constexpr size_t kChannelNameBytesMax = 64;
constexpr int kPasswordHistoryRowsMax = 100;

// The one answer for every refused credential, so nothing tells which part
// (user, password or code) was wrong.
Status BadCredentials() { return Unauthenticated("invalid username, password or code"); }
// The one answer while an account (or an unknown name) is locked out.
Status LockedAnswer() {
  return Status(ErrorCode::kLocked, "account is locked after repeated failures; try again later");
}

// Wipes a string that held a secret before it is freed.
void Wipe(std::string& secret) { OPENSSL_cleanse(secret.data(), secret.size()); }

bool ValidName(std::string_view name, size_t max_bytes) {
  if (name.size() < kUsernameBytesMin || name.size() > max_bytes) return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string> SplitComma(std::string_view text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string item(text.substr(start, comma - start));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) items.push_back(item);
    start = comma + 1;
  }
  return items;
}

Result<Role> RoleOf(const store::AccountRecord& account) {
  std::optional<Role> role = ParseRole(account.role);
  if (!role || *role == Role::kChannel) {
    return DataLoss("account " + account.id + " has an unknown role");
  }
  return *role;
}

RoleRequestView ToRequestView(const store::RoleRequestRecord& r) {
  RoleRequestView view;
  view.id = r.id;
  view.account_id = r.account_id;
  view.requested_role = ParseRole(r.requested_role).value_or(Role::kEntryClerk);
  view.requested_by = r.requested_by;
  view.requested_at_us = r.requested_at_us;
  view.status = r.status;
  view.decided_by = r.decided_by;
  view.decided_at_us = r.decided_at_us;
  view.comment = r.comment;
  return view;
}

ChannelView ToChannelView(const store::ChannelRecord& c) {
  return {c.name,          c.created_by,
          c.created_at_us, c.status,
          c.expires_at_us, c.previous_key_hash.empty() ? 0 : c.previous_valid_until_us,
          c.revoked_at_us};
}

}  // namespace

AccountView ToAccountView(const store::AccountRecord& a) {
  AccountView view;
  view.id = a.id;
  view.username = a.username;
  view.display_name = a.display_name;
  view.role = ParseRole(a.role).value_or(Role::kEntryClerk);
  view.status = a.status;
  view.must_change_password = a.must_change_password;
  view.totp_enrolled = !a.totp_secret_sealed.empty();
  view.locked_until_us = a.locked_until_us;
  view.password_changed_at_us = a.password_changed_at_us;
  view.last_review_at_us = a.last_review_at_us;
  view.last_login_at_us = a.last_login_at_us;
  view.created_at_us = a.created_at_us;
  view.ip_allowlist = a.ip_allowlist;
  return view;
}

Result<std::unique_ptr<AccountService>> AccountService::Create(Env* env, const Config& config,
                                                               crypto::Keyring& keyring,
                                                               store::Store& store,
                                                               store::IdentityStore& identity,
                                                               SecurityEventSink& events) {
  Result<CidrSet> allowlist = CidrSet::Parse(config.auth.ip_allowlist);
  if (!allowlist.ok()) {
    return InvalidArgument("auth.ip_allowlist: " + allowlist.status().message());
  }
  std::vector<Role> totp_roles;
  for (const std::string& name : SplitComma(config.auth.totp_required_roles)) {
    std::optional<Role> role = ParseRole(name);
    if (!role || *role == Role::kChannel) {
      return InvalidArgument("auth.totp_required_roles: unknown role '" + name + "'");
    }
    totp_roles.push_back(*role);
  }
  if (!keyring.HasDomainKey(kAccountSecretsKeyPurpose)) {
    // Data directories made before accounts existed have no such key yet.
    ASSIGN_OR_RETURN(crypto::WrappedKey wrapped,
                     keyring.CreateDomainKey(kAccountSecretsKeyPurpose, 1));
    RETURN_IF_ERROR(
        store.PutKey({wrapped.purpose, wrapped.version, wrapped.wrapped, env->NowMicros()}));
  }
  return std::unique_ptr<AccountService>(new AccountService(
      env, config, keyring, identity, events, std::move(*allowlist), std::move(totp_roles)));
}

AccountService::AccountService(Env* env, const Config& config, crypto::Keyring& keyring,
                               store::IdentityStore& identity, SecurityEventSink& events,
                               CidrSet allowlist, std::vector<Role> totp_roles)
    : env_(env),
      config_(config),
      keyring_(keyring),
      identity_(identity),
      events_(events),
      deployment_allowlist_(std::move(allowlist)),
      totp_roles_(std::move(totp_roles)),
      argon2_(identity::Argon2ParamsFrom(config.auth)),
      login_concurrent_max_(config.auth.login_concurrent_max > 0
                                ? config.auth.login_concurrent_max
                                : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
      throttle_(std::make_unique<InMemoryLoginThrottle>(
          config.auth.login_per_minute, config.auth.login_burst, kLoginThrottleAddressesMax)) {}

// ---------------------------------------------------------------- helpers

bool AccountService::TotpRequired(Role role) const {
  return std::find(totp_roles_.begin(), totp_roles_.end(), role) != totp_roles_.end();
}

bool AccountService::PasswordExpired(const store::AccountRecord& account, int64_t now_us) const {
  if (config_.auth.password_expiry_days <= 0) return false;
  return now_us - account.password_changed_at_us >=
         static_cast<int64_t>(config_.auth.password_expiry_days) * kMicrosPerDay;
}

Status AccountService::RecordEvent(SecurityEvent event) {
  if (event.at_us == 0) event.at_us = env_->NowMicros();
  Status recorded = events_.Record(event);
  if (!recorded.ok()) {
    // No audit, no access: the caller refuses. The cause is kept for logs.
    return Unavailable("security event could not be recorded: " + recorded.message());
  }
  return Status::Ok();
}

Status AccountService::LoginFailure(const std::string& actor_id, const std::string& role,
                                    const std::string& target, const std::string& ip,
                                    const std::string& reason, Status answer) {
  // A refusal stays a refusal even if the audit log is down.
  RecordEvent({kEventLoginFailed, actor_id, role, ip, target, false, reason, 0}).IgnoreError();
  return answer;
}

Status AccountService::CountFailure(const store::AccountRecord& account, const std::string& ip,
                                    const std::string& reason) {
  const int64_t now = env_->NowMicros();
  const int64_t until = now + static_cast<int64_t>(config_.auth.lockout_minutes) * kMicrosPerMinute;
  Result<store::AccountRecord> after =
      identity_.RecordLoginFailure(account.id, config_.auth.lockout_failures, until);
  if (!after.ok()) return after.status();
  if (after->locked_until_us > now) {
    RecordEvent({kEventLockout, account.id, account.role, ip, account.id, false, reason, now})
        .IgnoreError();
    return LockedAnswer();
  }
  return LoginFailure(account.id, account.role, account.id, ip, reason, BadCredentials());
}

void AccountService::BurnPasswordVerification(const std::string& password) {
  std::call_once(dummy_hash_once_, [this] {
    Result<std::string> hash = identity::HashPassword(env_, "custvault-dummy-password", argon2_);
    if (hash.ok()) dummy_hash_ = std::move(*hash);
  });
  if (!dummy_hash_.empty()) identity::VerifyPassword(dummy_hash_, password).status().IgnoreError();
}

Result<AccountService::VerificationSlot> AccountService::EnterVerification(
    const std::string& ip, int64_t* retry_after_seconds) {
  int current = verifications_in_flight_.load();
  do {
    if (current >= login_concurrent_max_) {
      refused_busy_.fetch_add(1, std::memory_order_relaxed);
      if (retry_after_seconds != nullptr) *retry_after_seconds = 1;
      CountRefusal(kEventLoginRefused, ip);
      return Unavailable("too many logins at once; try again in a moment");
    }
  } while (!verifications_in_flight_.compare_exchange_weak(current, current + 1));
  verifications_.fetch_add(1, std::memory_order_relaxed);
  int high = verifications_high_water_.load();
  while (current + 1 > high && !verifications_high_water_.compare_exchange_weak(high, current + 1)) {
  }
  return VerificationSlot(&verifications_in_flight_);
}

LoginLoad AccountService::login_load() const {
  LoginLoad load;
  load.concurrent_max = login_concurrent_max_;
  load.in_flight = verifications_in_flight_.load();
  load.high_water = verifications_high_water_.load();
  load.verifications = verifications_.load();
  load.refused_busy = refused_busy_.load();
  load.refused_throttled = refused_throttled_.load();
  return load;
}

bool AccountService::UnknownNameLocked(const std::string& username, int64_t now_us) {
  std::lock_guard lock(unknown_names_mutex_);
  auto it = unknown_names_.find(username);
  return it != unknown_names_.end() && it->second.locked_until_us > now_us;
}

bool AccountService::CountUnknownNameFailure(const std::string& username, int64_t now_us) {
  const int64_t lock_us = static_cast<int64_t>(config_.auth.lockout_minutes) * kMicrosPerMinute;
  std::lock_guard lock(unknown_names_mutex_);
  if (unknown_names_.size() >= kUnknownNamesTrackedMax && !unknown_names_.contains(username)) {
    // Bounded: forget names whose lock has ended and that were not tried
    // for a lockout period, then, if still full, the least recently tried.
    std::erase_if(unknown_names_, [&](const auto& entry) {
      return entry.second.locked_until_us <= now_us && now_us - entry.second.last_us >= lock_us;
    });
    if (unknown_names_.size() >= kUnknownNamesTrackedMax) {
      auto oldest = std::min_element(
          unknown_names_.begin(), unknown_names_.end(),
          [](const auto& a, const auto& b) { return a.second.last_us < b.second.last_us; });
      unknown_names_.erase(oldest);
    }
  }
  UnknownName& name = unknown_names_[username];
  name.last_us = now_us;
  // The same rule as IdentityStore::RecordLoginFailure for real accounts.
  if (++name.failures >= config_.auth.lockout_failures) {
    name.failures = 0;
    name.locked_until_us = now_us + lock_us;
    return true;
  }
  return false;
}

void AccountService::CountRefusal(const char* type, const std::string& ip) {
  const int64_t now = env_->NowMicros();
  {
    std::lock_guard lock(refusals_mutex_);
    std::pair<std::string, std::string> key{type, ip};
    if (!refusals_.contains(key) && refusals_.size() >= kRefusalSummaryAddressesMax) {
      key.second = "*";  // every further address shares one summary
    }
    RefusalWindow& window = refusals_[key];
    if (window.count == 0) window.start_us = now;
    ++window.count;
    // Written under the mutex only; read without it by the fast path.
    if (window.start_us + kRefusalSummaryWindowUs < refusals_due_us_.load()) {
      refusals_due_us_.store(window.start_us + kRefusalSummaryWindowUs);
    }
  }
  FlushRefusalSummaries(false);
}

void AccountService::FlushRefusalSummaries(bool all) {
  const int64_t now = env_->NowMicros();
  if (!all && now < refusals_due_us_.load()) return;
  std::vector<SecurityEvent> summaries;
  {
    std::lock_guard lock(refusals_mutex_);
    int64_t next_due = std::numeric_limits<int64_t>::max();
    for (auto it = refusals_.begin(); it != refusals_.end();) {
      const int64_t end = it->second.start_us + kRefusalSummaryWindowUs;
      if (all || end <= now) {
        summaries.push_back({it->first.first, "anonymous", "", it->first.second, "", false,
                             std::to_string(it->second.count) + " in the window " +
                                 FormatRfc3339(it->second.start_us) + " .. " +
                                 FormatRfc3339(std::min(end, now)),
                             now});
        it = refusals_.erase(it);
      } else {
        next_due = std::min(next_due, end);
        ++it;
      }
    }
    refusals_due_us_.store(next_due);
  }
  // Outside the lock: the sink may block on the audit writer. A summary
  // that cannot be written is lost with the refusals it counted, which
  // were refused anyway.
  for (SecurityEvent& summary : summaries) RecordEvent(std::move(summary)).IgnoreError();
}

Status AccountService::CheckAllowlists(const store::AccountRecord& account,
                                       const std::string& ip) const {
  if (!deployment_allowlist_.empty() && !deployment_allowlist_.Contains(ip)) {
    return PermissionDenied("access from this address is not allowed");
  }
  if (!account.ip_allowlist.empty()) {
    Result<CidrSet> own = CidrSet::Parse(account.ip_allowlist);
    // A stored list that no longer parses allows nothing rather than everything.
    if (!own.ok() || !own->Contains(ip)) {
      return PermissionDenied("access from this address is not allowed for this account");
    }
  }
  return Status::Ok();
}

Result<store::AccountRecord> AccountService::AccountOf(const Actor& actor) {
  if (actor.kind != ActorKind::kStaff) return PermissionDenied("only staff accounts may do this");
  Result<store::AccountRecord> account = identity_.GetAccount(actor.id);
  if (!account.ok() && account.status().code() == ErrorCode::kNotFound) {
    return Unauthenticated("account no longer exists");
  }
  return account;
}

// ---------------------------------------------------------------- policy

Status AccountService::Authorize(const Actor& actor, policy::Operation operation,
                                 std::string_view customer_id) {
  bool allowed = false;
  if (actor.kind == ActorKind::kStaff) {
    allowed = actor.role != Role::kChannel && policy::Allows(actor.role, operation);
  } else if (actor.kind == ActorKind::kChannel) {
    allowed = actor.role == Role::kChannel && policy::Allows(Role::kChannel, operation);
  }
  if (allowed) return Status::Ok();
  const std::string operation_name(policy::OperationName(operation));
  RecordEvent({kEventAccessDenied,
               actor.kind == ActorKind::kChannel ? "channel:" + actor.id : actor.id,
               std::string(RoleName(actor.role)), actor.ip, operation_name, false, "policy", 0,
               std::string(customer_id)})
      .IgnoreError();  // the request is refused either way
  return PermissionDenied("your role may not do " + operation_name);
}

// ---------------------------------------------------------------- login

Result<LoginResult> AccountService::Login(const std::string& username, const std::string& password,
                                          const std::string& otp, const std::string& ip,
                                          int64_t* retry_after_seconds) {
  if (username.empty() || username.size() > store::kUsernameBytesMax ||
      password.size() > identity::kPasswordBytesMax || otp.size() > kOtpBytesMax) {
    return LoginFailure("anonymous", "", "", ip, "malformed", BadCredentials());
  }
  if (!deployment_allowlist_.empty() && !deployment_allowlist_.Contains(ip)) {
    return LoginFailure("anonymous", "", username, ip, "ip_not_allowed",
                        PermissionDenied("login from this address is not allowed"));
  }
  // Issue 10.6: the address's bucket first (no argon2 run, no lookup).
  if (const int64_t wait_s = throttle_->Take(ip, env_->NowMicros()); wait_s > 0) {
    refused_throttled_.fetch_add(1, std::memory_order_relaxed);
    if (retry_after_seconds != nullptr) *retry_after_seconds = wait_s;
    // One summary per address and window, not an entry per attempt: a
    // flood must not write the audit log without limit.
    CountRefusal(kEventLoginRefused, ip);
    return Status(ErrorCode::kRateLimited, "too many logins from this address; try again later");
  }
  Result<store::AccountRecord> found = identity_.GetAccountByUsername(username);
  if (!found.ok() && found.status().code() != ErrorCode::kNotFound) return found.status();
  const int64_t now = env_->NowMicros();
  if (!found.ok()) {
    // Issue 10.9: an unknown name is answered exactly like a known one:
    // the same lockout after the same failures, the same cost.
    if (UnknownNameLocked(username, now)) {
      return LoginFailure("anonymous", "", username, ip, "locked", LockedAnswer());
    }
    ASSIGN_OR_RETURN(VerificationSlot slot, EnterVerification(ip, retry_after_seconds));
    BurnPasswordVerification(password);
    if (CountUnknownNameFailure(username, now)) {
      RecordEvent({kEventLockout, "anonymous", "", ip, username, false, "unknown_user", now})
          .IgnoreError();
      return LockedAnswer();
    }
    return LoginFailure("anonymous", "", username, ip, "unknown_user", BadCredentials());
  }
  const store::AccountRecord& account = *found;
  ASSIGN_OR_RETURN(const Role role, RoleOf(account));
  const std::string role_name(RoleName(role));
  if (account.locked_until_us > now) {
    // Not checked and not counted: the lock ends when it said it would, and
    // the right password during the lock is refused like any other.
    return LoginFailure(account.id, role_name, account.id, ip, "locked", LockedAnswer());
  }
  bool password_ok = false;
  {
    ASSIGN_OR_RETURN(VerificationSlot slot, EnterVerification(ip, retry_after_seconds));
    ASSIGN_OR_RETURN(password_ok, identity::VerifyPassword(account.password_hash, password));
  }
  if (!password_ok) return CountFailure(account, ip, "bad_password");
  // Issue 10.9: the account's own allow-list only after a correct
  // password, so a wrong one gets the same 401 from anywhere.
  if (Status allowed = CheckAllowlists(account, ip); !allowed.ok()) {
    return LoginFailure(account.id, role_name, account.id, ip, "ip_not_allowed", allowed);
  }
  if (account.status != "active") {
    return LoginFailure(account.id, role_name, account.id, ip, "account_" + account.status,
                        BadCredentials());
  }

  const bool enrolled = !account.totp_secret_sealed.empty();
  std::optional<int64_t> totp_step;
  if (enrolled) {
    // Enrolled accounts always give a code, whether or not their role
    // requires it. Wrong, missing and replayed codes count as failures.
    ASSIGN_OR_RETURN(crypto::SecretBytes secret,
                     keyring_.OpenWithDomainKey(kAccountSecretsKeyPurpose, account.id,
                                                account.totp_secret_sealed));
    totp_step =
        identity::VerifyTotp(secret.view(), otp, now / kMicrosPerSecond, account.totp_last_step);
    if (!totp_step.has_value()) return CountFailure(account, ip, "bad_totp");
  }

  ASSIGN_OR_RETURN(identity::IssuedToken token,
                   identity::IssueToken(env_, identity::kSessionTokenPrefix));
  ASSIGN_OR_RETURN(std::string session_id, identity::NewId(env_, "s_"));
  const store::SessionRecord session{session_id, token.hash, account.id, now, now, ip};
  Status stored = identity_.RecordLoginSuccess(session, totp_step);
  if (stored.code() == ErrorCode::kConflict) {
    // A concurrent login used the same code first: a replay.
    Wipe(token.token);
    return CountFailure(account, ip, "bad_totp");
  }
  RETURN_IF_ERROR(stored);
  Status audited = RecordEvent({kEventLogin, account.id, role_name, ip, account.id, true, "", now});
  if (!audited.ok()) {
    identity_.DeleteSession(session_id).IgnoreError();
    Wipe(token.token);
    return audited;
  }
  LoginResult result;
  result.token = std::move(token.token);
  result.expires_at_us =
      now + static_cast<int64_t>(config_.auth.session_absolute_hours) * kMicrosPerHour;
  result.must_change_password = account.must_change_password || PasswordExpired(account, now);
  result.must_enrol_totp = !enrolled && TotpRequired(role);
  return result;
}

Result<SessionActor> AccountService::LoadSession(std::string_view token, const std::string& ip) {
  if (!identity::LooksLikeToken(token, identity::kSessionTokenPrefix)) {
    return Unauthenticated("invalid or missing session token");
  }
  if (!deployment_allowlist_.empty() && !deployment_allowlist_.Contains(ip)) {
    return PermissionDenied("access from this address is not allowed");
  }
  Result<store::SessionRecord> session =
      identity_.GetSessionByTokenHash(identity::TokenHash(token));
  if (!session.ok()) {
    if (session.status().code() == ErrorCode::kNotFound) {
      return Unauthenticated("invalid or expired session");
    }
    return session.status();
  }
  const int64_t now = env_->NowMicros();
  const int64_t idle_us =
      static_cast<int64_t>(config_.auth.session_idle_minutes) * kMicrosPerMinute;
  const int64_t absolute_us =
      static_cast<int64_t>(config_.auth.session_absolute_hours) * kMicrosPerHour;
  if (now - session->last_seen_us > idle_us || now - session->created_at_us > absolute_us) {
    identity_.DeleteSession(session->id).IgnoreError();
    return Unauthenticated("session expired; log in again");
  }
  Result<store::AccountRecord> account = identity_.GetAccount(session->account_id);
  if (!account.ok() || account->status != "active") {
    identity_.DeleteSession(session->id).IgnoreError();
    return Unauthenticated("invalid or expired session");
  }
  RETURN_IF_ERROR(CheckAllowlists(*account, ip));
  ASSIGN_OR_RETURN(const Role role, RoleOf(*account));
  if (now - session->last_seen_us >= kSessionTouchIntervalUs) {
    RETURN_IF_ERROR(identity_.TouchSession(session->id, now));
  }
  SessionActor result;
  result.actor.kind = ActorKind::kStaff;
  result.actor.id = account->id;
  result.actor.role = role;
  result.actor.ip = ip;
  result.actor.session_id = session->id;
  result.must_change_password = account->must_change_password || PasswordExpired(*account, now);
  result.must_enrol_totp = account->totp_secret_sealed.empty() && TotpRequired(role);
  return result;
}

Result<Actor> AccountService::Authenticate(std::string_view token, const std::string& ip) {
  ASSIGN_OR_RETURN(SessionActor session, AuthenticateSelfService(token, ip));
  if (session.must_change_password) {
    return PermissionDenied("password change required (POST /api/v1/auth/password)");
  }
  if (session.must_enrol_totp) {
    return PermissionDenied("TOTP enrolment required (POST /api/v1/auth/totp/enrol)");
  }
  return std::move(session.actor);
}

Result<SessionActor> AccountService::AuthenticateSelfService(std::string_view token,
                                                             const std::string& ip) {
  Result<SessionActor> session = LoadSession(token, ip);
  if (!session.ok() && session.status().code() == ErrorCode::kUnauthenticated) {
    CountRefusal(kEventRejectedToken, ip);
  }
  return session;
}

Result<Actor> AccountService::AuthenticateBearer(std::string_view token, const std::string& ip) {
  FlushRefusalSummaries();  // windows that ended while no refusal came
  if (token.empty()) {
    CountRefusal(kEventRejectedToken, ip);
    return Unauthenticated("missing bearer token");
  }
  if (token.substr(0, identity::kApiKeyPrefix.size()) == identity::kApiKeyPrefix) {
    return AuthenticateChannel(token, ip);
  }
  return Authenticate(token, ip);
}

Status AccountService::Logout(const Actor& actor) {
  if (actor.kind != ActorKind::kStaff || actor.session_id.empty()) {
    return PermissionDenied("only a staff session can log out");
  }
  RETURN_IF_ERROR(identity_.DeleteSession(actor.session_id));
  return RecordEvent(
      {kEventLogout, actor.id, std::string(RoleName(actor.role)), actor.ip, actor.id, true, "", 0});
}

Status AccountService::ChangePassword(const Actor& actor, const std::string& old_password,
                                      const std::string& new_password,
                                      int64_t* other_sessions_ended) {
  ASSIGN_OR_RETURN(store::AccountRecord account, AccountOf(actor));
  // Up to password_history + 1 argon2 runs, one after another: one slot.
  ASSIGN_OR_RETURN(VerificationSlot slot, EnterVerification(actor.ip, nullptr));
  ASSIGN_OR_RETURN(const bool old_ok,
                   identity::VerifyPassword(account.password_hash, old_password));
  if (!old_ok) {
    Status counted = CountFailure(account, actor.ip, "bad_old_password");
    if (counted.code() == ErrorCode::kLocked) return counted;
    return PermissionDenied("the current password is wrong");
  }
  RETURN_IF_ERROR(identity::CheckPasswordPolicy(new_password, account.username, config_.auth));
  // The last N passwords: the current one and N-1 before it.
  const int reuse_window = std::max(config_.auth.password_history, 1);
  ASSIGN_OR_RETURN(std::vector<std::string> history,
                   identity_.PasswordHistory(account.id, reuse_window - 1));
  history.insert(history.begin(), account.password_hash);
  for (const std::string& old_hash : history) {
    Result<bool> reused = identity::VerifyPassword(old_hash, new_password);
    if (reused.ok() && *reused) {
      return Status(ErrorCode::kValidationFailed, "password was used recently",
                    {{"new_password", "reused"}});
    }
  }
  ASSIGN_OR_RETURN(std::string new_hash, identity::HashPassword(env_, new_password, argon2_));
  const int64_t now = env_->NowMicros();
  ASSIGN_OR_RETURN(const int64_t ended,
                   identity_.ChangePassword(account.id, new_hash, now, false,
                                            std::min(reuse_window, kPasswordHistoryRowsMax),
                                            actor.session_id));
  if (other_sessions_ended != nullptr) *other_sessions_ended = ended;
  RETURN_IF_ERROR(RecordEvent({kEventPasswordChanged, actor.id, std::string(RoleName(actor.role)),
                               actor.ip, account.id, true,
                               std::to_string(ended) + " other sessions ended", now}));
  if (password_changed_hook_) password_changed_hook_();
  return Status::Ok();
}

Result<TotpEnrolment> AccountService::BeginTotpEnrolment(const Actor& actor) {
  ASSIGN_OR_RETURN(store::AccountRecord account, AccountOf(actor));
  if (!account.totp_secret_sealed.empty()) {
    return Conflict("TOTP is already enrolled for this account");
  }
  ASSIGN_OR_RETURN(crypto::SecretBytes secret, identity::NewTotpSecret(env_));
  ASSIGN_OR_RETURN(std::string sealed, keyring_.SealWithDomainKey(kAccountSecretsKeyPurpose,
                                                                  account.id, secret.view()));
  RETURN_IF_ERROR(identity_.SetTotpPending(account.id, sealed));
  TotpEnrolment enrolment;
  enrolment.otpauth_uri = identity::OtpauthUri(kTotpIssuer, account.username, secret.view());
  enrolment.secret_base32 = identity::Base32Encode(secret.view(), /*pad=*/false);
  return enrolment;
}

Status AccountService::ConfirmTotpEnrolment(const Actor& actor, const std::string& code) {
  ASSIGN_OR_RETURN(store::AccountRecord account, AccountOf(actor));
  if (account.totp_pending_sealed.empty()) return NotFound("no TOTP enrolment is pending");
  ASSIGN_OR_RETURN(crypto::SecretBytes secret,
                   keyring_.OpenWithDomainKey(kAccountSecretsKeyPurpose, account.id,
                                              account.totp_pending_sealed));
  const int64_t now = env_->NowMicros();
  std::optional<int64_t> step =
      identity::VerifyTotp(secret.view(), code, now / kMicrosPerSecond, account.totp_last_step);
  if (!step.has_value()) return PermissionDenied("the code does not match; try the next one");
  RETURN_IF_ERROR(identity_.ConfirmTotp(account.id, *step));
  return RecordEvent({kEventTotpEnrolled, actor.id, std::string(RoleName(actor.role)), actor.ip,
                      account.id, true, "", now});
}

// ---------------------------------------------------------------- accounts

Result<CreatedAccount> AccountService::CreateAccount(const Actor& actor,
                                                     const NewAccount& request) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kAccountManage));
  std::vector<FieldError> errors;
  if (!ValidName(request.username, store::kUsernameBytesMax))
    errors.push_back({"username", "format"});
  if (request.display_name.size() > store::kDisplayNameBytesMax) {
    errors.push_back({"display_name", "too_long"});
  }
  if (request.role == Role::kChannel) errors.push_back({"role", "not_a_staff_role"});
  if (!request.ip_allowlist.empty() && !CidrSet::Parse(request.ip_allowlist).ok()) {
    errors.push_back({"ip_allowlist", "format"});
  }
  if (!errors.empty()) {
    return Status(ErrorCode::kValidationFailed, "account fields are invalid", std::move(errors));
  }
  const int64_t now = env_->NowMicros();
  ASSIGN_OR_RETURN(std::string password,
                   identity::GenerateOneTimePassword(env_, kOneTimePasswordLength));
  Result<std::string> hash = identity::HashPassword(env_, password, argon2_);
  if (!hash.ok()) {
    Wipe(password);
    return hash.status();
  }
  store::AccountRecord account;
  ASSIGN_OR_RETURN(account.id, identity::NewId(env_, "u_"));
  account.username = request.username;
  account.display_name = request.display_name;
  account.role = std::string(RoleName(request.role));
  account.status = "pending";  // until the security officer approves the role
  account.password_hash = std::move(*hash);
  account.password_changed_at_us = now;
  account.must_change_password = true;
  account.created_at_us = now;
  account.last_review_at_us = now;  // creation is the first review
  account.ip_allowlist = request.ip_allowlist;
  if (Status inserted = identity_.InsertAccount(account); !inserted.ok()) {
    Wipe(password);
    if (inserted.code() == ErrorCode::kConflict) return Conflict("username is taken");
    return inserted;
  }
  store::RoleRequestRecord grant;
  ASSIGN_OR_RETURN(grant.id, identity::NewId(env_, "r_"));
  grant.account_id = account.id;
  grant.requested_role = account.role;
  grant.requested_by = actor.id;
  grant.requested_at_us = now;
  grant.comment = "initial role of a new account";
  RETURN_IF_ERROR(identity_.InsertRoleRequest(grant));
  RETURN_IF_ERROR(RecordEvent({kEventAccountCreated, actor.id, std::string(RoleName(actor.role)),
                               actor.ip, account.id, true, "", now}));
  RETURN_IF_ERROR(RecordEvent({kEventRoleRequested, actor.id, std::string(RoleName(actor.role)),
                               actor.ip, grant.id, true, account.role, now}));
  CreatedAccount created;
  created.account = ToAccountView(account);
  created.role_request_id = grant.id;
  created.one_time_password = std::move(password);
  return created;
}

Result<std::vector<AccountView>> AccountService::ListAccounts(const Actor& actor) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kAccountManage));
  ASSIGN_OR_RETURN(std::vector<store::AccountRecord> accounts, identity_.ListAccounts());
  std::vector<AccountView> views;
  views.reserve(accounts.size());
  for (const store::AccountRecord& account : accounts) views.push_back(ToAccountView(account));
  return views;
}

Status AccountService::DisableAccount(const Actor& actor, const std::string& account_id) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kAccountManage));
  if (account_id == actor.id) return InvalidArgument("an administrator cannot disable themself");
  Result<int64_t> ended = identity_.DisableAccount(account_id);
  if (!ended.ok()) return ended.status();
  return RecordEvent({kEventAccountDisabled, actor.id, std::string(RoleName(actor.role)), actor.ip,
                      account_id, true, std::to_string(*ended) + " sessions ended", 0});
}

Status AccountService::SetIpAllowlist(const Actor& actor, const std::string& account_id,
                                      const std::string& allowlist) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kAccountManage));
  if (!allowlist.empty()) {
    Result<CidrSet> parsed = CidrSet::Parse(allowlist);
    if (!parsed.ok()) {
      return Status(ErrorCode::kValidationFailed, parsed.status().message(),
                    {{"ip_allowlist", "format"}});
    }
  }
  RETURN_IF_ERROR(identity_.SetIpAllowlist(account_id, allowlist));
  return RecordEvent({kEventIpAllowlistChanged, actor.id, std::string(RoleName(actor.role)),
                      actor.ip, account_id, true, "", 0});
}

Status AccountService::ReviewAccount(const Actor& actor, const std::string& account_id,
                                     const std::string& comment) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kAccountReview));
  if (comment.size() > store::kCommentBytesMax) return TooLarge("comment is too long");
  const int64_t now = env_->NowMicros();
  RETURN_IF_ERROR(identity_.RecordReview({account_id, actor.id, now, comment}));
  return RecordEvent({kEventAccountReviewed, actor.id, std::string(RoleName(actor.role)), actor.ip,
                      account_id, true, "", now});
}

Result<std::vector<AccountView>> AccountService::OverdueReviews(const Actor& actor) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kAccountReview));
  ASSIGN_OR_RETURN(std::vector<store::AccountRecord> accounts, identity_.ListAccounts());
  const int64_t now = env_->NowMicros();
  const int64_t interval_us =
      static_cast<int64_t>(config_.auth.review_interval_days) * kMicrosPerDay;
  std::vector<AccountView> overdue;
  for (const store::AccountRecord& account : accounts) {
    if (account.status == "disabled") continue;
    const int64_t reviewed = std::max(account.last_review_at_us, account.created_at_us);
    if (now - reviewed >= interval_us) overdue.push_back(ToAccountView(account));
  }
  return overdue;
}

// ---------------------------------------------------------------- role grants

Result<RoleRequestView> AccountService::RequestRole(const Actor& actor,
                                                    const std::string& account_id, Role role,
                                                    const std::string& comment) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kRoleRequest));
  if (role == Role::kChannel) return InvalidArgument("channel is not a staff role");
  if (comment.size() > store::kCommentBytesMax) return TooLarge("comment is too long");
  if (account_id == actor.id) return PermissionDenied("no one may request a role for themself");
  ASSIGN_OR_RETURN(store::AccountRecord account, identity_.GetAccount(account_id));
  ASSIGN_OR_RETURN(const Role current, RoleOf(account));
  if (account.status == "disabled") return Conflict("account is disabled");
  if (current == role) return Conflict("account already holds this role");
  // R-ACC-1: the three administrator duties never meet on one account. An
  // account moves from one duty to another only by being replaced (a new
  // account, the old one disabled), so its history under one duty is never
  // carried into another.
  if (policy::IsAdminDuty(current) && policy::IsAdminDuty(role)) {
    return PermissionDenied("an account holding one administrator duty (" +
                            std::string(RoleName(current)) + ") may not take another (" +
                            std::string(RoleName(role)) + ")");
  }
  store::RoleRequestRecord request;
  ASSIGN_OR_RETURN(request.id, identity::NewId(env_, "r_"));
  request.account_id = account_id;
  request.requested_role = std::string(RoleName(role));
  request.requested_by = actor.id;
  request.requested_at_us = env_->NowMicros();
  request.comment = comment;
  RETURN_IF_ERROR(identity_.InsertRoleRequest(request));
  RETURN_IF_ERROR(
      RecordEvent({kEventRoleRequested, actor.id, std::string(RoleName(actor.role)), actor.ip,
                   request.id, true, request.requested_role, request.requested_at_us}));
  return ToRequestView(request);
}

Result<std::vector<RoleRequestView>> AccountService::ListRoleRequests(const Actor& actor,
                                                                      const std::string& status) {
  // Both sides of the maker-checker pair see the requests.
  if (!(actor.kind == ActorKind::kStaff &&
        (policy::Allows(actor.role, policy::Operation::kRoleRequest) ||
         policy::Allows(actor.role, policy::Operation::kRoleApprove)))) {
    RETURN_IF_ERROR(Authorize(actor, policy::Operation::kRoleApprove));
  }
  if (!status.empty() && status != "pending" && status != "approved" && status != "rejected") {
    return InvalidArgument("status must be pending, approved or rejected");
  }
  ASSIGN_OR_RETURN(std::vector<store::RoleRequestRecord> requests,
                   identity_.ListRoleRequests(status));
  std::vector<RoleRequestView> views;
  for (const store::RoleRequestRecord& request : requests) views.push_back(ToRequestView(request));
  return views;
}

Result<RoleRequestView> AccountService::DecideRoleRequest(const Actor& actor,
                                                          const std::string& request_id,
                                                          bool approve,
                                                          const std::string& comment) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kRoleApprove));
  if (comment.size() > store::kCommentBytesMax) return TooLarge("comment is too long");
  ASSIGN_OR_RETURN(store::RoleRequestRecord request, identity_.GetRoleRequest(request_id));
  if (request.requested_by == actor.id) {
    return PermissionDenied("the requester of a grant may not decide it");
  }
  if (request.account_id == actor.id) {
    return PermissionDenied("no one may decide a grant for their own account");
  }
  if (request.status != "pending") return Conflict("role request was already decided");
  if (approve) {
    // Checked again at approval: the account may have changed since.
    ASSIGN_OR_RETURN(store::AccountRecord account, identity_.GetAccount(request.account_id));
    ASSIGN_OR_RETURN(const Role current, RoleOf(account));
    const std::optional<Role> wanted = ParseRole(request.requested_role);
    if (!wanted) return DataLoss("role request names an unknown role");
    if (account.status == "disabled") return Conflict("account is disabled");
    if (account.status == "active" && current != *wanted && policy::IsAdminDuty(current) &&
        policy::IsAdminDuty(*wanted)) {
      return PermissionDenied("an account holding one administrator duty may not take another");
    }
  }
  const int64_t now = env_->NowMicros();
  RETURN_IF_ERROR(identity_.DecideRoleRequest(request_id, approve, actor.id, now, comment));
  RETURN_IF_ERROR(RecordEvent({approve ? kEventRoleApproved : kEventRoleRejected, actor.id,
                               std::string(RoleName(actor.role)), actor.ip, request_id, true,
                               request.requested_role, now}));
  ASSIGN_OR_RETURN(store::RoleRequestRecord decided, identity_.GetRoleRequest(request_id));
  return ToRequestView(decided);
}

// ---------------------------------------------------------------- channels

Result<int64_t> AccountService::ChannelKeyExpiry(int64_t requested_us, int64_t now_us) const {
  if (requested_us == 0) {
    return now_us + static_cast<int64_t>(config_.auth.channel_key_days) * kMicrosPerDay;
  }
  const int64_t max_us =
      now_us + static_cast<int64_t>(config_.auth.channel_key_days_max) * kMicrosPerDay;
  if (requested_us <= now_us || requested_us > max_us) {
    return Status(ErrorCode::kValidationFailed,
                  "expires_at must be in the future and at most " +
                      std::to_string(config_.auth.channel_key_days_max) + " days ahead",
                  {{"expires_at", "out_of_range"}});
  }
  return requested_us;
}

Result<RegisteredChannel> AccountService::RegisterChannel(const Actor& actor,
                                                          const std::string& name,
                                                          int64_t expires_at_us) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kChannelManage));
  if (!ValidName(name, kChannelNameBytesMax)) {
    return Status(ErrorCode::kValidationFailed, "channel name is invalid", {{"name", "format"}});
  }
  const int64_t now = env_->NowMicros();
  ASSIGN_OR_RETURN(const int64_t expires_at, ChannelKeyExpiry(expires_at_us, now));
  ASSIGN_OR_RETURN(identity::IssuedToken key, identity::IssueToken(env_, identity::kApiKeyPrefix));
  store::ChannelRecord channel{name, key.hash, actor.id, now, "active", expires_at};
  if (Status inserted = identity_.InsertChannel(channel); !inserted.ok()) {
    Wipe(key.token);
    return inserted;
  }
  RETURN_IF_ERROR(RecordEvent({kEventChannelRegistered, actor.id, std::string(RoleName(actor.role)),
                               actor.ip, name, true, "expires " + FormatRfc3339(expires_at), now}));
  return RegisteredChannel{ToChannelView(channel), std::move(key.token)};
}

Result<RegisteredChannel> AccountService::RotateChannelKey(const Actor& actor,
                                                           const std::string& name,
                                                           int64_t expires_at_us) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kChannelManage));
  if (!ValidName(name, kChannelNameBytesMax)) return NotFound("no such channel");
  const int64_t now = env_->NowMicros();
  ASSIGN_OR_RETURN(const int64_t expires_at, ChannelKeyExpiry(expires_at_us, now));
  ASSIGN_OR_RETURN(identity::IssuedToken key, identity::IssueToken(env_, identity::kApiKeyPrefix));
  const int64_t overlap_until =
      now + static_cast<int64_t>(config_.auth.channel_key_overlap_hours) * kMicrosPerHour;
  if (Status rotated = identity_.RotateChannelKey(name, key.hash, overlap_until, expires_at);
      !rotated.ok()) {
    Wipe(key.token);
    return rotated;
  }
  Status audited = RecordEvent({kEventChannelKeyRotated, actor.id,
                                std::string(RoleName(actor.role)), actor.ip, name, true,
                                "old key valid until " + FormatRfc3339(overlap_until), now});
  if (!audited.ok()) {
    // No audit, no new key: it is never shown, so nobody holds it; the old
    // key runs out after the overlap as it would have, and the
    // administrator rotates again.
    Wipe(key.token);
    return audited;
  }
  ASSIGN_OR_RETURN(store::ChannelRecord channel, identity_.GetChannel(name));
  return RegisteredChannel{ToChannelView(channel), std::move(key.token)};
}

Result<ChannelView> AccountService::RevokeChannel(const Actor& actor, const std::string& name) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kChannelManage));
  if (!ValidName(name, kChannelNameBytesMax)) return NotFound("no such channel");
  const int64_t now = env_->NowMicros();
  RETURN_IF_ERROR(identity_.RevokeChannel(name, now));
  RETURN_IF_ERROR(RecordEvent({kEventChannelRevoked, actor.id, std::string(RoleName(actor.role)),
                               actor.ip, name, true, "", now}));
  ASSIGN_OR_RETURN(store::ChannelRecord channel, identity_.GetChannel(name));
  return ToChannelView(channel);
}

Result<std::vector<ChannelView>> AccountService::ListChannels(const Actor& actor) {
  RETURN_IF_ERROR(Authorize(actor, policy::Operation::kChannelManage));
  ASSIGN_OR_RETURN(std::vector<store::ChannelRecord> channels, identity_.ListChannels());
  std::vector<ChannelView> views;
  for (const store::ChannelRecord& channel : channels) views.push_back(ToChannelView(channel));
  return views;
}

Result<Actor> AccountService::AuthenticateChannel(std::string_view api_key, const std::string& ip) {
  Result<Actor> actor = LoadChannel(api_key, ip);
  if (!actor.ok() && actor.status().code() == ErrorCode::kUnauthenticated) {
    CountRefusal(kEventRejectedToken, ip);
  }
  return actor;
}

Result<Actor> AccountService::LoadChannel(std::string_view api_key, const std::string& ip) {
  if (!identity::LooksLikeToken(api_key, identity::kApiKeyPrefix)) {
    return Unauthenticated("invalid API key");
  }
  if (!deployment_allowlist_.empty() && !deployment_allowlist_.Contains(ip)) {
    return PermissionDenied("access from this address is not allowed");
  }
  const std::string hash = identity::TokenHash(api_key);
  Result<store::ChannelRecord> channel = identity_.GetChannelByKeyHash(hash);
  if (!channel.ok()) {
    if (channel.status().code() == ErrorCode::kNotFound) return Unauthenticated("invalid API key");
    return channel.status();
  }
  if (channel->status != "active") return Unauthenticated("invalid API key");
  const int64_t now = env_->NowMicros();
  if (hash == channel->api_key_hash) {
    if (now >= channel->expires_at_us) return Unauthenticated("invalid API key");
  } else if (hash != channel->previous_key_hash || now >= channel->previous_valid_until_us) {
    return Unauthenticated("invalid API key");  // a rotated key after its overlap
  }
  Actor actor;
  actor.kind = ActorKind::kChannel;
  actor.id = channel->name;
  actor.role = Role::kChannel;
  actor.ip = ip;
  return actor;
}

// ---------------------------------------------------------------- initial accounts

Result<std::vector<InitialCredential>> AccountService::CreateInitialAccounts() {
  ASSIGN_OR_RETURN(std::vector<store::AccountRecord> existing, identity_.ListAccounts());
  if (!existing.empty()) return Conflict("accounts exist already");
  const std::pair<const char*, Role> kInitial[] = {
      {kInitialSysAdminUsername, Role::kSysAdmin},
      {kInitialSecurityOfficerUsername, Role::kSecurityOfficer},
      {kInitialAuditorUsername, Role::kAuditor},
  };
  std::vector<InitialCredential> credentials;
  const int64_t now = env_->NowMicros();
  for (const auto& [username, role] : kInitial) {
    InitialCredential credential{username, role, ""};
    ASSIGN_OR_RETURN(credential.password,
                     identity::GenerateOneTimePassword(env_, kOneTimePasswordLength));
    store::AccountRecord account;
    ASSIGN_OR_RETURN(account.id, identity::NewId(env_, "u_"));
    account.username = username;
    account.display_name = std::string("initial ") + std::string(RoleName(role));
    account.role = std::string(RoleName(role));
    // Active at once: no security officer exists yet to approve; these
    // three are the bootstrap of the maker-checker chain.
    account.status = "active";
    ASSIGN_OR_RETURN(account.password_hash,
                     identity::HashPassword(env_, credential.password, argon2_));
    account.password_changed_at_us = now;
    account.must_change_password = true;
    account.created_at_us = now;
    account.last_review_at_us = now;
    RETURN_IF_ERROR(identity_.InsertAccount(account));
    RETURN_IF_ERROR(RecordEvent(
        {kEventAccountCreated, "init", "", "local", account.id, true, "initial account", now}));
    credentials.push_back(std::move(credential));
  }
  return credentials;
}

Result<bool> AccountService::InitialPasswordsAllChanged() {
  for (const char* username :
       {kInitialSysAdminUsername, kInitialSecurityOfficerUsername, kInitialAuditorUsername}) {
    Result<store::AccountRecord> account = identity_.GetAccountByUsername(username);
    if (!account.ok()) {
      if (account.status().code() == ErrorCode::kNotFound) continue;
      return account.status();
    }
    if (account->must_change_password) return false;
  }
  return true;
}

Result<AccountView> AccountService::FindAccountByUsername(const std::string& username) {
  ASSIGN_OR_RETURN(store::AccountRecord account, identity_.GetAccountByUsername(username));
  return ToAccountView(account);
}

// ---------------------------------------------------------------- reveal rate

Status AccountService::CheckRevealRate(const Actor& actor) {
  const int64_t now = env_->NowMicros();
  const size_t max = static_cast<size_t>(std::max(config_.auth.reveal_per_hour_max, 0));
  std::lock_guard lock(reveal_mutex_);
  std::deque<int64_t>& times = reveals_[actor.ChannelName()];
  while (!times.empty() && now - times.front() >= kMicrosPerHour) times.pop_front();
  if (times.size() >= max) {
    return Status(ErrorCode::kRateLimited,
                  "reveal limit of " + std::to_string(max) + " per hour reached; try later");
  }
  times.push_back(now);
  return Status::Ok();
}

}  // namespace custvault::service
