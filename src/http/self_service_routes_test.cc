// R-SELF-1 through the router: no bearer token, limits on every member,
// the same body for every refusal, Retry-After on 429, no-store.
#include "http/self_service_routes.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/fake_env.h"
#include "service/test_vault.h"

namespace custvault::http {
namespace {

namespace json = boost::json;

class RecordingGateway final : public service::SmsGateway {
 public:
  explicit RecordingGateway(std::vector<std::string>* messages) : messages_(messages) {}
  Status Send(const std::string&, const std::string& message) override {
    messages_->push_back(message);
    return Status::Ok();
  }

 private:
  std::vector<std::string>* messages_;
};

class SelfServiceRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<service::Vault>> vault =
        service::Vault::Open(&env_, dir_.path(), service::FastAuthEnvironment());
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    RegisterSelfServiceRoutes(router_, *vault_);
    vault_->self_service().SetSmsGateway(std::make_unique<RecordingGateway>(&messages_));
    service::TestStaff staff(vault_->accounts(), dir_);
    Result<service::Actor> clerk = staff.ActorFor(service::Role::kEntryClerk);
    ASSERT_TRUE(clerk.ok());
    Result<service::CustomerView> created = vault_->customers().Create(
        *clerk, {{"name", "张三"}, {"id_number", "11010519491231002X"}, {"phone", "13812345678"}});
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    customer_id_ = created->id;
  }

  // The vault first: closing it sends what is still queued to the
  // recording gateway, whose list must still exist.
  void TearDown() override { vault_.reset(); }

  Response Post(const std::string& path, const std::string& body,
                const std::string& ip = "203.0.113.7") {
    Request request;
    request.method = "POST";
    request.target = path;
    request.body = body;
    request.peer_ip = ip;
    return router_.Dispatch(request);
  }

  Response Start(const std::string& customer_id, const std::string& last4,
                 const std::string& ip = "203.0.113.7") {
    return Post("/api/v1/self-service/challenges",
                json::serialize(json::object{
                    {"customer_id", customer_id}, {"id_last4", last4}, {"phone", "13812345678"}}),
                ip);
  }

  // The 6 digits after "Your code is " in the last message (no std::regex:
  // GCC 12 warns inside it under the sanitizer build).
  std::string LastCode() {
    vault_->self_service().FlushMessages();
    if (messages_.empty()) return "";
    const std::string marker = "Your code is ";
    const size_t at = messages_.back().find(marker);
    return at == std::string::npos ? "" : messages_.back().substr(at + marker.size(), 6);
  }

  // The body with the challenge id ("ch_" + 32 hex) replaced by "ID".
  static std::string WithoutChallengeId(const std::string& body) {
    const size_t at = body.find("\"ch_");
    if (at == std::string::npos || body.size() < at + 36) return body;
    return body.substr(0, at + 1) + "ID" + body.substr(at + 1 + 35);
  }

  static bool NoStore(const Response& response) {
    for (const auto& [name, value] : response.headers) {
      if (name == "Cache-Control" && value == "no-store") return true;
    }
    return false;
  }

  FakeEnv env_{Env::Default()->NowMicros()};
  service::TestDataDir dir_{service::FastAuthEnvironment()};
  std::unique_ptr<service::Vault> vault_;
  Router router_;
  std::vector<std::string> messages_;
  std::string customer_id_;
};

TEST_F(SelfServiceRoutesTest, TheWholeFlowWorksWithoutABearerToken) {
  const Response started = Start(customer_id_, "002X");
  ASSERT_EQ(started.status, 202) << started.body;
  EXPECT_TRUE(NoStore(started));
  const json::object answer = json::parse(started.body).as_object();
  EXPECT_EQ(answer.size(), 2u);
  EXPECT_EQ(answer.at("expires_in").as_int64(), 300);
  const std::string id(answer.at("challenge_id").as_string());
  const Response verified = Post("/api/v1/self-service/challenges/" + id + "/verify",
                                 R"({"code":")" + LastCode() + R"("})");
  ASSERT_EQ(verified.status, 200) << verified.body;
  EXPECT_TRUE(NoStore(verified));
  const std::string token(json::parse(verified.body).at("token").as_string());
  const Response changed = Post("/api/v1/self-service/changes",
                                R"({"token":")" + token + R"(","address":"上海市浦东新区世纪大道100号"})");
  ASSERT_EQ(changed.status, 200) << changed.body;
  const json::value body = json::parse(changed.body);
  EXPECT_EQ(body.at("customer_id").as_string(), customer_id_);
  EXPECT_EQ(body.at("fields").at("address").as_string(), "上海市浦东新区****");
  EXPECT_EQ(changed.body.find("世纪大道"), std::string::npos);
}

