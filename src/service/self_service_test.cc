#include "service/self_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "audit/entry.h"
#include "common/fake_env.h"
#include "policy/policy.h"
#include "service/test_vault.h"

namespace custvault::service {
namespace {

constexpr char kIdNumber[] = "11010519491231002X";
constexpr char kPhone[] = "13812345678";
constexpr char kAddress[] = "北京市朝阳区建国路88号";
constexpr char kIp[] = "203.0.113.7";
constexpr int64_t kSecondUs = 1'000'000;

// (No std::regex: GCC 12 warns maybe-uninitialized inside it under the
// sanitizer build, and warnings are errors.)
// The 6 digits after "Your code is ", or "" when the text has none.
std::string CodeIn(const std::string& message) {
  const std::string marker = "Your code is ";
  const size_t at = message.find(marker);
  if (at == std::string::npos || message.size() < at + marker.size() + 7) return "";
  const std::string code = message.substr(at + marker.size(), 6);
  for (char c : code) {
    if (c < '0' || c > '9') return "";
  }
  return message[at + marker.size() + 6] == ',' ? code : "";
}

// prefix + exactly `hex` lower-case hex digits.
bool IsId(const std::string& text, const std::string& prefix, size_t hex) {
  if (text.size() != prefix.size() + hex || text.rfind(prefix, 0) != 0) return false;
  for (size_t i = prefix.size(); i < text.size(); ++i) {
    const char c = text[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

struct SentMessage {
  std::string phone;
  std::string message;
};

// Records what would have been sent; the test owns the list.
class RecordingGateway final : public SmsGateway {
 public:
  RecordingGateway(std::mutex* mutex, std::vector<SentMessage>* sent)
      : mutex_(mutex), sent_(sent) {}
  Status Send(const std::string& phone, const std::string& message) override {
    std::lock_guard lock(*mutex_);
    sent_->push_back({phone, message});
    return Status::Ok();
  }

 private:
  std::mutex* mutex_;
  std::vector<SentMessage>* sent_;
};

class SelfServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Open({}); }
  // The vault first: closing it sends what is still queued to the
  // recording gateway, whose list must still exist.
  void TearDown() override {
    staff_.reset();
    vault_.reset();
  }

  // recording: messages go to sent_ instead of the vault's own gateway.
  void Open(std::map<std::string, std::string> overrides, bool recording = true) {
    staff_.reset();
    vault_.reset();
    dir_ = std::make_unique<TestDataDir>(FastAuthEnvironment());
    Result<std::unique_ptr<Vault>> vault =
        Vault::Open(&env_, dir_->path(), FastAuthEnvironment(std::move(overrides)));
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::move(*vault);
    staff_ = std::make_unique<TestStaff>(vault_->accounts(), *dir_);
    if (recording) {
      vault_->self_service().SetSmsGateway(
          std::make_unique<RecordingGateway>(&sent_mutex_, &sent_));
    }
    vault_->self_service().SetContactChangedHook(
        [this](const std::string& id) { changed_.push_back(id); });
    Result<Actor> manager = staff_->ActorFor(Role::kInfoManager);
    ASSERT_TRUE(manager.ok()) << manager.status().ToString();
    manager_ = *manager;
    Result<CustomerView> created =
        vault_->customers().Create(manager_, {{"name", "张三"},
                                              {"id_number", kIdNumber},
                                              {"phone", kPhone},
                                              {"address", kAddress}});
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    customer_id_ = created->id;
  }

  SelfServiceService& Service() { return vault_->self_service(); }

  std::vector<SentMessage> Sent() {
    Service().FlushMessages();
    std::lock_guard lock(sent_mutex_);
    return sent_;
  }

  Result<StartedChallenge> Start(const std::string& customer_id, const std::string& last4,
                                 const std::string& phone, int* retry_after = nullptr,
                                 const std::string& ip = kIp) {
    return Service().Start({customer_id, last4, phone, ip}, retry_after);
  }

  // Starts a matching challenge and returns (challenge id, code from the message).
  std::pair<std::string, std::string> StartAndReadCode() {
    const size_t before = Sent().size();
    Result<StartedChallenge> started = Start(customer_id_, "002X", kPhone);
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    const std::vector<SentMessage> sent = Sent();
    EXPECT_EQ(sent.size(), before + 1);
    if (!started.ok() || sent.size() != before + 1) return {};
    const std::string code = CodeIn(sent.back().message);
    EXPECT_FALSE(code.empty()) << "no code in the message";
    return {started->challenge_id, code};
  }

  static std::string OtherCode(const std::string& code) {
    std::string other = code;
    other[0] = other[0] == '9' ? '0' : static_cast<char>(other[0] + 1);
    return other;
  }

  std::vector<store::AuditEntryRow> AuditEntries(std::string_view operation) {
    Actor local;
    local.kind = ActorKind::kLocalOperator;
    local.id = "cli:test";
    local.ip = "local";
    AuditSearch search;
    search.operation = std::string(operation);
    search.limit = 1000;
    Result<AuditEntryPage> page = vault_->audit().Search(local, search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<store::AuditEntryRow>();
  }

  FakeEnv env_{Env::Default()->NowMicros()};
  std::unique_ptr<TestDataDir> dir_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<TestStaff> staff_;
  Actor manager_;
  std::string customer_id_;
  std::mutex sent_mutex_;
  std::vector<SentMessage> sent_;
  std::vector<std::string> changed_;
};

TEST_F(SelfServiceTest, MatchingDetailsSendOneCodeAndTheRightCodeGivesAToken) {  // R-SELF-1
  // Lower-case x and a phone written with +86 and dashes match too.
  Result<StartedChallenge> started = Start(customer_id_, "002x", "+86 138-1234-5678");
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_TRUE(IsId(started->challenge_id, "ch_", 32)) << started->challenge_id;
  EXPECT_EQ(started->expires_in_seconds, 300);
  const std::vector<SentMessage> sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].phone, kPhone);
  const std::string code = CodeIn(sent[0].message);
  ASSERT_EQ(code.size(), 6u) << "no code in the message";
  EXPECT_EQ(sent[0].message, "【custvault】验证码 " + code + "，5分钟内有效。Your code is " + code +
                                 ", valid for 5 minutes.");
  Result<ChangeToken> token = Service().Verify(started->challenge_id, code, kIp);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_TRUE(IsId(token->token, "sst_", 64)) << "token format";
  EXPECT_EQ(token->expires_in_seconds, 600);
}

TEST_F(SelfServiceTest, DecoysAnswerExactlyLikeARealStartAndSendNothing) {  // R-SELF-1
  Result<StartedChallenge> real = Start(customer_id_, "002X", kPhone);
  ASSERT_TRUE(real.ok());
  const std::vector<std::array<std::string, 3>> decoys = {
      {customer_id_, "1234", kPhone},           // wrong last 4
      {customer_id_, "002X", "13900001111"},    // wrong phone
      {"C20000101000001", "002X", kPhone},      // no such customer
  };
  for (const auto& [id, last4, phone] : decoys) {
    Result<StartedChallenge> decoy = Start(id, last4, phone);
    ASSERT_TRUE(decoy.ok()) << decoy.status().ToString();
    EXPECT_TRUE(IsId(decoy->challenge_id, "ch_", 32)) << decoy->challenge_id;
    EXPECT_EQ(decoy->expires_in_seconds, real->expires_in_seconds);
    // No code can open a decoy; the refusal is the wrong code's refusal.
    for (const char* code : {"000000", "123456", "999999"}) {
      Result<ChangeToken> verified = Service().Verify(decoy->challenge_id, code, kIp);
      ASSERT_FALSE(verified.ok());
      EXPECT_EQ(verified.status().code(), ErrorCode::kUnauthenticated);
      EXPECT_EQ(verified.status().message(), kVerifyFailedMessage);
    }
  }
  EXPECT_EQ(Sent().size(), 1u);  // only the real start sent a message
}

TEST_F(SelfServiceTest, EveryVerifyFailureIsTheSameAnswer) {  // R-SELF-1
  auto [id, code] = StartAndReadCode();
  std::vector<Status> failures;
  failures.push_back(Service().Verify(id, OtherCode(code), kIp).status());  // wrong code
  failures.push_back(
      Service().Verify("ch_" + std::string(32, 'a'), code, kIp).status());  // unknown challenge
  failures.push_back(Service().Verify("not-a-challenge", code, kIp).status());  // malformed id
  auto [expired_id, expired_code] = StartAndReadCode();
  env_.AdvanceMicros(300 * kSecondUs);
  failures.push_back(Service().Verify(expired_id, expired_code, kIp).status());  // expired
  for (const Status& failure : failures) {
    EXPECT_EQ(failure.code(), ErrorCode::kUnauthenticated);
    EXPECT_EQ(failure.message(), kVerifyFailedMessage);
    EXPECT_TRUE(failure.details().empty());
  }
  // A code that is not 6 digits is malformed input, answered as such.
  EXPECT_EQ(Service().Verify(id, "12345", kIp).status().code(), ErrorCode::kValidationFailed);
}

TEST_F(SelfServiceTest, TheCodeExpiresAtExactlyItsTtl) {  // R-SELF-1
  auto [first_id, first_code] = StartAndReadCode();
  auto [second_id, second_code] = StartAndReadCode();
  env_.AdvanceMicros(300 * kSecondUs - 1);
  EXPECT_TRUE(Service().Verify(first_id, first_code, kIp).ok());
  env_.AdvanceMicros(1);  // exactly 300 s after the start
  Result<ChangeToken> late = Service().Verify(second_id, second_code, kIp);
  EXPECT_EQ(late.status().code(), ErrorCode::kUnauthenticated);
}

TEST_F(SelfServiceTest, AfterFiveWrongCodesEvenTheRightOneIsRefused) {  // R-SELF-1
  auto [id, code] = StartAndReadCode();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Service().Verify(id, OtherCode(code), kIp).status().code(),
              ErrorCode::kUnauthenticated);
  }
  Result<ChangeToken> right = Service().Verify(id, code, kIp);
  EXPECT_EQ(right.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(right.status().message(), kVerifyFailedMessage);
}

TEST_F(SelfServiceTest, ParallelWrongGuessesCountOneAttemptEach) {  // R-SELF-1
  auto [id, code] = StartAndReadCode();
  const std::string wrong = OtherCode(code);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&] { Service().Verify(id, wrong, kIp).status().IgnoreError(); });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 3; ++i) Service().Verify(id, wrong, kIp).status().IgnoreError();
  // 2 + 3 = 5 attempts used: the right code no longer opens it.
  EXPECT_EQ(Service().Verify(id, code, kIp).status().code(), ErrorCode::kUnauthenticated);
}

