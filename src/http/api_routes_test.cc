#include "http/api_routes.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <iostream>
#include <set>

#include "common/fake_env.h"
#include "policy/policy.h"
#include "service/test_vault.h"

namespace custvault::http {
namespace {

namespace json = boost::json;
using policy::Operation;
using service::Role;

class ApiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<service::Vault>> vault =
        service::Vault::Open(&env_, dir_.path(), service::FastAuthEnvironment());
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    staff_ = std::make_unique<service::TestStaff>(vault_->accounts(), dir_);
    RegisterApiRoutes(router_, *vault_);
  }

  std::string TokenFor(Role role) {
    Result<std::string> token = staff_->Token(role);
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    return token.ok() ? *token : std::string();
  }

  Response Call(const std::string& method, const std::string& path, const std::string& body,
                const std::string& token) {
    Request request;
    request.method = method;
    request.target = path;
    request.body = body;
    request.peer_ip = "127.0.0.1";
    if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
    return router_.Dispatch(request);
  }

  Response Call(const std::string& method, const std::string& path, const std::string& body = "") {
    return Call(method, path, body, TokenFor(Role::kInfoManager));
  }

  FakeEnv env_{Env::Default()->NowMicros()};
  service::TestDataDir dir_{service::FastAuthEnvironment()};
  std::unique_ptr<service::Vault> vault_;
  std::unique_ptr<service::TestStaff> staff_;
  Router router_;
};

// Issue 11.1: the routes whose work grows with the data or the input run on
// the expensive pool, and only those (a cheap route there would queue
// behind the slow ones for nothing).
TEST_F(ApiRoutesTest, ExpensiveRoutesAreRegisteredAsExpensive_Issue11_1) {
  const std::set<std::pair<std::string, std::string>> expected = {
      {"POST", "/api/v1/rules"},
      {"POST", "/api/v1/rules/dry-run"},
      {"POST", "/api/v1/tags/reclassify"},
      {"POST", "/api/v1/approvals/{id}/decision"},
      {"GET", "/api/v1/audit/export.csv"},
      {"GET", "/api/v1/audit/verify"},
      {"POST", "/api/v1/backups"},
      {"POST", "/api/v1/backups/{id}/verify"},
      {"POST", "/api/v1/backups/restore-tests"},
  };
  std::set<std::pair<std::string, std::string>> expensive;
  for (const RouteInfo& route : router_.Routes()) {
    if (route.route_class == RouteClass::kExpensive) expensive.insert({route.method, route.pattern});
  }
  EXPECT_EQ(expensive, expected);
}

// The OpenAPI document is kept true: every registered route is documented
// with its method, and every documented operation is registered.
TEST_F(ApiRoutesTest, OpenApiDocumentMatchesTheRegisteredRoutesExactly) {
  const json::value doc = json::parse(OpenApiDocument());
  EXPECT_EQ(std::string(doc.at("openapi").as_string()).substr(0, 2), "3.");
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, operation] : item.as_object()) {
      if (method == "parameters") continue;
      std::string upper(method);
      for (char& c : upper) c = static_cast<char>(std::toupper(c));
      documented.emplace(upper, std::string(path));
      EXPECT_TRUE(operation.as_object().contains("responses")) << upper << " " << path;
    }
  }
  std::set<std::pair<std::string, std::string>> registered;
  for (const RouteInfo& route : router_.Routes()) registered.emplace(route.method, route.pattern);
  EXPECT_EQ(documented, registered);
}

// What each route asks of the policy table. Routes open to any session
// (a person's own session, the API description) say so.
struct RouteRule {
  const char* method;
  const char* pattern;
  std::optional<Operation> operation;  // nullopt: any authenticated caller
  const char* body;
  std::optional<Operation> or_operation = std::nullopt;  // also enough
};

