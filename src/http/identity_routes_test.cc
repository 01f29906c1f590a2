#include "http/identity_routes.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <set>

#include "common/fake_env.h"
#include "http/api_routes.h"
#include "identity/password.h"

namespace custvault::http {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using service::Role;

constexpr char kPassword[] = "Route-Password-2026";

class NullSink final : public service::SecurityEventSink {
 public:
  Status Record(const service::SecurityEvent& event) override {
    types.push_back(event.type);
    return Status::Ok();
  }
  std::vector<std::string> types;
};

class IdentityRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_identity_routes_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    config_.auth.argon2_memory_kib = 256;
    config_.auth.argon2_iterations = 1;
    config_.auth.totp_required_roles = "info_manager";
    keyring_ = crypto::Keyring::Open(&env_, dir_ + "/master.key", crypto::CryptoProfile::kDefault,
                                    true)
                   .value();
    store_ = store::OpenSqliteStore({.path = dir_ + "/custvault.db", .readers = 2}).value();
    identity_ = store::OpenSqliteIdentityStore(*store_).value();
    Result<std::unique_ptr<service::AccountService>> accounts =
        service::AccountService::Create(&env_, config_, *keyring_, *store_, *identity_, sink_);
    ASSERT_TRUE(accounts.ok()) << accounts.status().ToString();
    accounts_ = std::move(*accounts);
    RegisterIdentityRoutes(router_, *accounts_);
    for (auto [name, role] : {std::pair{"admin", Role::kSysAdmin},
                              {"security", Role::kSecurityOfficer},
                              {"auditor", Role::kAuditor},
                              {"clerk", Role::kEntryClerk},
                              {"manager", Role::kInfoManager},
                              {"head", Role::kDeptHead}}) {
      store::AccountRecord account;
      account.id = std::string("u_") + name;
      account.username = name;
      account.role = std::string(service::RoleName(role));
      account.password_hash = *identity::HashPassword(&env_, kPassword,
                                                      identity::Argon2ParamsFrom(config_.auth));
      account.password_changed_at_us = env_.NowMicros();
      account.created_at_us = env_.NowMicros();
      account.must_change_password = std::string(name) == "head";
      ASSERT_TRUE(identity_->InsertAccount(account).ok());
    }
  }
  void TearDown() override {
    accounts_.reset();
    identity_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  Response Call(const std::string& method, const std::string& target, const std::string& body,
                const std::string& token) {
    Request request;
    request.method = method;
    request.target = target;
    request.body = body;
    request.peer_ip = "127.0.0.1";
    if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
    return router_.Dispatch(request);
  }

  std::string TokenOf(const std::string& username) {
    const Response r = Call("POST", "/api/v1/auth/login",
                            R"({"username":")" + username + R"(","password":")" + kPassword +
                                R"("})",
                            "");
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(json::parse(r.body).at("token").as_string());
  }

  static bool HasNoStore(const Response& r) {
    for (const auto& [name, value] : r.headers) {
      if (name == "Cache-Control" && value == "no-store") return true;
    }
    return false;
  }

  std::string dir_;
  FakeEnv env_;
  Config config_;
  NullSink sink_;
  std::unique_ptr<crypto::Keyring> keyring_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::IdentityStore> identity_;
  std::unique_ptr<service::AccountService> accounts_;
  Router router_;
};

// Every identity route is in the OpenAPI document with its method.
TEST_F(IdentityRoutesTest, EveryIdentityRouteIsDocumentedInOpenApi) {
  const json::value doc = json::parse(OpenApiDocument());
  for (const RouteInfo& route : router_.Routes()) {
    std::string method = route.method;
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const json::object* item = doc.at("paths").as_object().if_contains(route.pattern)
                                   ? &doc.at("paths").at(route.pattern).as_object()
                                   : nullptr;
    ASSERT_NE(item, nullptr) << route.pattern;
    EXPECT_TRUE(item->contains(method)) << route.method << " " << route.pattern;
  }
}