TEST_F(SelfServiceTest, ACodeGivesOneTokenOnly) {
  auto [id, code] = StartAndReadCode();
  ASSERT_TRUE(Service().Verify(id, code, kIp).ok());
  EXPECT_EQ(Service().Verify(id, code, kIp).status().code(), ErrorCode::kUnauthenticated);
}

TEST_F(SelfServiceTest, PerCustomerLimitTreatsUnknownIdsExactlyLikeKnownOnes) {  // R-SELF-1
  for (const std::string& id : {customer_id_, std::string("C20000101000001")}) {
    for (int i = 0; i < 5; ++i) {
      // Different IPs, so only the per-customer limit can bite; wrong
      // details count as much as right ones.
      ASSERT_TRUE(Start(id, i % 2 ? "002X" : "0000", kPhone, nullptr, "198.51.100." +
                                                                        std::to_string(i))
                      .ok())
          << id << " " << i;
      env_.AdvanceMicros(kSecondUs);
    }
    int retry_after = 0;
    Result<StartedChallenge> refused =
        Start(id, "002X", kPhone, &retry_after, "198.51.100.99");
    EXPECT_EQ(refused.status().code(), ErrorCode::kRateLimited) << id;
    EXPECT_EQ(refused.status().message(), "too many self-service starts; try again later");
    EXPECT_EQ(retry_after, 3600 - 5) << id;  // when the first of the five leaves the hour
  }
  env_.AdvanceMicros(3600 * kSecondUs);
  EXPECT_TRUE(Start(customer_id_, "002X", kPhone).ok());
}