const RouteRule kRouteRules[] = {
    {"GET", "/api/v1/openapi.json", std::nullopt, ""},
    {"GET", "/api/v1/catalog", Operation::kCatalogRead, ""},
    {"POST", "/api/v1/customers", Operation::kCustomerCreate, R"({"name":"张三"})"},
    {"GET", "/api/v1/customers", Operation::kCustomerList, ""},
    {"POST", "/api/v1/customers/search", Operation::kCustomerSearch, R"({"name":"张三"})"},
    {"GET", "/api/v1/customers/{id}", Operation::kCustomerRead, ""},
    {"PATCH", "/api/v1/customers/{id}", Operation::kCustomerUpdate, R"({"phone":"13900001111"})"},
    {"DELETE", "/api/v1/customers/{id}", Operation::kCustomerDelete, ""},
    {"POST", "/api/v1/customers/{id}/reveal", Operation::kCustomerReveal,
     R"({"fields":["name"],"reason":"policy test"})"},
    {"GET", "/api/v1/search-locks", Operation::kSearchUnlock, ""},
    {"POST", "/api/v1/search-locks/{id}/clear", Operation::kSearchUnlock,
     R"({"reason":"policy test"})"},
    {"POST", "/api/v1/auth/logout", Operation::kSessionSelf, ""},
    {"POST", "/api/v1/auth/password", Operation::kSessionSelf,
     R"({"old_password":"wrong","new_password":"x"})"},
    {"POST", "/api/v1/auth/totp/enrol", Operation::kSessionSelf, ""},
    {"POST", "/api/v1/auth/totp/confirm", Operation::kSessionSelf, R"({"otp":"000000"})"},
    {"GET", "/api/v1/users", Operation::kAccountManage, ""},
    {"POST", "/api/v1/users", Operation::kAccountManage,
     R"({"username":"policy.probe","role":"entry_clerk"})"},
    {"GET", "/api/v1/users/overdue-reviews", Operation::kAccountReview, ""},
    {"POST", "/api/v1/users/{id}/disable", Operation::kAccountManage, ""},
    {"POST", "/api/v1/users/{id}/review", Operation::kAccountReview, R"({"comment":"ok"})"},
    {"POST", "/api/v1/role-requests", Operation::kRoleRequest,
     R"({"account_id":"{id}","role":"dept_head"})"},
    {"GET", "/api/v1/role-requests", Operation::kRoleRequest, "", Operation::kRoleApprove},
    {"POST", "/api/v1/role-requests/{id}/approve", Operation::kRoleApprove, R"({"comment":"ok"})"},
    {"POST", "/api/v1/role-requests/{id}/reject", Operation::kRoleApprove, R"({"comment":"no"})"},
    {"POST", "/api/v1/channels", Operation::kChannelManage, R"({"name":"webform"})"},
    {"GET", "/api/v1/channels", Operation::kChannelManage, ""},
    {"POST", "/api/v1/channels/{name}/rotate", Operation::kChannelManage, ""},
    {"POST", "/api/v1/channels/{name}/revoke", Operation::kChannelManage, ""},
    {"GET", "/api/v1/audit/entries", Operation::kAuditRead, ""},
    {"GET", "/api/v1/audit/export.csv", Operation::kAuditExport, ""},
    {"GET", "/api/v1/audit/verify", Operation::kAuditVerify, ""},
    {"GET", "/api/v1/audit/alerts", Operation::kAlertsRead, ""},
    // Customer self-service: no bearer token at all (the proof is the SMS
    // code); a staff token neither helps nor hurts.
    {"POST", "/api/v1/self-service/challenges", std::nullopt,
     R"({"customer_id":"C20000101000001","id_last4":"0000","phone":"13812345678"})"},
    {"POST", "/api/v1/self-service/challenges/{id}/verify", std::nullopt, R"({"code":"123456"})"},
    {"POST", "/api/v1/self-service/changes", std::nullopt,
     R"({"token":"sst_x","address":"北京市朝阳区建国路88号"})"},
    {"POST", "/api/v1/audit/alerts/{id}/ack", Operation::kAlertsAck, ""},
    {"POST", "/api/v1/backups", Operation::kBackupRun, R"({"kind":"full"})"},
    {"GET", "/api/v1/backups", Operation::kBackupRead, ""},
    {"POST", "/api/v1/backups/{id}/verify", Operation::kBackupRead, ""},
    {"POST", "/api/v1/restores", Operation::kBackupRestore, R"({"reason":"policy test"})"},
    {"GET", "/api/v1/backups/restore-tests", Operation::kBackupRead, ""},
    {"POST", "/api/v1/backups/restore-tests", Operation::kBackupRun, R"({"samples":1})"},
    {"GET", "/api/v1/backups/shipping", Operation::kBackupRead, ""},
    {"POST", "/api/v1/customers/{id}/transactions", Operation::kBusinessWrite,
     R"({"amount_fen":100,"occurred_at":"2026-01-01T00:00:00Z","channel":"app"})"},
    {"GET", "/api/v1/customers/{id}/transactions", Operation::kBusinessRead, ""},
    {"POST", "/api/v1/customers/{id}/complaints", Operation::kBusinessWrite,
     R"({"opened_at":"2026-01-01T00:00:00Z","summary":"policy test"})"},
    {"GET", "/api/v1/customers/{id}/complaints", Operation::kBusinessRead, ""},
    {"POST", "/api/v1/customers/{id}/complaints/{cid}/close", Operation::kBusinessWrite, ""},
    {"POST", "/api/v1/customers/{id}/cooperation", Operation::kBusinessWrite,
     R"({"started_at":"2026-01-01T00:00:00Z","kind":"distributor","summary":"policy test"})"},
    {"GET", "/api/v1/customers/{id}/cooperation", Operation::kBusinessRead, ""},
    {"GET", "/api/v1/jobs", Operation::kJobsRead, ""},
    // Approvals, rules and tags (R-APR-1, R-TAG).
    {"GET", "/api/v1/approvals", Operation::kApprovalRead, ""},
    {"GET", "/api/v1/approvals/{id}", Operation::kApprovalRead, ""},
    {"POST", "/api/v1/approvals/{id}/decision", Operation::kApprovalDecide,
     R"({"decision":"approve","comment":"policy test"})"},
    {"GET", "/api/v1/rules", Operation::kRulesRead, ""},
    {"POST", "/api/v1/rules", Operation::kRulesChange, R"({"text":"format = 1"})"},
    {"POST", "/api/v1/rules/dry-run", Operation::kRulesRead, R"({"text":"format = 1"})"},
    {"POST", "/api/v1/tags/reclassify", Operation::kTagReclassify, R"({"dry_run":true})"},
    {"POST", "/api/v1/customers/{id}/tags", Operation::kTagRequest,
     R"({"dimension":"risk","value":"high","reason":"policy test"})"},
};

