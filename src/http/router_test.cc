#include "http/router.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <stdexcept>

namespace custvault::http {
namespace {

std::string HeaderOf(const Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

std::string ErrorCodeOf(const Response& response) {
  return std::string(boost::json::parse(response.body).at("error").at("code").as_string());
}

Response Text(std::string body) {
  Response response;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

Request Make(std::string method, std::string target) {
  Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  return request;
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router_.Add("GET", "/healthz", [](Request&) { return Text("ok"); });
    router_.Add("GET", "/api/v1/customers", [](Request&) { return Text("list"); });
    router_.Add("POST", "/api/v1/customers", [](Request&) { return Text("create"); });
    router_.Add("GET", "/api/v1/customers/{id}",
                [](Request& r) { return Text("get " + r.path_params.at("id")); });
    router_.Add("PATCH", "/api/v1/customers/{id}",
                [](Request& r) { return Text("patch " + r.path_params.at("id")); });
    router_.Add("DELETE", "/api/v1/customers/{id}",
                [](Request& r) { return Text("delete " + r.path_params.at("id")); });
    router_.Add("POST", "/api/v1/customers/search", [](Request&) { return Text("search"); });
    router_.Add("POST", "/api/v1/customers/{id}/reveal",
                [](Request& r) { return Text("reveal " + r.path_params.at("id")); });
    router_.Add("GET", "/api/v1/things/{a}/{b}", [](Request& r) {
      return Text(r.path_params.at("a") + "|" + r.path_params.at("b"));
    });
    router_.Add("GET", "/echo", [](Request& r) {
      std::string out = r.path;
      for (const auto& [key, value] : r.query) out += "|" + key + "=" + value;
      return Text(out);
    });
    router_.Add("GET", "/boom", [](Request&) -> Response {
      throw std::runtime_error("phone 13812345678 broke it");
    });
  }

  Response Run(const std::string& method, const std::string& target) {
    Request request = Make(method, target);
    return router_.Dispatch(request);
  }

  Router router_;
};

TEST_F(RouterTest, LiteralRouteMatches) {
  const Response response = Run("GET", "/healthz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok");
}

TEST_F(RouterTest, PlaceholdersFillPathParams) {
  EXPECT_EQ(Run("GET", "/api/v1/customers/C20261129123456").body, "get C20261129123456");
  EXPECT_EQ(Run("POST", "/api/v1/customers/C1/reveal").body, "reveal C1");
  EXPECT_EQ(Run("GET", "/api/v1/things/x/y").body, "x|y");
  EXPECT_EQ(Run("PATCH", "/api/v1/customers/C2").body, "patch C2");
}

TEST_F(RouterTest, LiteralSegmentWinsOverPlaceholder) {
  EXPECT_EQ(Run("POST", "/api/v1/customers/search").body, "search");
  // GET on the same path is the {id} route: "search" is just an id there.
  EXPECT_EQ(Run("GET", "/api/v1/customers/search").body, "get search");
}

TEST_F(RouterTest, NoMatchingPathIs404InTheErrorShape) {
  for (const char* target : {"/nope", "/api/v1", "/api/v1/customers/C1/unknown", "/healthz/x", "/",
                             "/api/v1/customers/"}) {
    SCOPED_TRACE(target);
    const Response response = Run("GET", target);
    EXPECT_EQ(response.status, 404);
    EXPECT_EQ(ErrorCodeOf(response), "not_found");
  }
}

TEST_F(RouterTest, EmptySegmentNeverFillsAPlaceholder) {
  EXPECT_EQ(Run("GET", "/api/v1/things//y").status, 404);
}

TEST_F(RouterTest, WrongMethodIs405WithAllowHeader) {
  const Response response = Run("PUT", "/api/v1/customers/C1");
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(HeaderOf(response, "Allow"), "DELETE, GET, PATCH");
  EXPECT_EQ(ErrorCodeOf(response), "method_not_allowed");

  const Response list = Run("DELETE", "/api/v1/customers");
  EXPECT_EQ(list.status, 405);
  EXPECT_EQ(HeaderOf(list, "Allow"), "GET, POST");
}

TEST_F(RouterTest, PathSegmentsArePercentDecoded) {
  EXPECT_EQ(Run("GET", "/api/v1/customers/C%31").body, "get C1");
  // An encoded slash stays inside its segment: it does not create a new one.
  EXPECT_EQ(Run("GET", "/api/v1/customers/a%2Fb").body, "get a/b");
  // UTF-8 decodes.
  EXPECT_EQ(Run("GET", "/api/v1/customers/%E5%BC%A0").body, "get 张");
  // Literal segments match after decoding.
  EXPECT_EQ(Run("GET", "/%68ealthz").body, "ok");
  // '+' is not a space in a path.
  EXPECT_EQ(Run("GET", "/api/v1/customers/a+b").body, "get a+b");
}

TEST_F(RouterTest, BadEscapesInThePathAre400) {
  for (const char* target :
       {"/api/v1/customers/%00", "/api/v1/customers/%", "/api/v1/customers/%4",
        "/api/v1/customers/%zz", "/api/v1/customers/%0a", "/api/v1/customers/%7F",
        "/api/v1/customers/%ff", "/api/v1/customers/%C0%AF", "/api/v1/customers/%ED%A0%80"}) {
    SCOPED_TRACE(target);
    const Response response = Run("GET", target);
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(ErrorCodeOf(response), "bad_request");
  }
}

TEST_F(RouterTest, TargetThatIsNotAnAbsolutePathIs400) {
  EXPECT_EQ(Run("GET", "healthz").status, 400);
  EXPECT_EQ(Run("GET", "http://example.com/healthz").status, 400);
  EXPECT_EQ(Run("OPTIONS", "*").status, 400);
}

TEST_F(RouterTest, TooManyPathSegmentsIs400) {
  std::string target;
  for (int i = 0; i <= kPathSegmentsMax; ++i) target += "/a";
  EXPECT_EQ(Run("GET", target).status, 400);
}

TEST_F(RouterTest, QueryStringIsParsedAndDecoded) {
  EXPECT_EQ(Run("GET", "/echo?limit=20&tag=value_tier%3Avip&q=a+b%2Bc&flag&empty=").body,
            "/echo|empty=|flag=|limit=20|q=a b+c|tag=value_tier:vip");
  EXPECT_EQ(Run("GET", "/echo?a=1&&b=2&").body, "/echo|a=1|b=2");
  EXPECT_EQ(Run("GET", "/echo?").body, "/echo");
  EXPECT_EQ(Run("GET", "/echo?name=%E5%BC%A0%E4%B8%89").body, "/echo|name=张三");
}

TEST_F(RouterTest, BadQueryStringsAre400) {
  for (const char* target : {"/echo?a=%00", "/echo?a=%", "/echo?a=%g1", "/echo?%00=1",
                             "/echo?a=1&a=2", "/echo?=1", "/echo?a=%ff"}) {
    SCOPED_TRACE(target);
    EXPECT_EQ(Run("GET", target).status, 400);
  }
}

TEST_F(RouterTest, QueryParameterCountIsLimited) {
  std::string target = "/echo?";
  for (int i = 0; i < kQueryParamsMax; ++i) target += "p" + std::to_string(i) + "=1&";
  EXPECT_EQ(Run("GET", target).status, 200);
  target += "one_more=1";
  EXPECT_EQ(Run("GET", target).status, 400);
}

TEST_F(RouterTest, ThrowingHandlerIs500WithoutDetail) {
  const Response response = Run("GET", "/boom");
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(ErrorCodeOf(response), "internal");
  EXPECT_EQ(response.body.find("138"), std::string::npos);
  EXPECT_EQ(response.body.find("broke"), std::string::npos);
}

TEST_F(RouterTest, RequestBuiltWithoutTargetMatchesOnPath) {
  Request request;
  request.method = "GET";
  request.path = "/api/v1/customers/C9";
  EXPECT_EQ(router_.Dispatch(request).body, "get C9");
  EXPECT_EQ(request.path_params.at("id"), "C9");
}

TEST_F(RouterTest, DispatchSetsDecodedPathAndQuery) {
  Request request = Make("GET", "/echo?x=%41");
  router_.Dispatch(request);
  EXPECT_EQ(request.path, "/echo");
  EXPECT_EQ(request.query.at("x"), "A");
}

// Issue 11.1: the cost class given at registration is what the server uses
// to choose the pool, matched like Dispatch matches.
TEST_F(RouterTest, ClassOfFindsTheRouteClassGivenAtRegistration_Issue11_1) {
  router_.Add("POST", "/api/v1/rules/dry-run", [](Request&) { return Text("dry"); },
              RouteClass::kExpensive);
  router_.Add("GET", "/api/v1/exports/{id}", [](Request&) { return Text("export"); },
              RouteClass::kExpensive);
  EXPECT_EQ(router_.ClassOf("POST", "/api/v1/rules/dry-run"), RouteClass::kExpensive);
  EXPECT_EQ(router_.ClassOf("POST", "/api/v1/rules/dry-run?x=1"), RouteClass::kExpensive);
  EXPECT_EQ(router_.ClassOf("POST", "/api/v1/rules/%64ry-run"), RouteClass::kExpensive);
  EXPECT_EQ(router_.ClassOf("GET", "/api/v1/exports/e1"), RouteClass::kExpensive);
  EXPECT_EQ(router_.ClassOf("GET", "/api/v1/rules/dry-run"), RouteClass::kNormal);  // 405
  EXPECT_EQ(router_.ClassOf("GET", "/api/v1/customers/C1"), RouteClass::kNormal);
  EXPECT_EQ(router_.ClassOf("GET", "/nowhere"), RouteClass::kNormal);
  EXPECT_EQ(router_.ClassOf("GET", "not-a-path"), RouteClass::kNormal);
  const std::vector<RouteInfo> routes = router_.Routes();
  EXPECT_EQ(routes.back().route_class, RouteClass::kExpensive);
  EXPECT_EQ(routes.front().route_class, RouteClass::kNormal);
}

TEST_F(RouterTest, RoutesListsEveryRegistration) {
  const std::vector<RouteInfo> routes = router_.Routes();
  ASSERT_EQ(routes.size(), 11u);
  EXPECT_EQ(routes[0].method, "GET");
  EXPECT_EQ(routes[0].pattern, "/healthz");
  EXPECT_EQ(routes[7].method, "POST");
  EXPECT_EQ(routes[7].pattern, "/api/v1/customers/{id}/reveal");
}

TEST(ParseTargetTest, SplitsPathAndQuery) {
  Request request;
  request.target = "/a%20b/c?x=1+2";
  ASSERT_TRUE(ParseTarget(request).ok());
  EXPECT_EQ(request.path, "/a b/c");
  EXPECT_EQ(request.query.at("x"), "1 2");
  request.target = "/a?x=%zz";
  EXPECT_EQ(ParseTarget(request).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace custvault::http
