// Test helpers: a fresh, initialised data directory (removed afterwards),
// and staff accounts made through the real maker-checker flow.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <string>

#include "service/vault.h"

namespace custvault::service {

// Cheap password hashing, no TOTP and no login throttle, so tests can log
// in many times; the account tests cover those themselves.
inline std::map<std::string, std::string> FastAuthEnvironment(
    std::map<std::string, std::string> environment = {}) {
  environment.emplace("CUSTVAULT_AUTH_ARGON2_MEMORY_KIB", "8192");
  environment.emplace("CUSTVAULT_AUTH_ARGON2_ITERATIONS", "1");
  environment.emplace("CUSTVAULT_AUTH_TOTP_REQUIRED_ROLES", "");
  // Every test logs in from 127.0.0.1; the login throttle has its own tests.
  environment.emplace("CUSTVAULT_AUTH_LOGIN_BURST", "1000000");
  return environment;
}

inline constexpr char kTestPassword[] = "Tr0ub4dor&3-custvault";

class TestDataDir {
 public:
  explicit TestDataDir(const std::map<std::string, std::string>& environment = {}) {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("cv_vault_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
                .string();
    std::filesystem::remove_all(path_);
    Result<InitResult> init = InitDataDirectory(Env::Default(), path_, environment);
    EXPECT_TRUE(init.ok()) << init.status().ToString();
    if (init.ok()) {
      for (const InitialCredential& c : init->credentials) passwords_[c.username] = c.password;
    }
  }
  ~TestDataDir() { std::filesystem::remove_all(path_); }
  TestDataDir(const TestDataDir&) = delete;
  TestDataDir& operator=(const TestDataDir&) = delete;

  const std::string& path() const { return path_; }
  // One-time passwords of the initial accounts, by username.
  const std::map<std::string, std::string>& initial_passwords() const { return passwords_; }

 private:
  std::string path_;
  std::map<std::string, std::string> passwords_;
};

// Logs in with a one-time password, changes it to kTestPassword and logs in
// again: the token of a full session. Needs FastAuthEnvironment (no TOTP).
inline Result<std::string> FirstLogin(AccountService& accounts, const std::string& username,
                                      const std::string& one_time_password) {
  ASSIGN_OR_RETURN(LoginResult first, accounts.Login(username, one_time_password, "", "127.0.0.1"));
  ASSIGN_OR_RETURN(SessionActor limited,
                   accounts.AuthenticateSelfService(first.token, "127.0.0.1"));
  RETURN_IF_ERROR(accounts.ChangePassword(limited.actor, one_time_password, kTestPassword));
  ASSIGN_OR_RETURN(LoginResult full, accounts.Login(username, kTestPassword, "", "127.0.0.1"));
  return full.token;
}

// Staff accounts for tests: the initial admin and security officer log in
// once, then each Make() creates an account with the role (admin requests,
// security approves) and returns a full session's token.
class TestStaff {
 public:
  TestStaff(AccountService& accounts, const TestDataDir& dir) : accounts_(accounts) {
    Result<std::string> admin = FirstLogin(accounts, "admin", dir.initial_passwords().at("admin"));
    Result<std::string> security =
        FirstLogin(accounts, "security", dir.initial_passwords().at("security"));
    Result<std::string> auditor =
        FirstLogin(accounts, "auditor", dir.initial_passwords().at("auditor"));
    EXPECT_TRUE(admin.ok() && security.ok() && auditor.ok())
        << admin.status().ToString() << security.status().ToString() << auditor.status().ToString();
    if (admin.ok()) tokens_[Role::kSysAdmin] = *admin;
    if (security.ok()) tokens_[Role::kSecurityOfficer] = *security;
    if (auditor.ok()) tokens_[Role::kAuditor] = *auditor;
    usernames_[Role::kSysAdmin] = "admin";
    usernames_[Role::kSecurityOfficer] = "security";
    usernames_[Role::kAuditor] = "auditor";
  }

  // A new full session for the account with `role` (logging in again).
  Result<std::string> FreshToken(Role role) {
    RETURN_IF_ERROR(Token(role).status());
    ASSIGN_OR_RETURN(LoginResult login,
                     accounts_.Login(usernames_.at(role), kTestPassword, "", "127.0.0.1"));
    return login.token;
  }

  // A full-session token for an account with `role` (created on first use).
  Result<std::string> Token(Role role) {
    if (auto found = tokens_.find(role); found != tokens_.end()) return found->second;
    ASSIGN_OR_RETURN(Actor admin, accounts_.Authenticate(tokens_.at(Role::kSysAdmin), "127.0.0.1"));
    ASSIGN_OR_RETURN(Actor security,
                     accounts_.Authenticate(tokens_.at(Role::kSecurityOfficer), "127.0.0.1"));
    NewAccount request;
    request.username =
        "user" + std::to_string(++counter_) + std::string(RoleName(role)).substr(0, 4);
    request.role = role;
    ASSIGN_OR_RETURN(CreatedAccount created, accounts_.CreateAccount(admin, request));
    RETURN_IF_ERROR(
        accounts_.DecideRoleRequest(security, created.role_request_id, true, "test").status());
    ASSIGN_OR_RETURN(std::string token,
                     FirstLogin(accounts_, request.username, created.one_time_password));
    tokens_[role] = token;
    usernames_[role] = request.username;
    return token;
  }

  Result<Actor> ActorFor(Role role) {
    ASSIGN_OR_RETURN(std::string token, Token(role));
    return accounts_.Authenticate(token, "127.0.0.1");
  }

 private:
  AccountService& accounts_;
  std::map<Role, std::string> tokens_;
  std::map<Role, std::string> usernames_;
  int counter_ = 0;
};

}  // namespace custvault::service