TEST_F(SelfServiceRoutesTest, DecoyStartsAnswerTheSameShape) {
  const Response real = Start(customer_id_, "002X");
  const Response wrong = Start(customer_id_, "1234");
  const Response unknown = Start("C20000101000001", "002X");
  for (const Response* r : {&real, &wrong, &unknown}) {
    ASSERT_EQ(r->status, 202) << r->body;
    EXPECT_EQ(WithoutChallengeId(r->body), R"({"challenge_id":"ID","expires_in":300})");
    const std::string id(json::parse(r->body).at("challenge_id").as_string());
    EXPECT_EQ(id.size(), 35u);
  }
  vault_->self_service().FlushMessages();
  EXPECT_EQ(messages_.size(), 1u);
}

TEST_F(SelfServiceRoutesTest, EveryVerifyRefusalHasTheSameStatusAndBody) {
  const std::string real(json::parse(Start(customer_id_, "002X").body).at("challenge_id").as_string());
  const std::string code = LastCode();
  const std::string wrong_code = code == "000000" ? "000001" : "000000";
  const std::string decoy(json::parse(Start(customer_id_, "1234").body).at("challenge_id").as_string());
  const std::vector<Response> refusals = {
      Post("/api/v1/self-service/challenges/" + real + "/verify", R"({"code":")" + wrong_code + "\"}"),
      Post("/api/v1/self-service/challenges/" + decoy + "/verify", R"({"code":")" + code + "\"}"),
      Post("/api/v1/self-service/challenges/ch_" + std::string(32, '0') + "/verify",
           R"({"code":"123456"})"),
      Post("/api/v1/self-service/challenges/nonsense/verify", R"({"code":"123456"})"),
  };
  for (const Response& r : refusals) {
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, refusals[0].body);
  }
  EXPECT_EQ(json::parse(refusals[0].body).at("error").at("code").as_string(), "unauthenticated");
}

TEST_F(SelfServiceRoutesTest, RateLimitedStartsAnswer429WithRetryAfter) {
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Start("C20000101000001", "0000").status, 202);
  const Response limited = Start("C20000101000001", "0000");
  EXPECT_EQ(limited.status, 429);
  std::string retry_after;
  for (const auto& [name, value] : limited.headers) {
    if (name == "Retry-After") retry_after = value;
  }
  EXPECT_EQ(retry_after, "3600");
  EXPECT_EQ(json::parse(limited.body).at("error").at("code").as_string(), "rate_limited");
}

TEST_F(SelfServiceRoutesTest, EveryMemberHasALimitAndUnknownMembersAreRefused) {
  const Response big = Post("/api/v1/self-service/challenges",
                            R"({"customer_id":")" + std::string(5000, 'C') + "\"}");
  EXPECT_EQ(big.status, 413);
  const Response members =
      Post("/api/v1/self-service/challenges",
           R"({"customer_id":")" + std::string(40, 'C') +
               R"(","id_last4":1234,"phone":"13812345678","name":"张三"})");
  ASSERT_EQ(members.status, 422) << members.body;
  std::map<std::string, std::string> reasons;
  const json::value parsed = json::parse(members.body);
  for (const json::value& d : parsed.at("error").at("details").as_array()) {
    reasons[std::string(d.at("field").as_string())] = std::string(d.at("reason").as_string());
  }
  EXPECT_EQ(reasons, (std::map<std::string, std::string>{
                         {"customer_id", "too_long"}, {"id_last4", "type"}, {"name", "unknown_field"}}));
  // Only phone and address can be changed: anything else is refused by name.
  const Response change = Post("/api/v1/self-service/changes",
                               R"({"token":"sst_x","name":"李四","id_number":"110105194912310029"})");
  ASSERT_EQ(change.status, 422);
  EXPECT_NE(change.body.find("\"name\""), std::string::npos);
  EXPECT_NE(change.body.find("\"id_number\""), std::string::npos);
  EXPECT_EQ(change.body.find("110105194912310029"), std::string::npos);
  EXPECT_EQ(Post("/api/v1/self-service/changes", "not json").status, 400);
}

}  // namespace
}  // namespace custvault::http