TEST_F(IdentityRoutesTest, LoginAnswersATokenWithNoStoreAndBadCredentialsWith401) {
  const Response ok = Call("POST", "/api/v1/auth/login",
                           R"({"username":"clerk","password":"Route-Password-2026"})", "");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(HasNoStore(ok));
  const json::object body = json::parse(ok.body).as_object();
  for (const char* key : {"token", "expires_at", "must_change_password", "must_enrol_totp"}) {
    EXPECT_TRUE(body.contains(key)) << key;
  }
  const Response bad =
      Call("POST", "/api/v1/auth/login", R"({"username":"clerk","password":"nope"})", "");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(json::parse(bad.body).at("error").at("code").as_string(), "unauthenticated");
  EXPECT_EQ(bad.body.find("nope"), std::string::npos);
  EXPECT_EQ(Call("POST", "/api/v1/auth/login", R"({"username":"clerk"})", "").status, 422);
  EXPECT_EQ(Call("POST", "/api/v1/auth/login", "not json", "").status, 400);
}

// R-ACC-2: every route but login needs a session.
TEST_F(IdentityRoutesTest, R_ACC_2_EveryRouteButLoginNeedsASession) {
  for (const RouteInfo& route : router_.Routes()) {
    if (route.pattern == "/api/v1/auth/login") continue;
    std::string path = route.pattern;
    if (size_t brace = path.find("{id}"); brace != std::string::npos) path.replace(brace, 4, "x");
    EXPECT_EQ(Call(route.method, path, "{}", "").status, 401) << route.method << " " << path;
    EXPECT_EQ(Call(route.method, path, "{}", "cvs_" + std::string(64, 'a')).status, 401)
        << route.method << " " << path;
  }
}

// R-ACC-2: the management routes answer 403 to every role the policy
// does not allow (policy table: account.manage, role.request, role.approve,
// channel.manage, account.review).
TEST_F(IdentityRoutesTest, R_ACC_2_ManagementRoutesFollowThePolicyForEveryRole) {
  struct Case {
    const char* method;
    const char* path;
    policy::Operation operation;
  };
  const Case kCases[] = {
      {"GET", "/api/v1/users", policy::Operation::kAccountManage},
      {"POST", "/api/v1/users", policy::Operation::kAccountManage},
      {"POST", "/api/v1/users/u_nobody/disable", policy::Operation::kAccountManage},
      {"POST", "/api/v1/users/u_nobody/review", policy::Operation::kAccountReview},
      {"GET", "/api/v1/users/overdue-reviews", policy::Operation::kAccountReview},
      {"POST", "/api/v1/role-requests", policy::Operation::kRoleRequest},
      {"POST", "/api/v1/role-requests/r_nobody/approve", policy::Operation::kRoleApprove},
      {"POST", "/api/v1/role-requests/r_nobody/reject", policy::Operation::kRoleApprove},
      {"POST", "/api/v1/channels", policy::Operation::kChannelManage},
      {"GET", "/api/v1/channels", policy::Operation::kChannelManage},
  };
  config_.auth.totp_required_roles = "";  // full sessions for every role here
  accounts_ = service::AccountService::Create(&env_, config_, *keyring_, *store_, *identity_, sink_)
                  .value();
  router_ = Router();
  RegisterIdentityRoutes(router_, *accounts_);
  for (auto [name, role] : {std::pair{"admin", Role::kSysAdmin},
                            {"security", Role::kSecurityOfficer},
                            {"auditor", Role::kAuditor},
                            {"clerk", Role::kEntryClerk},
                            {"manager", Role::kInfoManager}}) {
    const std::string token = TokenOf(name);
    for (const Case& c : kCases) {
      const Response r = Call(c.method, c.path, "{}", token);
      if (policy::Allows(role, c.operation)) {
        EXPECT_NE(r.status, 403) << name << " " << c.method << " " << c.path << " " << r.body;
      } else {
        EXPECT_EQ(r.status, 403) << name << " " << c.method << " " << c.path;
      }
    }
  }
}

