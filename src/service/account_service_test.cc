#include "service/account_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <condition_variable>
#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/fake_env.h"
#include "identity/base32.h"
#include "identity/password.h"
#include "identity/totp.h"

namespace custvault::service {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMinuteUs = 60'000'000;
constexpr int64_t kDayUs = 24 * 60 * kMinuteUs;
constexpr char kIp[] = "10.1.2.3";
constexpr char kGoodPassword[] = "Start-Password-2026";

class RecordingSink final : public SecurityEventSink {
 public:
  Status Record(const SecurityEvent& event) override {
    std::unique_lock lock(mutex);
    if (fail) return Internal("audit disk full");
    events.push_back(event);
    if (event.type == hold_type) {
      held = true;
      changed.notify_all();
      changed.wait(lock, [this] { return !hold_type.empty() && released; });
    }
    return Status::Ok();
  }
  int Count(const std::string& type) const {
    int n = 0;
    for (const SecurityEvent& e : events) n += e.type == type ? 1 : 0;
    return n;
  }
  std::vector<SecurityEvent> Of(const std::string& type) const {
    std::vector<SecurityEvent> out;
    for (const SecurityEvent& e : events) {
      if (e.type == type) out.push_back(e);
    }
    return out;
  }
  std::vector<SecurityEvent> events;
  bool fail = false;
  // A Record of this type waits until `released` (tests that need a call
  // held in the middle).
  std::string hold_type;
  bool held = false;
  bool released = false;
  std::mutex mutex;
  std::condition_variable changed;
};

class AccountServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_accounts_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    // Small argon2 parameters keep the tests fast; production cost is in
    // docs/access-control.md.
    config_.auth.argon2_memory_kib = 256;
    config_.auth.argon2_iterations = 1;
    Result<std::unique_ptr<crypto::Keyring>> keyring =
        crypto::Keyring::Open(&env_, dir_ + "/master.key", crypto::CryptoProfile::kDefault, true);
    ASSERT_TRUE(keyring.ok());
    keyring_ = std::move(*keyring);
    Result<std::unique_ptr<store::Store>> store =
        store::OpenSqliteStore({.path = dir_ + "/custvault.db", .readers = 2});
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    Result<std::unique_ptr<store::IdentityStore>> identity =
        store::OpenSqliteIdentityStore(*store_);
    ASSERT_TRUE(identity.ok());
    identity_ = std::move(*identity);
  }
  void TearDown() override {
    service_.reset();
    identity_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  AccountService& Service() {
    if (service_ == nullptr) {
      Result<std::unique_ptr<AccountService>> service =
          AccountService::Create(&env_, config_, *keyring_, *store_, *identity_, sink_);
      EXPECT_TRUE(service.ok()) << service.status().ToString();
      service_ = std::move(*service);
    }
    return *service_;
  }

  // An active account with a known password (already changed, so the
  // session is not limited by it).
  std::string AddAccount(const std::string& username, Role role,
                         const std::string& ip_allowlist = "") {
    store::AccountRecord account;
    account.id = "u_" + username;
    account.username = username;
    account.role = std::string(RoleName(role));
    account.password_hash =
        *identity::HashPassword(&env_, kGoodPassword, identity::Argon2ParamsFrom(config_.auth));
    account.password_changed_at_us = env_.NowMicros();
    account.created_at_us = env_.NowMicros();
    account.ip_allowlist = ip_allowlist;
    EXPECT_TRUE(identity_->InsertAccount(account).ok());
    return account.id;
  }

  Result<LoginResult> Login(const std::string& username,
                            const std::string& password = kGoodPassword,
                            const std::string& otp = "", const std::string& ip = kIp) {
    return Service().Login(username, password, otp, ip);
  }

  // Logs in and enrols TOTP; returns the raw secret.
  std::string Enrol(const std::string& username) {
    Result<LoginResult> login = Login(username);
    EXPECT_TRUE(login.ok()) << login.status().ToString();
    Result<SessionActor> session = Service().AuthenticateSelfService(login->token, kIp);
    EXPECT_TRUE(session.ok());
    Result<TotpEnrolment> enrolment = Service().BeginTotpEnrolment(session->actor);
    EXPECT_TRUE(enrolment.ok()) << enrolment.status().ToString();
    std::string secret = *identity::Base32Decode(enrolment->secret_base32);
    EXPECT_NE(enrolment->otpauth_uri.find("secret=" + enrolment->secret_base32), std::string::npos);
    EXPECT_TRUE(Service().ConfirmTotpEnrolment(session->actor, CodeNow(secret)).ok());
    env_.AdvanceMicros(30'000'000);  // the next login needs the next code
    return secret;
  }

  std::string CodeNow(const std::string& secret) {
    return identity::TotpCode(secret, env_.NowMicros() / 1'000'000);
  }

  Actor StaffActor(const std::string& username) {
    Result<LoginResult> login = Login(username);
    EXPECT_TRUE(login.ok()) << username << ": " << login.status().ToString();
    Result<Actor> actor = Service().Authenticate(login->token, kIp);
    EXPECT_TRUE(actor.ok()) << username << ": " << actor.status().ToString();
    return *actor;
  }

  std::string dir_;
  FakeEnv env_;
  Config config_;
  RecordingSink sink_;
  std::unique_ptr<crypto::Keyring> keyring_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::IdentityStore> identity_;
  std::unique_ptr<AccountService> service_;
};

TEST_F(AccountServiceTest, LoginGivesAnOpaqueTokenThatAuthenticatesAsTheAccount) {
  const std::string id = AddAccount("li.lei", Role::kEntryClerk);
  Result<LoginResult> login = Login("li.lei");
  ASSERT_TRUE(login.ok()) << login.status().ToString();
  EXPECT_EQ(login->token.rfind("cvs_", 0), 0u);
  EXPECT_FALSE(login->must_change_password);
  EXPECT_FALSE(login->must_enrol_totp);  // entry_clerk is not in totp_required_roles
  EXPECT_EQ(login->expires_at_us, env_.NowMicros() + 8 * 60 * kMinuteUs);
  Result<Actor> actor = Service().Authenticate(login->token, kIp);
  ASSERT_TRUE(actor.ok()) << actor.status().ToString();
  EXPECT_EQ(actor->kind, ActorKind::kStaff);
  EXPECT_EQ(actor->id, id);
  EXPECT_EQ(actor->role, Role::kEntryClerk);
  EXPECT_EQ(sink_.Count(kEventLogin), 1);
  EXPECT_EQ(Service().Authenticate("cvs_" + std::string(64, '0'), kIp).status().code(),
            ErrorCode::kUnauthenticated);
}