// R-ACC-2, issue 3 acceptance: generated from the policy table, every
// endpoint as every role, unauthenticated and with an expired session;
// no 2xx that the table does not allow.
TEST_F(ApiRoutesTest, EveryEndpointAsEveryRoleGivesNoUnexpectedSuccess) {
  // Every registered route has a rule (a new route must be added here).
  std::set<std::pair<std::string, std::string>> ruled;
  for (const RouteRule& rule : kRouteRules) ruled.emplace(rule.method, rule.pattern);
  for (const RouteInfo& route : router_.Routes()) {
    if (route.pattern == "/healthz" || route.pattern == "/api/v1/auth/login") continue;
    EXPECT_TRUE(ruled.count({route.method, route.pattern})) << route.method << " " << route.pattern;
  }
  const Response created = Call("POST", "/api/v1/customers", R"({"name":"李四"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string customer_id(json::parse(created.body).at("id").as_string());

  int unexpected = 0, allowed_successes = 0, checked = 0;
  const Role roles[] = {Role::kEntryClerk, Role::kInfoManager,     Role::kDeptHead,
                        Role::kAuditor,    Role::kSecurityOfficer, Role::kSysAdmin};
  for (Role role : roles) {
    for (const RouteRule& rule : kRouteRules) {
      std::string path = rule.pattern;
      if (const size_t at = path.find("{id}"); at != std::string::npos) {
        const bool customer_route = path.rfind("/api/v1/customers/", 0) == 0;
        path.replace(at, 4, customer_route ? customer_id : "x_unknown");
      }
      if (const size_t at = path.find("{name}"); at != std::string::npos) {
        path.replace(at, 6, "webform");  // the channel registered by the rule above
      }
      std::string body = rule.body;
      if (const size_t at = body.find("{id}"); at != std::string::npos)
        body.replace(at, 4, "x_unknown");
      // A fresh session per call: a logout ends the one it is given.
      Result<std::string> token = staff_->FreshToken(role);
      ASSERT_TRUE(token.ok()) << token.status().ToString();
      const Response response = Call(rule.method, path, body, *token);
      ++checked;
      const bool success = response.status >= 200 && response.status < 300;
      const bool allowed = !rule.operation || policy::Allows(role, *rule.operation) ||
                           (rule.or_operation && policy::Allows(role, *rule.or_operation));
      if (success && !allowed) {
        ++unexpected;
        ADD_FAILURE() << service::RoleName(role) << " got " << response.status << " on "
                      << rule.method << " " << rule.pattern;
      }
      if (!allowed) {
        EXPECT_TRUE(response.status == 403 || response.status == 404)
            << service::RoleName(role) << " " << rule.method << " " << rule.pattern << ": "
            << response.status << " " << response.body;
      }
      if (success) ++allowed_successes;
    }
  }
  EXPECT_EQ(unexpected, 0);
  // The probe is not vacuous: allowed calls do succeed.
  EXPECT_GE(allowed_successes, 20) << "of " << checked;
  std::cout << checked << " calls, " << allowed_successes << " allowed successes, " << unexpected
            << " unexpected\n";
}

TEST_F(ApiRoutesTest, WithoutAValidSessionEveryEndpointButTheOpenOnesIs401) {  // R-ACC-4
  const std::string token = TokenFor(Role::kInfoManager);
  const std::string channel_like = "cvk_" + std::string(64, '0');
  env_.AdvanceMicros(9LL * 3600 * 1'000'000);  // past the absolute session lifetime (8 h)
  for (const RouteInfo& route : router_.Routes()) {
    if (route.pattern == "/healthz" || route.pattern == "/api/v1/auth/login") continue;
    // Customer self-service takes no bearer token (R-SELF-1).
    if (route.pattern.rfind("/api/v1/self-service/", 0) == 0) continue;
    std::string path = route.pattern;
    if (const size_t at = path.find("{id}"); at != std::string::npos)
      path.replace(at, 4, "C20261129000001");
    for (const std::string& credential :
         {std::string(), std::string("cvs_bogus"), channel_like, token}) {
      const Response response = Call(route.method, path, "{}", credential);
      EXPECT_EQ(response.status, 401)
          << route.method << " " << route.pattern << " with "
          << (credential == token ? "an expired session" : "a bad token");
    }
  }
}

TEST_F(ApiRoutesTest, CreateThenGetAnswersTheDocumentedShape) {
  const Response created =
      Call("POST", "/api/v1/customers", R"({"name":"张三","phone":"13812345678"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const json::object customer = json::parse(created.body).as_object();
  for (const char* key : {"id", "fields", "tags", "created_at", "updated_at"}) {
    EXPECT_TRUE(customer.contains(key)) << key;
  }
  EXPECT_EQ(customer.at("fields").at("phone").as_string(), "138****5678");
  const std::string id(customer.at("id").as_string());
  const Response got = Call("GET", "/api/v1/customers/" + id);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(json::parse(got.body).at("fields"), customer.at("fields"));
}

TEST_F(ApiRoutesTest, RevealWithoutReasonIsRefusedAndWithOneAnswersNoStore) {  // R-MASK-1
  const Response created =
      Call("POST", "/api/v1/customers", R"({"name":"张三","phone":"13812345678"})");
  ASSERT_EQ(created.status, 201);
  const std::string id(json::parse(created.body).at("id").as_string());
  const Response no_reason =
      Call("POST", "/api/v1/customers/" + id + "/reveal", R"({"fields":["phone"]})");
  EXPECT_EQ(no_reason.status, 422);
  const Response revealed =
      Call("POST", "/api/v1/customers/" + id + "/reveal",
           R"({"fields":["phone"],"reason":"customer asked for a callback"})");
  ASSERT_EQ(revealed.status, 200) << revealed.body;
  EXPECT_EQ(json::parse(revealed.body).at("fields").at("phone").as_string(), "13812345678");
  bool no_store = false;
  for (const auto& [name, value] : revealed.headers)
    no_store |= name == "Cache-Control" && value == "no-store";
  EXPECT_TRUE(no_store);
}

TEST_F(ApiRoutesTest, ValidationErrorsUseTheErrorShapeWithDetails) {  // R-CAT-4
  const Response r = Call("POST", "/api/v1/customers", R"({"name":"张三","phone":"12"})");
  ASSERT_EQ(r.status, 422);
  const json::value error = json::parse(r.body).at("error");
  EXPECT_EQ(error.at("code").as_string(), "validation_failed");
  EXPECT_EQ(error.at("details").at(0).at("field").as_string(), "phone");
  EXPECT_EQ(r.body.find("\"12\""), std::string::npos);
}

// Issue 10.12: every refusal of a customer-scoped route records the
// customer asked for (an id, not personal data), whichever check refused it.
TEST_F(ApiRoutesTest, Issue10_12_DeniedCustomerRoutesRecordTheCustomerAskedFor) {
  const Response created =
      Call("POST", "/api/v1/customers", R"({"name":"张三","phone":"13812345678"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id(json::parse(created.body).at("id").as_string());
  struct Denied {
    Role role;
    const char* method;
    std::string path;
    const char* body;
  };
  const std::string base = "/api/v1/customers/" + id;
  const std::vector<Denied> denied = {
      {Role::kEntryClerk, "DELETE", base, ""},
      {Role::kAuditor, "GET", base, ""},
      {Role::kDeptHead, "PATCH", base, R"({"phone":"13900001111"})"},
      // Allowed to update, not this field class: refused by the field check.
      {Role::kEntryClerk, "PATCH", base, R"({"bank_account":"6222020200112233445"})"},
      {Role::kEntryClerk, "POST", base + "/reveal", R"({"fields":["phone"],"reason":"x"})"},
      {Role::kDeptHead, "POST", base + "/reveal", R"({"fields":["phone"],"reason":"x"})"},
      {Role::kEntryClerk, "GET", base + "/transactions", ""},
      {Role::kEntryClerk, "POST", base + "/complaints",
       R"({"opened_at":"2026-01-01T00:00:00Z","summary":"x"})"},
      {Role::kAuditor, "GET", base + "/cooperation", ""},
      {Role::kDeptHead, "POST", base + "/tags",
       R"({"dimension":"risk","value":"high","reason":"x"})"},
  };
  service::Actor local;
  local.kind = service::ActorKind::kLocalOperator;
  local.id = "cli:test";
  local.ip = "local";
  service::AuditSearch search;
  search.operation = "access.denied";
  search.customer_id = id;
  search.limit = 1000;
  size_t before = 0;
  for (const Denied& d : denied) {
    const Response response = Call(d.method, d.path, d.body, TokenFor(d.role));
    EXPECT_EQ(response.status, 403) << d.method << " " << d.path << " " << response.body;
    Result<service::AuditEntryPage> page = vault_->audit().Search(local, search);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_EQ(page->items.size(), before + 1) << d.method << " " << d.path;
    before = page->items.size();
  }
}

// Issue 10.12: a reveal records the fields asked for as well as those
// returned (names only).
TEST_F(ApiRoutesTest, Issue10_12_RevealRecordsFieldsAskedAndReturned) {
  const Response created =
      Call("POST", "/api/v1/customers", R"({"name":"张三","phone":"13812345678"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id(json::parse(created.body).at("id").as_string());
  const Response revealed = Call("POST", "/api/v1/customers/" + id + "/reveal",
                                 R"({"fields":["phone","email"],"reason":"callback"})");
  ASSERT_EQ(revealed.status, 200) << revealed.body;
  service::Actor local;
  local.kind = service::ActorKind::kLocalOperator;
  local.id = "cli:test";
  local.ip = "local";
  service::AuditSearch search;
  search.operation = "customer.reveal";
  search.customer_id = id;
  Result<service::AuditEntryPage> page = vault_->audit().Search(local, search);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 1u);
  const json::object details = json::parse(page->items[0].details).as_object();
  EXPECT_EQ(details.at("fields"), json::parse(R"(["phone"])"));
  EXPECT_EQ(details.at("fields_asked"), json::parse(R"(["email","phone"])"));
  EXPECT_EQ(page->items[0].details.find("13812345678"), std::string::npos);
}

// Issue 10.1 over HTTP: a spent search budget answers 429 with
// Retry-After, a locked search 423 (api-conventions), a security officer
// lists and clears the lock.
TEST_F(ApiRoutesTest, Issue10_1_SearchBudgetAnswers429ThenLocked423UntilCleared) {
  const std::string clerk = TokenFor(Role::kEntryClerk);
  int ok = 0, limited = 0, locked = 0, requests = 0;
  for (int i = 0; i < 1235 && locked == 0; ++i) {
    ++requests;
    char body[64];
    std::snprintf(body, sizeof body, R"({"phone":"139%04d5678"})", i);
    const Response r = Call("POST", "/api/v1/customers/search", body, clerk);
    if (r.status == 200) {
      ++ok;
    } else if (r.status == 429) {
      ++limited;
      bool retry_after = false;
      for (const auto& [name, value] : r.headers) retry_after |= name == "Retry-After" && !value.empty();
      EXPECT_TRUE(retry_after);
      EXPECT_EQ(json::parse(r.body).at("error").at("code").as_string(), "rate_limited");
    } else {
      ASSERT_EQ(r.status, 423) << r.body;
      ++locked;
    }
  }
  EXPECT_EQ(ok, 20);  // search.misses_max by default
  EXPECT_EQ(limited, 9);
  EXPECT_EQ(locked, 1);
  EXPECT_EQ(requests, 30);
  const std::string security = TokenFor(Role::kSecurityOfficer);
  const Response list = Call("GET", "/api/v1/search-locks", "", security);
  ASSERT_EQ(list.status, 200) << list.body;
  const json::array items = json::parse(list.body).at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  const std::string account(items[0].at("account_id").as_string());
  EXPECT_EQ(Call("POST", "/api/v1/search-locks/" + account + "/clear", R"({"reason":"ok"})", clerk)
                .status,
            403);
  EXPECT_EQ(Call("POST", "/api/v1/search-locks/" + account + "/clear", R"({"reason":"checked"})",
                 security)
                .status,
            204);
  EXPECT_EQ(Call("POST", "/api/v1/customers/search", R"({"phone":"13900005678"})", clerk).status,
            200);
}

}  // namespace
}  // namespace custvault::http