// R-ACC-4: a session that must change its password gets 403 everywhere
// but the self-service routes, until it has.
TEST_F(IdentityRoutesTest, R_ACC_4_MustChangePasswordSessionIsLimitedUntilChanged) {
  const std::string token = TokenOf("head");
  EXPECT_EQ(Call("GET", "/api/v1/role-requests", "", token).status, 403);
  const Response changed =
      Call("POST", "/api/v1/auth/password",
           R"({"old_password":"Route-Password-2026","new_password":"Brand-New-Pass-77"})", token);
  EXPECT_EQ(changed.status, 200) << changed.body;
  // dept_head may not list role requests: now a policy 403 rather than the
  // password one; the session itself works (logout succeeds).
  const Response listed = Call("GET", "/api/v1/role-requests", "", token);
  EXPECT_EQ(listed.status, 403);
  EXPECT_EQ(std::string(json::parse(listed.body).at("error").at("message").as_string())
                .find("password"),
            std::string::npos);
  EXPECT_EQ(Call("POST", "/api/v1/auth/logout", "", token).status, 204);
  EXPECT_EQ(Call("POST", "/api/v1/auth/logout", "", token).status, 401);
}

TEST_F(IdentityRoutesTest, R_ACC_4_TotpEnrolmentThroughTheApi) {
  const std::string token = TokenOf("manager");  // info_manager must enrol
  EXPECT_EQ(Call("GET", "/api/v1/users", "", token).status, 403);
  const Response enrol = Call("POST", "/api/v1/auth/totp/enrol", "", token);
  ASSERT_EQ(enrol.status, 200) << enrol.body;
  EXPECT_TRUE(HasNoStore(enrol));
  const json::object body = json::parse(enrol.body).as_object();
  EXPECT_EQ(std::string(body.at("otpauth_uri").as_string()).rfind("otpauth://totp/custvault:manager?", 0),
            0u);
  EXPECT_EQ(Call("POST", "/api/v1/auth/totp/confirm", R"({"otp":"000000x"})", token).status, 403);
}

TEST_F(IdentityRoutesTest, R_ACC_3_CreateUserThenApproveThroughTheApi) {
  config_.auth.totp_required_roles = "";
  accounts_ = service::AccountService::Create(&env_, config_, *keyring_, *store_, *identity_, sink_)
                  .value();
  router_ = Router();
  RegisterIdentityRoutes(router_, *accounts_);
  const std::string admin = TokenOf("admin");
  const Response created = Call("POST", "/api/v1/users",
                                R"({"username":"wang.fang","display_name":"Wang Fang",)"
                                R"("role":"entry_clerk"})",
                                admin);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_TRUE(HasNoStore(created));
  const json::object body = json::parse(created.body).as_object();
  EXPECT_EQ(body.at("account").at("status").as_string(), "pending");
  const std::string request_id(body.at("role_request_id").as_string());
  // The maker cannot check.
  EXPECT_EQ(Call("POST", "/api/v1/role-requests/" + request_id + "/approve", "{}", admin).status,
            403);
  const std::string security = TokenOf("security");
  const Response approved = Call("POST", "/api/v1/role-requests/" + request_id + "/approve",
                                 R"({"comment":"ok"})", security);
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(json::parse(approved.body).at("status").as_string(), "approved");
  const Response listed = Call("GET", "/api/v1/users", "", admin);
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body.find("password_hash"), std::string::npos);
  EXPECT_EQ(listed.body.find("$argon2id"), std::string::npos);
  const Response channel = Call("POST", "/api/v1/channels", R"({"name":"app-store"})", admin);
  ASSERT_EQ(channel.status, 201) << channel.body;
  EXPECT_TRUE(HasNoStore(channel));
  EXPECT_EQ(std::string(json::parse(channel.body).at("api_key").as_string()).rfind("cvk_", 0), 0u);
  const Response disabled = Call("POST", "/api/v1/users/u_clerk/disable", "", admin);
  EXPECT_EQ(disabled.status, 204) << disabled.body;
}

}  // namespace
}  // namespace custvault::http