// No oracle: an unknown user, a wrong password and a disabled account look alike.
TEST_F(AccountServiceTest, R_ACC_4_UnknownUserAndWrongPasswordGiveTheSameAnswer) {
  AddAccount("li.lei", Role::kEntryClerk);
  const Status unknown = Login("nobody").status();
  const Status wrong = Login("li.lei", "Wrong-Password-2026").status();
  EXPECT_EQ(unknown.code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(wrong.code(), unknown.code());
  EXPECT_EQ(wrong.message(), unknown.message());
  EXPECT_EQ(sink_.Count(kEventLoginFailed), 2);
}

TEST_F(AccountServiceTest, R_ACC_4_LockoutAfterConfiguredFailuresAndReleaseAfterLockoutTime) {
  config_.auth.lockout_failures = 3;
  config_.auth.lockout_minutes = 15;
  AddAccount("li.lei", Role::kEntryClerk);
  EXPECT_EQ(Login("li.lei", "Wrong-1-aaaaaa").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(Login("li.lei", "Wrong-2-aaaaaa").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(Login("li.lei", "Wrong-3-aaaaaa").status().code(), ErrorCode::kLocked);
  EXPECT_EQ(sink_.Count(kEventLockout), 1);
  // Locked: even the right password is refused (423), and is not counted.
  EXPECT_EQ(Login("li.lei").status().code(), ErrorCode::kLocked);
  env_.AdvanceMicros(14 * kMinuteUs);
  EXPECT_EQ(Login("li.lei").status().code(), ErrorCode::kLocked);
  env_.AdvanceMicros(1 * kMinuteUs);
  EXPECT_TRUE(Login("li.lei").ok());
  // The count restarted: one failure after the lock is a plain 401.
  EXPECT_EQ(Login("li.lei", "Wrong-4-aaaaaa").status().code(), ErrorCode::kUnauthenticated);
}

TEST_F(AccountServiceTest, R_ACC_4_SuccessResetsTheConsecutiveFailureCount) {
  config_.auth.lockout_failures = 3;
  AddAccount("li.lei", Role::kEntryClerk);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(Login("li.lei", "Wrong-1-aaaaaa").status().code(), ErrorCode::kUnauthenticated);
    EXPECT_EQ(Login("li.lei", "Wrong-2-aaaaaa").status().code(), ErrorCode::kUnauthenticated);
    EXPECT_TRUE(Login("li.lei").ok());
  }
}

TEST_F(AccountServiceTest, R_ACC_4_ExpiredPasswordForcesAChangeBeforeAnythingElse) {
  AddAccount("li.lei", Role::kEntryClerk);
  env_.AdvanceMicros(90 * kDayUs);
  Result<LoginResult> login = Login("li.lei");
  ASSERT_TRUE(login.ok());
  EXPECT_TRUE(login->must_change_password);
  Result<Actor> refused = Service().Authenticate(login->token, kIp);
  EXPECT_EQ(refused.status().code(), ErrorCode::kPermissionDenied);  // 403 everywhere else
  Result<SessionActor> self = Service().AuthenticateSelfService(login->token, kIp);
  ASSERT_TRUE(self.ok());
  EXPECT_TRUE(self->must_change_password);
  // The policy applies to the new password.
  EXPECT_EQ(Service().ChangePassword(self->actor, kGoodPassword, "short").code(),
            ErrorCode::kValidationFailed);
  EXPECT_EQ(Service().ChangePassword(self->actor, "Not-The-Old-One-1", "New-Password-2027!").code(),
            ErrorCode::kPermissionDenied);
  ASSERT_TRUE(Service().ChangePassword(self->actor, kGoodPassword, "New-Password-2027!").ok());
  EXPECT_TRUE(Service().Authenticate(login->token, kIp).ok());
  EXPECT_EQ(sink_.Count(kEventPasswordChanged), 1);
}

TEST_F(AccountServiceTest, R_ACC_4_PasswordHistoryRefusesReuseOfTheLastFive) {
  AddAccount("li.lei", Role::kEntryClerk);
  Result<LoginResult> login = Login("li.lei");
  ASSERT_TRUE(login.ok());
  const Actor actor = *Service().Authenticate(login->token, kIp);
  // kGoodPassword, then P1..P5: the last five are P1..P5.
  std::string current = kGoodPassword;
  for (int i = 1; i <= 5; ++i) {
    const std::string next = "History-Pass-" + std::to_string(i) + "!";
    ASSERT_TRUE(Service().ChangePassword(actor, current, next).ok()) << i;
    current = next;
  }
  for (int i = 1; i <= 5; ++i) {
    const Status reused =
        Service().ChangePassword(actor, current, "History-Pass-" + std::to_string(i) + "!");
    EXPECT_EQ(reused.code(), ErrorCode::kValidationFailed) << i;
    ASSERT_EQ(reused.details().size(), 1u);
    EXPECT_EQ(reused.details()[0].reason, "reused");
  }
  // The sixth-last (the start password) may come back.
  EXPECT_TRUE(Service().ChangePassword(actor, current, kGoodPassword).ok());
}

TEST_F(AccountServiceTest, R_ACC_4_TotpRequiredWhereConfiguredWrongAndReplayedCodesRefused) {
  AddAccount("han.meimei", Role::kInfoManager);  // info_manager requires TOTP by default
  // First login without a second factor: the session may only enrol.
  Result<LoginResult> first = Login("han.meimei");
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->must_enrol_totp);
  EXPECT_EQ(Service().Authenticate(first->token, kIp).status().code(),
            ErrorCode::kPermissionDenied);
  const std::string secret = Enrol("han.meimei");
  EXPECT_TRUE(Service().Authenticate(first->token, kIp).ok());  // enrolled: no longer limited
  EXPECT_EQ(sink_.Count(kEventTotpEnrolled), 1);

  // From now on a code is needed; a missing or wrong one is refused like a
  // wrong password.
  EXPECT_EQ(Login("han.meimei").status().code(), ErrorCode::kUnauthenticated);
  std::string wrong = CodeNow(secret);
  wrong[0] = wrong[0] == '9' ? '0' : static_cast<char>(wrong[0] + 1);
  EXPECT_EQ(Login("han.meimei", kGoodPassword, wrong).status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(Login("han.meimei", "Wrong-Password-1", CodeNow(secret)).status().code(),
            ErrorCode::kUnauthenticated);
  const std::string code = CodeNow(secret);
  Result<LoginResult> second = Login("han.meimei", kGoodPassword, code);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->must_enrol_totp);
  // The same code again, still inside its 30 s window: a replay.
  const Status replay = Login("han.meimei", kGoodPassword, code).status();
  EXPECT_EQ(replay.code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(replay.message(), Login("nobody").status().message());
}

TEST_F(AccountServiceTest, R_ACC_4_TotpRolesComeFromTheConfig) {
  config_.auth.totp_required_roles = "entry_clerk";
  AddAccount("li.lei", Role::kEntryClerk);
  AddAccount("han.meimei", Role::kInfoManager);
  EXPECT_TRUE(Login("li.lei")->must_enrol_totp);
  EXPECT_FALSE(Login("han.meimei")->must_enrol_totp);
}

TEST_F(AccountServiceTest, TotpSecretIsStoredSealedNeverInTheClear) {
  AddAccount("han.meimei", Role::kInfoManager);
  const std::string secret = Enrol("han.meimei");
  Result<store::AccountRecord> stored = identity_->GetAccount("u_han.meimei");
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->totp_secret_sealed.empty());
  EXPECT_EQ(stored->totp_secret_sealed.find(secret), std::string::npos);
  EXPECT_EQ(stored->totp_secret_sealed.find(identity::Base32Encode(secret, false)),
            std::string::npos);
}

TEST_F(AccountServiceTest, R_ACC_4_IpOutsideTheDeploymentAllowListIsRefused) {
  config_.auth.ip_allowlist = "10.0.0.0/8, 2001:db8::/32";
  AddAccount("li.lei", Role::kEntryClerk);
  EXPECT_EQ(Login("li.lei", kGoodPassword, "", "192.168.1.9").status().code(),
            ErrorCode::kPermissionDenied);
  Result<LoginResult> login = Login("li.lei", kGoodPassword, "", "10.9.9.9");
  ASSERT_TRUE(login.ok());
  EXPECT_TRUE(Login("li.lei", kGoodPassword, "", "2001:db8::7").ok());
  // The token is checked against the list on every request too.
  EXPECT_EQ(Service().Authenticate(login->token, "192.168.1.9").status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Service().Authenticate(login->token, "10.0.0.1").ok());
}

TEST_F(AccountServiceTest, R_ACC_4_IpOutsideTheAccountAllowListIsRefused) {
  AddAccount("li.lei", Role::kEntryClerk, "10.1.0.0/16");
  AddAccount("han.meimei", Role::kEntryClerk);
  EXPECT_EQ(Login("li.lei", kGoodPassword, "", "10.2.0.1").status().code(),
            ErrorCode::kPermissionDenied);
  Result<LoginResult> login = Login("li.lei", kGoodPassword, "", "10.1.0.1");
  ASSERT_TRUE(login.ok());
  EXPECT_EQ(Service().Authenticate(login->token, "10.2.0.1").status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Login("han.meimei", kGoodPassword, "", "10.2.0.1").ok());  // others unaffected
}

TEST_F(AccountServiceTest, R_ACC_4_IdleSessionTimesOut) {
  AddAccount("li.lei", Role::kEntryClerk);
  Result<LoginResult> login = Login("li.lei");
  ASSERT_TRUE(login.ok());
  // Activity keeps it alive...
  for (int i = 0; i < 4; ++i) {
    env_.AdvanceMicros(10 * kMinuteUs);
    ASSERT_TRUE(Service().Authenticate(login->token, kIp).ok()) << i;
  }
  // ...15 idle minutes end it, for good.
  env_.AdvanceMicros(15 * kMinuteUs + 1);
  EXPECT_EQ(Service().Authenticate(login->token, kIp).status().code(), ErrorCode::kUnauthenticated);
  env_.AdvanceMicros(-10 * kMinuteUs);
  EXPECT_EQ(Service().Authenticate(login->token, kIp).status().code(), ErrorCode::kUnauthenticated);
}

TEST_F(AccountServiceTest, R_ACC_4_SessionEndsAfterTheAbsoluteLimitEvenWhenActive) {
  AddAccount("li.lei", Role::kEntryClerk);
  Result<LoginResult> login = Login("li.lei");
  ASSERT_TRUE(login.ok());
  for (int i = 0; i < 8 * 6; ++i) {  // a request every 10 minutes for 8 hours
    env_.AdvanceMicros(10 * kMinuteUs);
    ASSERT_TRUE(Service().Authenticate(login->token, kIp).ok()) << i;
  }
  env_.AdvanceMicros(1);
  EXPECT_EQ(Service().Authenticate(login->token, kIp).status().code(), ErrorCode::kUnauthenticated);
}

TEST_F(AccountServiceTest, LogoutEndsTheSession) {
  AddAccount("li.lei", Role::kEntryClerk);
  Result<LoginResult> login = Login("li.lei");
  const Actor actor = *Service().Authenticate(login->token, kIp);
  ASSERT_TRUE(Service().Logout(actor).ok());
  EXPECT_EQ(Service().Authenticate(login->token, kIp).status().code(), ErrorCode::kUnauthenticated);
}

TEST_F(AccountServiceTest, R_ACC_3_DisabledAccountsTokenStopsWorkingAtOnce) {
  config_.auth.totp_required_roles = "";  // about accounts, not TOTP
  AddAccount("admin", Role::kSysAdmin);
  AddAccount("li.lei", Role::kEntryClerk);
  const Actor admin = StaffActor("admin");
  Result<LoginResult> login = Login("li.lei");
  ASSERT_TRUE(Service().Authenticate(login->token, kIp).ok());
  ASSERT_TRUE(Service().DisableAccount(admin, "u_li.lei").ok());
  EXPECT_EQ(Service().Authenticate(login->token, kIp).status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(Login("li.lei").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(sink_.Count(kEventAccountDisabled), 1);
}

// Issue 10.5: a password change ends every other session of the account
// (whoever held the old password is out), keeps the one that made it, says
// how many ended and records it.
TEST_F(AccountServiceTest, R_ACC_4_PasswordChangeEndsEveryOtherSessionOfTheAccount) {
  AddAccount("li.lei", Role::kEntryClerk);
  AddAccount("han.mei", Role::kEntryClerk);
  Result<LoginResult> first = Login("li.lei");
  Result<LoginResult> second = Login("li.lei");
  Result<LoginResult> third = Login("li.lei");
  Result<LoginResult> other_account = Login("han.mei");
  ASSERT_TRUE(first.ok() && second.ok() && third.ok() && other_account.ok());
  const Actor actor = *Service().Authenticate(first->token, kIp);
  int64_t ended = -1;
  ASSERT_TRUE(
      Service().ChangePassword(actor, kGoodPassword, "Changed-Password-2027!", &ended).ok());
  EXPECT_EQ(ended, 2);
  EXPECT_TRUE(Service().Authenticate(first->token, kIp).ok());
  EXPECT_EQ(Service().Authenticate(second->token, kIp).status().code(),
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(Service().Authenticate(third->token, kIp).status().code(),
            ErrorCode::kUnauthenticated);
  EXPECT_TRUE(Service().Authenticate(other_account->token, kIp).ok());
  ASSERT_EQ(sink_.Count(kEventPasswordChanged), 1);
  EXPECT_EQ(sink_.Of(kEventPasswordChanged)[0].reason, "2 other sessions ended");
  // The next change ends the session that made the first one.
  Result<LoginResult> again = Login("li.lei", "Changed-Password-2027!");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(Service()
                  .ChangePassword(*Service().Authenticate(again->token, kIp), "Changed-Password-2027!",
                                  "Third-Password-2028!", &ended)
                  .ok());
  EXPECT_EQ(ended, 1);
  EXPECT_EQ(Service().Authenticate(first->token, kIp).status().code(),
            ErrorCode::kUnauthenticated);
  EXPECT_TRUE(Service().Authenticate(again->token, kIp).ok());
}

// Issue 10.9: no answer tells a real username from an unknown one: wrong
// passwords until the lockout and during it, and from an address outside
// the account's allow-list (checked only after a correct password).
TEST_F(AccountServiceTest, R_ACC_4_UnknownAndKnownNamesGetTheSameAnswerAtEveryStep) {
  config_.auth.lockout_failures = 3;
  config_.auth.lockout_minutes = 15;
  AddAccount("li.lei", Role::kEntryClerk, "192.168.0.0/16");  // kIp is outside it
  const ErrorCode expected[] = {ErrorCode::kUnauthenticated, ErrorCode::kUnauthenticated,
                                ErrorCode::kLocked, ErrorCode::kLocked, ErrorCode::kLocked};
  for (int i = 0; i < 5; ++i) {
    const Status known = Login("li.lei", "Wrong-Password-2026").status();
    const Status unknown = Login("no.such.user", "Wrong-Password-2026").status();
    EXPECT_EQ(known.code(), expected[i]) << i;
    EXPECT_EQ(unknown.code(), known.code()) << i;
    EXPECT_EQ(unknown.message(), known.message()) << i;
  }
  EXPECT_EQ(sink_.Count(kEventLockout), 2);
  // The lock ends for both at the same time; the count restarts for both.
  env_.AdvanceMicros(15 * kMinuteUs);
  for (int i = 0; i < 3; ++i) {
    const Status known = Login("li.lei", "Wrong-Password-2026", "", "10.9.9.9").status();
    const Status unknown = Login("no.such.user", "Wrong-Password-2026", "", "10.9.9.9").status();
    EXPECT_EQ(known.code(), expected[i]) << i;
    EXPECT_EQ(unknown.code(), known.code()) << i;
    EXPECT_EQ(unknown.message(), known.message()) << i;
  }
  // Only the right password from outside the allow-list learns of it.
  env_.AdvanceMicros(15 * kMinuteUs);
  EXPECT_EQ(Login("li.lei").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Login("li.lei", kGoodPassword, "", "192.168.1.1").ok());
}

// Issue 10.6: a token bucket per client address before any argon2 run.
TEST(InMemoryLoginThrottleTest, BurstThenRefillRateWithRetryAfterAndABoundedTable) {
  InMemoryLoginThrottle throttle(/*per_minute=*/10, /*burst=*/20, /*addresses_max=*/3);
  const int64_t t0 = 1'000'000'000;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(throttle.Take("10.0.0.1", t0), 0) << i;
  EXPECT_EQ(throttle.Take("10.0.0.1", t0), 6);  // one token per 6 s
  EXPECT_EQ(throttle.Take("10.0.0.1", t0 + 3'000'000), 3);
  EXPECT_EQ(throttle.Take("10.0.0.1", t0 + 6'000'000), 0);
  EXPECT_EQ(throttle.Take("10.0.0.2", t0), 0);  // another address has its own bucket
  // Full table: new addresses share one overflow bucket, the table stays bounded.
  EXPECT_EQ(throttle.Take("10.0.0.3", t0), 0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(throttle.Take("10.1.0." + std::to_string(i), t0), 0);
  EXPECT_GT(throttle.Take("10.1.1.1", t0), 0);
  EXPECT_EQ(throttle.AddressesTracked(), 3u);
  // Once buckets have refilled their addresses are forgotten for new ones.
  EXPECT_EQ(throttle.Take("10.2.0.1", t0 + 600'000'000), 0);
  EXPECT_LE(throttle.AddressesTracked(), 3u);
}

TEST_F(AccountServiceTest, R_ACC_4_LoginsPerAddressAreThrottledWithoutAnyPasswordCheck) {
  config_.auth.login_per_minute = 10;
  config_.auth.login_burst = 3;
  AddAccount("li.lei", Role::kEntryClerk);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Login("li.lei", "Wrong-Password-1").status().code(),
                                        ErrorCode::kUnauthenticated);
  const int64_t verified = Service().login_load().verifications;
  int64_t retry_after = 0;
  Result<LoginResult> refused = Service().Login("li.lei", kGoodPassword, "", kIp, &retry_after);
  EXPECT_EQ(refused.status().code(), ErrorCode::kRateLimited);
  EXPECT_EQ(retry_after, 6);
  EXPECT_EQ(Service().login_load().verifications, verified);  // no argon2 run
  EXPECT_EQ(Service().login_load().refused_throttled, 1);
  EXPECT_TRUE(Login("li.lei", kGoodPassword, "", "10.7.7.7").ok());  // other addresses unaffected
  env_.AdvanceMicros(6'000'000);
  EXPECT_TRUE(Login("li.lei").ok());
  // Refusals are one summary per address and window, not an entry each.
  EXPECT_EQ(sink_.Count(kEventLoginRefused), 0);
  env_.AdvanceMicros(kRefusalSummaryWindowUs);
  Service().FlushRefusalSummaries();
  ASSERT_EQ(sink_.Count(kEventLoginRefused), 1);
  EXPECT_EQ(sink_.Of(kEventLoginRefused)[0].ip, kIp);
}

// Issue 10.6: while every verification slot is taken, a login is refused
// at once (503) without running argon2.
TEST_F(AccountServiceTest, R_ACC_4_LoginIsRefusedAtOnceWhileEveryVerificationSlotIsTaken) {
  config_.auth.login_concurrent_max = 1;
  AddAccount("li.lei", Role::kEntryClerk);
  AddAccount("han.mei", Role::kEntryClerk);
  const Actor actor = StaffActor("li.lei");
  // A password change holds its slot until its audit entry is written:
  // hold it there.
  sink_.hold_type = kEventPasswordChanged;
  std::thread changer([&] {
    EXPECT_TRUE(Service().ChangePassword(actor, kGoodPassword, "Changed-Password-2027!").ok());
  });
  {
    std::unique_lock lock(sink_.mutex);
    sink_.changed.wait(lock, [&] { return sink_.held; });
  }
  EXPECT_EQ(Service().login_load().in_flight, 1);
  const int64_t verified = Service().login_load().verifications;
  int64_t retry_after = 0;
  Result<LoginResult> busy = Service().Login("han.mei", kGoodPassword, "", kIp, &retry_after);
  EXPECT_EQ(busy.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(retry_after, 1);
  EXPECT_EQ(Login("no.such.user", "Wrong-Password-1").status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(Service().login_load().verifications, verified);
  EXPECT_EQ(Service().login_load().refused_busy, 2);
  {
    std::lock_guard lock(sink_.mutex);
    sink_.released = true;
    sink_.changed.notify_all();
  }
  changer.join();
  EXPECT_EQ(Service().login_load().in_flight, 0);
  EXPECT_TRUE(Login("han.mei").ok());
}

// Issue 10.6: many threads logging in at once never run more verifications
// at a time than the bound; every attempt either ran one or was refused.
TEST_F(AccountServiceTest, R_ACC_4_ConcurrentVerificationsNeverExceedTheBound) {
  config_.auth.login_concurrent_max = 2;
  config_.auth.argon2_memory_kib = 4096;  // long enough to overlap
  AddAccount("li.lei", Role::kEntryClerk);
  constexpr int kThreads = 12;
  constexpr int kAttempts = 5;
  Service();  // built before the threads start
  std::atomic<int> refused{0};
  std::atomic<int> unauthenticated{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string ip = "10.8.0." + std::to_string(t);  // no throttle: own bucket each
      for (int i = 0; i < kAttempts; ++i) {
        const ErrorCode code =
            Service().Login(t % 2 ? "li.lei" : "nobody", "Wrong-Password-1", "", ip).status().code();
        if (code == ErrorCode::kUnavailable) ++refused;
        if (code == ErrorCode::kUnauthenticated || code == ErrorCode::kLocked) ++unauthenticated;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const LoginLoad load = Service().login_load();
  EXPECT_EQ(load.concurrent_max, 2);
  EXPECT_GE(load.high_water, 1);
  EXPECT_LE(load.high_water, 2);
  EXPECT_EQ(load.in_flight, 0);
  EXPECT_EQ(refused + unauthenticated, kThreads * kAttempts);
  EXPECT_EQ(load.refused_busy, refused);
  EXPECT_LE(load.verifications, kThreads * kAttempts);
}

// Issue 10.12: requests with a missing or bad credential are audited, but
// as one summary per client address and window, not one entry each.
TEST_F(AccountServiceTest, RejectedTokensAreAuditedAsOneSummaryPerAddressAndWindow) {
  constexpr int kBogus = 50;
  for (int i = 0; i < kBogus; ++i) {
    const std::string token = i % 3 == 0   ? ""
                              : i % 3 == 1 ? "cvs_" + std::string(64, 'a')
                                           : "cvk_" + std::string(64, 'b');
    EXPECT_EQ(Service().AuthenticateBearer(token, kIp).status().code(),
              ErrorCode::kUnauthenticated);
  }
  EXPECT_EQ(Service().AuthenticateBearer("garbage", "10.5.5.5").status().code(),
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(sink_.Count(kEventRejectedToken), 0);  // the window is still open
  env_.AdvanceMicros(kRefusalSummaryWindowUs);
  // The next request (of anyone) writes the summaries of ended windows.
  AddAccount("li.lei", Role::kEntryClerk);
  Result<LoginResult> login = Login("li.lei");
  ASSERT_TRUE(Service().AuthenticateBearer(login->token, kIp).ok());
  const std::vector<SecurityEvent> summaries = sink_.Of(kEventRejectedToken);
  ASSERT_EQ(summaries.size(), 2u);
  std::map<std::string, std::string> by_ip;
  for (const SecurityEvent& e : summaries) by_ip[e.ip] = e.reason;
  EXPECT_EQ(by_ip[kIp].rfind("50 in the window ", 0), 0u) << by_ip[kIp];
  EXPECT_EQ(by_ip["10.5.5.5"].rfind("1 in the window ", 0), 0u) << by_ip["10.5.5.5"];
  // Bounded: a flood from more addresses than the table holds still
  // writes at most one summary per tracked address plus one shared one.
  for (size_t i = 0; i < kRefusalSummaryAddressesMax + 100; ++i) {
    Service().AuthenticateBearer("", "10.6." + std::to_string(i / 256) + "." +
                                         std::to_string(i % 256)).status().IgnoreError();
  }
  Service().FlushRefusalSummaries(/*all=*/true);
  const std::vector<SecurityEvent> flood = sink_.Of(kEventRejectedToken);
  EXPECT_EQ(flood.size(), 2u + kRefusalSummaryAddressesMax + 1);
  const auto shared = std::find_if(flood.begin(), flood.end(),
                                   [](const SecurityEvent& e) { return e.ip == "*"; });
  ASSERT_NE(shared, flood.end());
  EXPECT_EQ(shared->reason.rfind("100 in the window ", 0), 0u) << shared->reason;
}

TEST_F(AccountServiceTest, R_ACC_1_ASecondAdminDutyOnOneAccountIsRefused) {
  config_.auth.totp_required_roles = "";  // about accounts, not TOTP
  AddAccount("admin", Role::kSysAdmin);
  AddAccount("audit.one", Role::kAuditor);
  AddAccount("li.lei", Role::kEntryClerk);
  const Actor admin = StaffActor("admin");
  Result<RoleRequestView> second_duty =
      Service().RequestRole(admin, "u_audit.one", Role::kSysAdmin, "");
  EXPECT_EQ(second_duty.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Service().RequestRole(admin, "u_audit.one", Role::kSecurityOfficer, "").status().code(),
            ErrorCode::kPermissionDenied);
  // A non-admin role may take one admin duty (it then holds exactly one).
  EXPECT_TRUE(Service().RequestRole(admin, "u_li.lei", Role::kAuditor, "").ok());
  // And nobody requests a role for themself.
  EXPECT_EQ(Service().RequestRole(admin, "u_admin", Role::kInfoManager, "").status().code(),
            ErrorCode::kPermissionDenied);
}

TEST_F(AccountServiceTest, R_ACC_3_RequesterCannotApproveTheirOwnGrant) {
  AddAccount("admin", Role::kSysAdmin);
  AddAccount("security", Role::kSecurityOfficer);
  AddAccount("li.lei", Role::kEntryClerk);
  // Actors as Authenticate builds them; sessions are tested elsewhere.
  // A sys_admin may not decide (policy), not even their own request.
  Actor admin{ActorKind::kStaff, "u_admin", Role::kSysAdmin, kIp, ""};
  Actor security{ActorKind::kStaff, "u_security", Role::kSecurityOfficer, kIp, ""};
  Result<RoleRequestView> request =
      Service().RequestRole(admin, "u_li.lei", Role::kInfoManager, "moved to info desk");
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  EXPECT_EQ(Service().DecideRoleRequest(admin, request->id, true, "").status().code(),
            ErrorCode::kPermissionDenied);
  // A request whose maker is the would-be checker is refused to them.
  store::RoleRequestRecord own{"r_own", "u_li.lei", "dept_head", "u_security", env_.NowMicros()};
  ASSERT_TRUE(identity_->InsertRoleRequest(own).ok());
  EXPECT_EQ(Service().DecideRoleRequest(security, "r_own", true, "").status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(identity_->GetAccount("u_li.lei")->role, "entry_clerk");
  EXPECT_GE(sink_.Count(kEventAccessDenied), 1);
}

TEST_F(AccountServiceTest, R_ACC_3_GrantTakesEffectOnlyAfterApproval) {
  AddAccount("admin", Role::kSysAdmin);
  AddAccount("security", Role::kSecurityOfficer);
  AddAccount("li.lei", Role::kEntryClerk);
  config_.auth.totp_required_roles = "";  // this test is about grants, not TOTP
  const Actor admin = StaffActor("admin");
  const Actor security = StaffActor("security");
  Result<LoginResult> clerk = Login("li.lei");
  ASSERT_TRUE(clerk.ok());
  Result<RoleRequestView> request =
      Service().RequestRole(admin, "u_li.lei", Role::kInfoManager, "promotion");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->status, "pending");
  EXPECT_EQ(Service().Authenticate(clerk->token, kIp)->role, Role::kEntryClerk);
  Result<RoleRequestView> approved =
      Service().DecideRoleRequest(security, request->id, true, "checked with HR");
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_EQ(approved->status, "approved");
  EXPECT_EQ(approved->decided_by, "u_security");
  // The next request of the same session already carries the new role.
  EXPECT_EQ(Service().Authenticate(clerk->token, kIp)->role, Role::kInfoManager);
  EXPECT_EQ(Service().DecideRoleRequest(security, request->id, false, "").status().code(),
            ErrorCode::kConflict);
  EXPECT_EQ(sink_.Count(kEventRoleApproved), 1);
}

TEST_F(AccountServiceTest, R_ACC_3_NewAccountCannotLogInUntilItsRoleIsApproved) {
  config_.auth.totp_required_roles = "";
  AddAccount("admin", Role::kSysAdmin);
  AddAccount("security", Role::kSecurityOfficer);
  const Actor admin = StaffActor("admin");
  const Actor security = StaffActor("security");
  Result<CreatedAccount> created =
      Service().CreateAccount(admin, {"zhang.wei", "Zhang Wei", Role::kDeptHead, ""});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->account.status, "pending");
  const std::string password = created->one_time_password;
  EXPECT_EQ(Login("zhang.wei", password).status().code(), ErrorCode::kUnauthenticated);
  ASSERT_TRUE(Service().DecideRoleRequest(security, created->role_request_id, true, "").ok());
  Result<LoginResult> login = Login("zhang.wei", password);
  ASSERT_TRUE(login.ok()) << login.status().ToString();
  EXPECT_TRUE(login->must_change_password);  // one-time password
  EXPECT_EQ(Service().CreateAccount(admin, {"zhang.wei", "", Role::kDeptHead, ""}).status().code(),
            ErrorCode::kConflict);
  EXPECT_EQ(Service().CreateAccount(admin, {"Bad Name", "", Role::kDeptHead, ""}).status().code(),
            ErrorCode::kValidationFailed);
  EXPECT_EQ(Service().CreateAccount(security, {"x.y.z", "", Role::kDeptHead, ""}).status().code(),
            ErrorCode::kPermissionDenied);
}

TEST_F(AccountServiceTest, R_ACC_3_OverdueListShowsAccountsNotReviewedForTheInterval) {
  config_.auth.totp_required_roles = "";
  config_.auth.password_expiry_days = 365;  // about reviews, not expiry
  AddAccount("admin", Role::kSysAdmin);
  AddAccount("li.lei", Role::kEntryClerk);
  env_.AdvanceMicros(100 * kDayUs);
  AddAccount("han.meimei", Role::kEntryClerk);
  env_.AdvanceMicros(82 * kDayUs);  // li.lei and admin: 182 days; han.meimei: 82
  const Actor admin = StaffActor("admin");
  Result<std::vector<AccountView>> overdue = Service().OverdueReviews(admin);
  ASSERT_TRUE(overdue.ok());
  std::vector<std::string> names;
  for (const AccountView& view : *overdue) names.push_back(view.username);
  EXPECT_EQ(names, (std::vector<std::string>{"admin", "li.lei"}));
  ASSERT_TRUE(Service().ReviewAccount(admin, "u_li.lei", "still an entry clerk").ok());
  EXPECT_EQ(Service().OverdueReviews(admin)->size(), 1u);
  EXPECT_EQ(identity_->ListReviews("u_li.lei")->size(), 1u);
}

TEST_F(AccountServiceTest, LoginFailsWhenTheAuditSinkFails) {
  AddAccount("li.lei", Role::kEntryClerk);
  sink_.fail = true;
  Result<LoginResult> login = Login("li.lei");
  EXPECT_EQ(login.status().code(), ErrorCode::kUnavailable);
  sink_.fail = false;
  EXPECT_TRUE(Login("li.lei").ok());
}

TEST_F(AccountServiceTest, R_ACC_2_DeniedOperationsAre403AndRecorded) {
  AddAccount("li.lei", Role::kEntryClerk);
  const Actor clerk = StaffActor("li.lei");
  EXPECT_TRUE(Service().Authorize(clerk, policy::Operation::kCustomerCreate).ok());
  EXPECT_EQ(Service().Authorize(clerk, policy::Operation::kCustomerReveal).code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(Service().ListAccounts(clerk).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(sink_.Count(kEventAccessDenied), 2);
  EXPECT_EQ(sink_.events.back().target, "account.manage");
  Actor bootstrap;
  bootstrap.kind = ActorKind::kBootstrap;
  EXPECT_EQ(Service().Authorize(bootstrap, policy::Operation::kCatalogRead).code(),
            ErrorCode::kPermissionDenied);
}

TEST_F(AccountServiceTest, InitialAccountsHaveOneTimePasswordsUntilAllThreeAreChanged) {
  config_.auth.totp_required_roles = "";
  Result<std::vector<InitialCredential>> initial = Service().CreateInitialAccounts();
  ASSERT_TRUE(initial.ok()) << initial.status().ToString();
  ASSERT_EQ(initial->size(), 3u);
  EXPECT_EQ(Service().CreateInitialAccounts().status().code(), ErrorCode::kConflict);
  std::set<std::string> passwords;
  for (const InitialCredential& credential : *initial) {
    EXPECT_TRUE(
        identity::CheckPasswordPolicy(credential.password, credential.username, config_.auth).ok());
    passwords.insert(credential.password);
  }
  EXPECT_EQ(passwords.size(), 3u);  // no shared password
  EXPECT_EQ(*Service().InitialPasswordsAllChanged(), false);
  for (const InitialCredential& credential : *initial) {
    Result<LoginResult> login = Login(credential.username, credential.password);
    ASSERT_TRUE(login.ok()) << credential.username;
    EXPECT_TRUE(login->must_change_password);
    Result<SessionActor> self = Service().AuthenticateSelfService(login->token, kIp);
    ASSERT_TRUE(self.ok());
    EXPECT_EQ(self->actor.role, credential.role);
    EXPECT_EQ(*Service().InitialPasswordsAllChanged(), false);
    ASSERT_TRUE(
        Service().ChangePassword(self->actor, credential.password, "Changed-Password-9!").ok());
  }
  EXPECT_EQ(*Service().InitialPasswordsAllChanged(), true);
}

TEST_F(AccountServiceTest, ChannelsGetAKeyOnceAndMayOnlyCreateCustomers) {
  config_.auth.totp_required_roles = "";
  AddAccount("admin", Role::kSysAdmin);
  const Actor admin = StaffActor("admin");
  Result<RegisteredChannel> channel = Service().RegisterChannel(admin, "wechat-mini");
  ASSERT_TRUE(channel.ok()) << channel.status().ToString();
  EXPECT_EQ(channel->api_key.rfind("cvk_", 0), 0u);
  Result<Actor> actor = Service().AuthenticateChannel(channel->api_key, kIp);
  ASSERT_TRUE(actor.ok());
  EXPECT_EQ(actor->kind, ActorKind::kChannel);
  EXPECT_EQ(actor->role, Role::kChannel);
  EXPECT_TRUE(Service().Authorize(*actor, policy::Operation::kCustomerCreate).ok());
  EXPECT_EQ(Service().Authorize(*actor, policy::Operation::kCustomerRead).code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(Service().AuthenticateChannel("cvk_" + std::string(64, 'a'), kIp).status().code(),
            ErrorCode::kUnauthenticated);
  // A channel key is not a session token and the other way round.
  EXPECT_EQ(Service().Authenticate(channel->api_key, kIp).status().code(),
            ErrorCode::kUnauthenticated);
  Result<std::vector<ChannelView>> listed = Service().ListChannels(admin);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(Service().RegisterChannel(admin, "wechat-mini").status().code(), ErrorCode::kConflict);
}

// Issue 11.4: channel keys expire, rotate with a bounded overlap, and a
// revocation takes effect with the next request; each change is audited.
TEST_F(AccountServiceTest, R_ACC_2_ChannelKeysExpireRotateWithAnOverlapAndRevokeAtOnce) {
  config_.auth.totp_required_roles = "";
  config_.auth.channel_key_days = 365;
  config_.auth.channel_key_days_max = 730;
  config_.auth.channel_key_overlap_hours = 24;
  AddAccount("admin", Role::kSysAdmin);
  AddAccount("li.lei", Role::kEntryClerk);
  const Actor admin = StaffActor("admin");
  const int64_t now = env_.NowMicros();
  // Expiry: the default, a chosen one, and the bounds.
  Result<RegisteredChannel> first = Service().RegisterChannel(admin, "wechat-mini");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->channel.expires_at_us, now + 365 * kDayUs);
  EXPECT_EQ(Service().RegisterChannel(admin, "too-long", now + 731 * kDayUs).status().code(),
            ErrorCode::kValidationFailed);
  EXPECT_EQ(Service().RegisterChannel(admin, "past", now - 1).status().code(),
            ErrorCode::kValidationFailed);
  Result<RegisteredChannel> short_lived =
      Service().RegisterChannel(admin, "kiosk", now + 10 * kDayUs);
  ASSERT_TRUE(short_lived.ok());
  env_.AdvanceMicros(10 * kDayUs - 1);
  EXPECT_TRUE(Service().AuthenticateChannel(short_lived->api_key, kIp).ok());
  env_.AdvanceMicros(1);
  EXPECT_EQ(Service().AuthenticateChannel(short_lived->api_key, kIp).status().code(),
            ErrorCode::kUnauthenticated);

  // Rotation: the new key at once, the old one through the overlap only.
  Result<RegisteredChannel> rotated = Service().RotateChannelKey(admin, "wechat-mini");
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_NE(rotated->api_key, first->api_key);
  EXPECT_EQ(rotated->channel.previous_valid_until_us, env_.NowMicros() + 24 * 60 * kMinuteUs);
  EXPECT_TRUE(Service().AuthenticateChannel(rotated->api_key, kIp).ok());
  EXPECT_TRUE(Service().AuthenticateChannel(first->api_key, kIp).ok());
  env_.AdvanceMicros(24 * 60 * kMinuteUs - 1);
  EXPECT_TRUE(Service().AuthenticateChannel(first->api_key, kIp).ok());
  env_.AdvanceMicros(1);
  EXPECT_EQ(Service().AuthenticateChannel(first->api_key, kIp).status().code(),
            ErrorCode::kUnauthenticated);
  EXPECT_TRUE(Service().AuthenticateChannel(rotated->api_key, kIp).ok());
  EXPECT_EQ(sink_.Count(kEventChannelKeyRotated), 1);

  // Revocation: every key of the channel, at once, also within an overlap.
  Result<RegisteredChannel> again = Service().RotateChannelKey(admin, "wechat-mini");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(Service().AuthenticateChannel(rotated->api_key, kIp).ok());  // in its overlap
  Result<ChannelView> revoked = Service().RevokeChannel(admin, "wechat-mini");
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(revoked->status, "revoked");
  EXPECT_EQ(revoked->revoked_at_us, env_.NowMicros());
  for (const std::string& key : {again->api_key, rotated->api_key, first->api_key}) {
    EXPECT_EQ(Service().AuthenticateChannel(key, kIp).status().code(), ErrorCode::kUnauthenticated);
  }
  EXPECT_EQ(sink_.Count(kEventChannelRevoked), 1);
  EXPECT_EQ(Service().RotateChannelKey(admin, "wechat-mini").status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(Service().RevokeChannel(admin, "wechat-mini").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(Service().RevokeChannel(admin, "no-such").status().code(), ErrorCode::kNotFound);
  // Only channel.manage (sys_admin) manages them.
  const Actor clerk = StaffActor("li.lei");
  EXPECT_EQ(Service().RotateChannelKey(clerk, "kiosk").status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(Service().RevokeChannel(clerk, "kiosk").status().code(), ErrorCode::kPermissionDenied);
}

TEST_F(AccountServiceTest, RevealsAreRateLimitedPerAccountOverASlidingHour) {
  config_.auth.reveal_per_hour_max = 3;
  Actor a{ActorKind::kStaff, "u_a", Role::kInfoManager, kIp, ""};
  Actor b{ActorKind::kStaff, "u_b", Role::kInfoManager, kIp, ""};
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Service().CheckRevealRate(a).ok());
    env_.AdvanceMicros(10 * kMinuteUs);
  }
  EXPECT_EQ(Service().CheckRevealRate(a).code(), ErrorCode::kRateLimited);
  EXPECT_TRUE(Service().CheckRevealRate(b).ok());  // per account
  env_.AdvanceMicros(30 * kMinuteUs);              // the first reveal is now an hour old
  EXPECT_TRUE(Service().CheckRevealRate(a).ok());
  EXPECT_EQ(Service().CheckRevealRate(a).code(), ErrorCode::kRateLimited);
}

TEST_F(AccountServiceTest, BadConfigurationIsRefusedByName) {
  config_.auth.ip_allowlist = "10.0.0.0/33";
  Result<std::unique_ptr<AccountService>> bad =
      AccountService::Create(&env_, config_, *keyring_, *store_, *identity_, sink_);
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("auth.ip_allowlist"), std::string::npos);
  config_.auth.ip_allowlist = "";
  config_.auth.totp_required_roles = "info_manager,wizard";
  bad = AccountService::Create(&env_, config_, *keyring_, *store_, *identity_, sink_);
  EXPECT_NE(bad.status().message().find("wizard"), std::string::npos);
}

}  // namespace
}  // namespace custvault::service