TEST_F(SelfServiceTest, PerIpLimitCountsEveryStartFromTheAddress) {  // R-SELF-1
  Open({{"CUSTVAULT_SELF_SERVICE_STARTS_PER_IP_PER_HOUR", "3"}});
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Start("C2000010100000" + std::to_string(i), "0000", kPhone).ok());
  }
  int retry_after = 0;
  EXPECT_EQ(Start("C20000101000009", "0000", kPhone, &retry_after).status().code(),
            ErrorCode::kRateLimited);
  EXPECT_EQ(retry_after, 3600);
  EXPECT_TRUE(Start("C20000101000009", "0000", kPhone, nullptr, "198.51.100.1").ok());
}

TEST_F(SelfServiceTest, TheTokenChangesPhoneAndAddressOnceAndConfirmsToTheOldPhone) {
  auto [id, code] = StartAndReadCode();
  Result<ChangeToken> token = Service().Verify(id, code, kIp);
  ASSERT_TRUE(token.ok());
  Result<CustomerView> changed =
      Service().Change({token->token, "13900001111", "上海市浦东新区世纪大道100号", kIp});
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(changed->fields.at("phone"), "139****1111");
  EXPECT_EQ(changed->fields.count("name"), 0u);  // only the contact fields come back
  EXPECT_EQ(changed->fields.count("id_number"), 0u);
  // Written like a staff update: encrypted, indexed, visible to staff.
  Result<CustomerView> seen = vault_->customers().Get(manager_, customer_id_);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->fields.at("phone"), "139****1111");
  EXPECT_EQ(seen->fields.at("name"), "张某");
  Result<CustomerListPage> found =
      vault_->customers().Search(manager_, "phone", "13900001111", std::nullopt, std::nullopt);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->items.size(), 1u);
  EXPECT_EQ(found->items[0].id, customer_id_);
  Result<RevealedFields> revealed =
      vault_->customers().Reveal(manager_, customer_id_, {"phone", "address"}, "test");
  ASSERT_TRUE(revealed.ok());
  EXPECT_EQ(revealed->fields.at("phone").view(), "13900001111");
  EXPECT_EQ(revealed->fields.at("address").view(), "上海市浦东新区世纪大道100号");
  // The confirmation goes to the old phone and names no new value.
  const std::vector<SentMessage> sent = Sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].phone, kPhone);
  EXPECT_EQ(sent[1].message, ContactChangedMessage(true, true));
  EXPECT_EQ(sent[1].message.find("1111"), std::string::npos);
  // The tag hook heard of it.
  EXPECT_EQ(changed_, std::vector<std::string>{customer_id_});
  // Single use.
  Result<CustomerView> again = Service().Change({token->token, "13700002222", std::nullopt, kIp});
  EXPECT_EQ(again.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(again.status().message(), kTokenFailedMessage);
}

