#include "http/message.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

namespace custvault::http {
namespace {

std::string HeaderOf(const Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

boost::json::object ErrorObject(const Response& response) {
  return boost::json::parse(response.body).as_object().at("error").as_object();
}

TEST(HttpStatusForTest, EveryErrorCodeHasItsStatus) {
  EXPECT_EQ(HttpStatusFor(ErrorCode::kOk), 200);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kConflict), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kValidationFailed), 422);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kLocked), 423);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kRateLimited), 429);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kDataLoss), 500);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInternal), 500);
}

struct ErrorCase {
  ErrorCode code;
  int http_status;
  const char* api_code;
};

TEST(ErrorResponseTest, ClientErrorsKeepTheirMessageAndStableCode) {
  const ErrorCase cases[] = {
      {ErrorCode::kInvalidArgument, 400, "bad_request"},
      {ErrorCode::kUnauthenticated, 401, "unauthenticated"},
      {ErrorCode::kPermissionDenied, 403, "forbidden"},
      {ErrorCode::kNotFound, 404, "not_found"},
      {ErrorCode::kConflict, 409, "conflict"},
      {ErrorCode::kTooLarge, 413, "too_large"},
      {ErrorCode::kValidationFailed, 422, "validation_failed"},
      {ErrorCode::kLocked, 423, "locked"},
      {ErrorCode::kRateLimited, 429, "rate_limited"},
      {ErrorCode::kUnavailable, 503, "unavailable"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.api_code);
    const Response response = ErrorResponse(Status(c.code, "the reason"));
    EXPECT_EQ(response.status, c.http_status);
    EXPECT_EQ(response.content_type, "application/json");
    const boost::json::object error = ErrorObject(response);
    EXPECT_EQ(error.at("code").as_string(), c.api_code);
    EXPECT_EQ(error.at("message").as_string(), "the reason");
    EXPECT_FALSE(error.contains("details"));  // only when present
    EXPECT_EQ(error.size(), 2u);
  }
}

TEST(ErrorResponseTest, ValidationDetailsNameFieldAndReason) {
  const Response response = ErrorResponse(Status(ErrorCode::kValidationFailed, "invalid fields",
                                                 {{"id_number", "checksum"}, {"phone", "format"}}));
  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(response.body, R"({"error":{"code":"validation_failed","message":"invalid fields",)"
                           R"("details":[{"field":"id_number","reason":"checksum"},)"
                           R"({"field":"phone","reason":"format"}]}})");
}

TEST(ErrorResponseTest, UnavailableSaysWhenToRetry) {
  const Response response = ErrorResponse(Unavailable("busy"));
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(HeaderOf(response, "Retry-After"), "1");
}

// Issue 10.13: every 429 says when to come back, like every 503.
TEST(ErrorResponseTest, RateLimitedSaysWhenToRetry_Issue10_13) {
  const Response response = ErrorResponse(Status(ErrorCode::kRateLimited, "slow down"));
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(HeaderOf(response, "Retry-After"), "1");
}

// Issue 10.11: 80,000 bad fields make an answer of 100 details and a count,
// not megabytes.
TEST(ErrorResponseTest, DetailsAreCappedWithTheNumberLeftOut_Issue10_11) {
  std::vector<FieldError> errors;
  for (int i = 0; i < 80'000; ++i) errors.push_back({"k" + std::to_string(i), "unknown_field"});
  const Response response =
      ErrorResponse(Status(ErrorCode::kValidationFailed, "invalid fields", std::move(errors)));
  EXPECT_EQ(response.status, 422);
  const boost::json::object error = ErrorObject(response);
  const boost::json::array& details = error.at("details").as_array();
  ASSERT_EQ(details.size(), kErrorDetailsShownMax);
  EXPECT_EQ(details[0].at("field").as_string(), "k0");
  EXPECT_EQ(details[99].at("field").as_string(), "k99");
  EXPECT_EQ(error.at("details_truncated").to_number<int64_t>(), 80'000 - 100);
  EXPECT_LT(response.body.size(), 8'000u);
  // Exactly the cap: no count.
  std::vector<FieldError> hundred(100, FieldError{"f", "type"});
  const Response at_cap =
      ErrorResponse(Status(ErrorCode::kValidationFailed, "invalid fields", std::move(hundred)));
  EXPECT_FALSE(ErrorObject(at_cap).contains("details_truncated"));
  EXPECT_EQ(ErrorObject(at_cap).at("details").as_array().size(), 100u);
}

TEST(ErrorResponseTest, InternalMessageIsNeverShownToClients) {
  const Response response = ErrorResponse(
      Status(ErrorCode::kInternal, "sqlite: /var/lib/secret.db locked", {{"x", "y"}}));
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body.find("sqlite"), std::string::npos);
  EXPECT_EQ(response.body.find("secret"), std::string::npos);
  const boost::json::object error = ErrorObject(response);
  EXPECT_EQ(error.at("code").as_string(), "internal");
  EXPECT_EQ(error.at("message").as_string(), "internal error");
  EXPECT_FALSE(error.contains("details"));
}

TEST(ErrorResponseTest, DataLossIsDataIntegrityWithAGenericMessage) {
  const Response response = ErrorResponse(DataLoss("tag mismatch on customer C1 field phone"));
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body.find("C1"), std::string::npos);
  EXPECT_EQ(response.body.find("tag"), std::string::npos);
  const boost::json::object error = ErrorObject(response);
  EXPECT_EQ(error.at("code").as_string(), "data_integrity");
  EXPECT_EQ(error.at("message").as_string(), "data integrity check failed");
}

TEST(ErrorResponseTest, OkStatusBecomesInternalNot200) {
  const Response response = ErrorResponse(Status::Ok());
  EXPECT_EQ(response.status, 500);
}

TEST(JsonResponseTest, SerialisesBodyWithStatus) {
  const Response response = JsonResponse(201, boost::json::object{{"id", "C1"}});
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"id":"C1"})");
}

