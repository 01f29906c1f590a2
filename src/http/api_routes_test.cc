#include "http/api_routes.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "service/test_vault.h"

namespace custvault::http {
namespace {

namespace json = boost::json;

class ApiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<service::Vault>> vault =
        service::Vault::Open(Env::Default(), dir_.path(), {});
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    RegisterApiRoutes(router_, *vault_);
  }

  Response Call(const std::string& method, const std::string& path, const std::string& body = "",
                bool authenticated = true) {
    Request request;
    request.method = method;
    request.target = path;
    request.path = path;
    request.body = body;
    request.peer_ip = "127.0.0.1";
    if (authenticated) request.headers["authorization"] = "Bearer " + dir_.token();
    return router_.Dispatch(request);
  }

  service::TestDataDir dir_;
  std::unique_ptr<service::Vault> vault_;
  Router router_;
};

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

TEST_F(ApiRoutesTest, EveryRouteButHealthzNeedsTheToken) {
  for (const RouteInfo& route : router_.Routes()) {
    std::string path = route.pattern;
    const size_t brace = path.find("{id}");
    if (brace != std::string::npos) path.replace(brace, 4, "C20261129000001");
    const Response response = Call(route.method, path, "{}", /*authenticated=*/false);
    if (route.pattern == "/healthz") {
      EXPECT_EQ(response.status, 200);
    } else {
      EXPECT_EQ(response.status, 401) << route.method << " " << route.pattern;
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

TEST_F(ApiRoutesTest, ValidationErrorsUseTheErrorShapeWithDetails) {  // R-CAT-4
  const Response r = Call("POST", "/api/v1/customers", R"({"name":"张三","phone":"12"})");
  ASSERT_EQ(r.status, 422);
  const json::value error = json::parse(r.body).at("error");
  EXPECT_EQ(error.at("code").as_string(), "validation_failed");
  EXPECT_EQ(error.at("details").at(0).at("field").as_string(), "phone");
  EXPECT_EQ(r.body.find("\"12\""), std::string::npos);
}

}  // namespace
}  // namespace custvault::http