TEST_F(SelfServiceTest, TheTokenExpiresAfterTenMinutes) {
  auto [id, code] = StartAndReadCode();
  Result<ChangeToken> token = Service().Verify(id, code, kIp);
  ASSERT_TRUE(token.ok());
  env_.AdvanceMicros(600 * kSecondUs);
  Result<CustomerView> late = Service().Change({token->token, std::nullopt, kAddress, kIp});
  EXPECT_EQ(late.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(late.status().message(), kTokenFailedMessage);
  Result<CustomerView> bogus =
      Service().Change({"sst_" + std::string(64, '0'), std::nullopt, kAddress, kIp});
  EXPECT_EQ(bogus.status().message(), kTokenFailedMessage);
}

TEST_F(SelfServiceTest, InvalidChangesAreAllNamedAndTheTokenIsKept) {  // R-CAT-4
  auto [id, code] = StartAndReadCode();
  Result<ChangeToken> token = Service().Verify(id, code, kIp);
  ASSERT_TRUE(token.ok());
  Result<CustomerView> bad = Service().Change({token->token, "12", "", kIp});
  ASSERT_EQ(bad.status().code(), ErrorCode::kValidationFailed);
  std::set<std::string> fields;
  for (const FieldError& e : bad.status().details()) fields.insert(e.field);
  EXPECT_EQ(fields, (std::set<std::string>{"phone", "address"}));
  EXPECT_EQ(bad.status().message().find("12"), std::string::npos);
  Result<CustomerView> nothing = Service().Change({token->token, std::nullopt, std::nullopt, kIp});
  EXPECT_EQ(nothing.status().code(), ErrorCode::kValidationFailed);
  // The token survives malformed input.
  EXPECT_TRUE(Service().Change({token->token, "13900001111", std::nullopt, kIp}).ok());
}

TEST_F(SelfServiceTest, MalformedStartsNameEveryBadFieldWhateverTheDatabaseHolds) {
  Result<StartedChallenge> bad = Start("X1", "12", "010-12345678");
  ASSERT_EQ(bad.status().code(), ErrorCode::kValidationFailed);
  std::map<std::string, std::string> reasons;
  for (const FieldError& e : bad.status().details()) reasons[e.field] = e.reason;
  EXPECT_EQ(reasons, (std::map<std::string, std::string>{
                         {"customer_id", "format"}, {"id_last4", "format"}, {"phone", "not_mobile"}}));
  EXPECT_EQ(Start(customer_id_, "002X", std::string(41, '1')).status().details().at(0).reason,
            "too_long");
  EXPECT_TRUE(Sent().empty());
}

TEST_F(SelfServiceTest, OnlyPhoneAndAddressMayChangeAndOnlyBySelfService) {
  Actor self;
  self.kind = ActorKind::kSelfService;
  self.id = "self-service:ch_test";
  self.role = Role::kChannel;
  self.ip = kIp;
  Result<CustomerView> name =
      vault_->customers().UpdateContactBySelfService(self, customer_id_, {{"name", "李四"}});
  EXPECT_EQ(name.status().code(), ErrorCode::kPermissionDenied);
  Result<CustomerView> id_number = vault_->customers().UpdateContactBySelfService(
      self, customer_id_, {{"phone", "13900001111"}, {"id_number", "110105194912310029"}});
  EXPECT_EQ(id_number.status().code(), ErrorCode::kPermissionDenied);
  Result<CustomerView> removal =
      vault_->customers().UpdateContactBySelfService(self, customer_id_, {{"phone", std::nullopt}});
  EXPECT_EQ(removal.status().code(), ErrorCode::kPermissionDenied);
  // Staff may not use the self-service door.
  EXPECT_EQ(vault_->customers()
                .UpdateContactBySelfService(manager_, customer_id_, {{"phone", "13900001111"}})
                .status()
                .code(),
            ErrorCode::kPermissionDenied);
  // The policy grants the self-service actor nothing, whatever its role says.
  for (policy::Operation operation : policy::AllOperations()) {
    for (Role role : policy::AllRoles()) {
      self.role = role;
      EXPECT_EQ(vault_->accounts().Authorize(self, operation).code(),
                ErrorCode::kPermissionDenied);
    }
  }
  self.role = Role::kInfoManager;
  EXPECT_EQ(vault_->customers().Get(self, customer_id_).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(vault_->audit().Search(self, {}).status().code(), ErrorCode::kPermissionDenied);
}

TEST_F(SelfServiceTest, EveryStepIsAuditedWithoutPersonalDataOrSecrets) {  // R-AUD-1
  auto [id, code] = StartAndReadCode();
  ASSERT_TRUE(Start(customer_id_, "9999", kPhone).ok());  // a decoy
  ASSERT_FALSE(Service().Verify(id, OtherCode(code), kIp).ok());
  Result<ChangeToken> token = Service().Verify(id, code, kIp);
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE(Service().Change({token->token, "13900001111", std::nullopt, kIp}).ok());

  const std::vector<store::AuditEntryRow> starts = AuditEntries(audit::op::kSelfServiceStart);
  const std::vector<store::AuditEntryRow> verifies = AuditEntries(audit::op::kSelfServiceVerify);
  const std::vector<store::AuditEntryRow> updates = AuditEntries(audit::op::kSelfServiceUpdate);
  ASSERT_EQ(starts.size(), 2u);
  ASSERT_EQ(verifies.size(), 2u);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(starts[0].result, "ok");
  EXPECT_EQ(starts[1].result, "failed");
  EXPECT_EQ(verifies[0].result, "failed");
  EXPECT_EQ(verifies[1].result, "ok");
  EXPECT_EQ(updates[0].result, "ok");
  EXPECT_EQ(updates[0].actor_id, "self-service:" + id);
  EXPECT_EQ(
      boost::json::parse(updates[0].details).at("changed").at("phone").at("after").as_string(),
      "139****1111");
  std::vector<store::AuditEntryRow> all = starts;
  all.insert(all.end(), verifies.begin(), verifies.end());
  all.insert(all.end(), updates.begin(), updates.end());
  for (const store::AuditEntryRow& entry : all) {
    EXPECT_EQ(entry.customer_id, customer_id_);
    EXPECT_EQ(entry.actor_role, "self_service");
    EXPECT_EQ(entry.source_ip, kIp);
    EXPECT_EQ(entry.actor_id.rfind("self-service:", 0), 0u);
    const std::string text = entry.actor_id + entry.details;
    for (const std::string& secret :
         {std::string(kPhone), std::string("13900001111"), std::string(kIdNumber),
          std::string("002X"), code, token->token}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << entry.operation << ": " << entry.details;
    }
  }
}

TEST_F(SelfServiceTest, ADisabledSelfServiceAnswersNotFound) {
  Open({{"CUSTVAULT_SELF_SERVICE_ENABLED", "false"}});
  EXPECT_EQ(Start(customer_id_, "002X", kPhone).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(Service().Verify("ch_" + std::string(32, 'a'), "123456", kIp).status().code(),
            ErrorCode::kNotFound);
  EXPECT_TRUE(Sent().empty());
}

TEST_F(SelfServiceTest, TheDefaultOutboxGatewayWritesTheCodeToTheDataDirectory) {
  Open({}, /*recording=*/false);
  ASSERT_TRUE(Start(customer_id_, "002X", kPhone).ok());
  Service().FlushMessages();
  Result<std::string> outbox = Env::Default()->ReadFile(dir_->path() + "/sms-outbox.jsonl");
  ASSERT_TRUE(outbox.ok()) << outbox.status().ToString();
  const boost::json::value line = boost::json::parse(outbox->substr(0, outbox->find('\n')));
  EXPECT_EQ(line.at("to").as_string(), kPhone);
  EXPECT_EQ(CodeIn(std::string(line.at("message").as_string())).size(), 6u);
}

}  // namespace
}  // namespace custvault::service