TEST(RequestTest, HeaderLookupIsByLowerCaseNameAndEmptyWhenMissing) {
  Request request;
  request.headers["authorization"] = "Bearer x";
  EXPECT_EQ(request.Header("authorization"), "Bearer x");
  EXPECT_EQ(request.Header("x-missing"), "");
}

Request WithBody(std::string body) {
  Request request;
  request.body = std::move(body);
  return request;
}

TEST(ParseJsonBodyTest, ParsesAnObject) {
  auto parsed = ParseJsonBody(WithBody(R"({"name":"张三","n":[1,2,{"a":null}]})"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->at("name").as_string(), "张三");
  // A copy outlives the original and its arena (shared storage).
  boost::json::value copy;
  {
    auto again = ParseJsonBody(WithBody(R"({"k":"v"})"));
    ASSERT_TRUE(again.ok());
    copy = again->at("k");
  }
  EXPECT_EQ(copy.as_string(), "v");
}

TEST(ParseJsonBodyTest, BadJsonIsBadRequestWithoutEchoingTheBody) {
  for (const char* body : {"", "{", "{\"phone\":\"13812345678\"", "not json", "{\"a\":1,}",
                           "{\"a\":1} trailing", "{/*c*/\"a\":1}", "\"\xff\""}) {
    SCOPED_TRACE(body);
    auto parsed = ParseJsonBody(WithBody(body));
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message().find("138"), std::string::npos);
    const Response response = ErrorResponse(parsed.status());
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.body.find("138"), std::string::npos);
  }
}

TEST(ParseJsonBodyTest, NonObjectIsRefusedOnlyWhenAnObjectIsRequired) {
  EXPECT_EQ(ParseJsonBody(WithBody("[1,2]")).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseJsonBody(WithBody("42")).status().code(), ErrorCode::kInvalidArgument);
  auto array = ParseJsonBody(WithBody("[1,2]"), /*require_object=*/false);
  ASSERT_TRUE(array.ok());
  EXPECT_TRUE(array->is_array());
}

TEST(ParseJsonBodyTest, NestingDeeperThanTheLimitIsRefused) {
  const std::string shallow = std::string(31, '[') + std::string(31, ']');
  EXPECT_TRUE(ParseJsonBody(WithBody(shallow), false).ok());
  const std::string deep = std::string(33, '[') + std::string(33, ']');
  auto parsed = ParseJsonBody(WithBody(deep), false);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument);
  // Far deeper input fails the same way, without exhausting the stack.
  const std::string very_deep = std::string(100000, '[');
  EXPECT_FALSE(ParseJsonBody(WithBody(very_deep), false).ok());
}

// Issue 10.13: a repeated member name is ambiguous (Boost.JSON keeps the
// last; a filter may have looked at the first): refused at any depth.
TEST(ParseJsonBodyTest, RepeatedMemberNamesAreRefusedAtAnyDepth_Issue10_13) {
  for (const std::string body : {
           R"({"phone":"13900000000","phone":"13911111111"})",
           R"({"a":1,"b":2,"a":3})",
           R"({"outer":{"x":1,"x":1}})",
           R"({"list":[{"k":1},{"k":2,"k":3}]})",
           R"({"\u0061":1,"a":2})",  // the same name, escaped
       }) {
    auto parsed = ParseJsonBody(WithBody(body));
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument) << body;
    EXPECT_EQ(parsed.status().message().find("1391"), std::string::npos);
  }
  // The same name in different objects is fine, and so are long keys.
  auto ok = ParseJsonBody(WithBody(
      R"({"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}],")" + std::string(5000, 'x') + R"(":1})"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->as_object().size(), 4u);
}

// Issue 10.11: a body as large as allowed and as dense as JSON gets still
// parses within the memory bound (the bound refuses nothing valid).
TEST(ParseJsonBodyTest, DenseLargeBodiesStillParse_Issue10_11) {
  std::string numbers = "{\"n\":[0";
  while (numbers.size() < (1u << 20) - 8) numbers += ",0";
  numbers += "]}";
  auto parsed = ParseJsonBody(WithBody(numbers));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  std::string keys = "{";
  for (int i = 0; i < 80'000; ++i) keys += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  keys += "}";
  auto many = ParseJsonBody(WithBody(keys));
  ASSERT_TRUE(many.ok()) << many.status().ToString();
  EXPECT_EQ(many->as_object().size(), 80'000u);
}

}  // namespace
}  // namespace custvault::http
