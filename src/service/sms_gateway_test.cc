#include "service/sms_gateway.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <sstream>
#include <thread>
#include <vector>

#include "common/fake_env.h"

namespace custvault::service {
namespace {

namespace fs = std::filesystem;

std::vector<boost::json::object> ReadLines(const std::string& path) {
  std::vector<boost::json::object> lines;
  Result<std::string> text = Env::Default()->ReadFile(path);
  if (!text.ok()) return lines;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(boost::json::parse(line).as_object());
  return lines;
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_outbox_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(OutboxTest, EachMessageIsOneJsonLineInAFileOnlyTheOwnerReads) {  // R-SELF-1
  FakeEnv env;
  OutboxSmsGateway outbox(&env, dir_ + "/sms-outbox.jsonl");
  ASSERT_TRUE(outbox.Send("13812345678", CodeMessage("012345", 300)).ok());
  env.AdvanceMicros(1'000'000);
  ASSERT_TRUE(outbox.Send("13900001111", "second").ok());
  const std::vector<boost::json::object> lines = ReadLines(dir_ + "/sms-outbox.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].at("to").as_string(), "13812345678");
  EXPECT_EQ(lines[0].at("message").as_string(),
            "【custvault】验证码 012345，5分钟内有效。Your code is 012345, valid for 5 minutes.");
  EXPECT_EQ(lines[0].at("at").as_string(), FormatRfc3339(1'796'000'000'000'000));
  EXPECT_EQ(lines[1].at("to").as_string(), "13900001111");
  EXPECT_EQ(Env::Default()->FileMode(dir_ + "/sms-outbox.jsonl").value(), 0600);
}

TEST_F(OutboxTest, AnExistingWiderFileIsNarrowedTo0600) {
  const std::string path = dir_ + "/sms-outbox.jsonl";
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, "", 0644, false).ok());
  FakeEnv env;
  OutboxSmsGateway outbox(&env, path);
  ASSERT_TRUE(outbox.Send("13812345678", "x").ok());
  EXPECT_EQ(Env::Default()->FileMode(path).value(), 0600);
}

TEST_F(OutboxTest, ParallelSendersNeverInterleaveLines) {
  FakeEnv env;
  OutboxSmsGateway outbox(&env, dir_ + "/sms-outbox.jsonl");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&outbox, t] {
      for (int i = 0; i < 25; ++i) {
        ASSERT_TRUE(outbox.Send("1380000000" + std::to_string(t), std::string(300, 'a' + t)).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const std::vector<boost::json::object> lines = ReadLines(dir_ + "/sms-outbox.jsonl");
  ASSERT_EQ(lines.size(), 200u);
  for (const boost::json::object& line : lines) {
    const std::string to(line.at("to").as_string());
    EXPECT_EQ(line.at("message").as_string(), std::string(300, 'a' + (to.back() - '0')));
  }
}

TEST_F(OutboxTest, AnUnwritablePlaceIsUnavailableAndNamesNoPhone) {
  FakeEnv env;
  OutboxSmsGateway outbox(&env, dir_ + "/missing-dir/sms-outbox.jsonl");
  const Status sent = outbox.Send("13812345678", "code 123456");
  EXPECT_EQ(sent.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(sent.message().find("13812345678"), std::string::npos);
  EXPECT_EQ(sent.message().find("123456"), std::string::npos);
}

TEST(SmsUrlTemplateTest, PostIsTheDefaultAndKeepsPersonalDataInTheBody) {
  Result<SmsUrlTemplate> t =
      ParseSmsUrlTemplate("http://sms.local:8081/send?to={phone}&text={message}");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->method, "POST");
  EXPECT_EQ(t->host, "sms.local");
  EXPECT_EQ(t->port, "8081");
  EXPECT_EQ(t->path_template, "/send");
  EXPECT_EQ(t->query_template, "to={phone}&text={message}");
  Result<SmsUrlTemplate> get = ParseSmsUrlTemplate("GET http://10.0.0.5/api/{phone}?m={message}");
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(get->method, "GET");
  EXPECT_EQ(get->port, "80");
  EXPECT_EQ(get->path_template, "/api/{phone}");
}

TEST(SmsUrlTemplateTest, BadTemplatesAreRefusedNamingTheKey) {
  for (const char* bad : {"", "https://sms.local/?to={phone}&m={message}",
                          "http://sms.local/?to={phone}", "http://user:pw@sms.local/?p={phone}&m={message}",
                          "http://sms.local:99999/?p={phone}&m={message}",
                          "http://sms local/?p={phone}&m={message}",
                          "POST http://sms.local/{phone}?m={message}",
                          "PUT http://sms.local/?p={phone}&m={message}"}) {
    Result<SmsUrlTemplate> t = ParseSmsUrlTemplate(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_NE(t.status().message().find("sms.url_template"), std::string::npos);
    }
  }
  EXPECT_FALSE(ParseSmsUrlTemplate("http://h/?p={phone}&m={message}" + std::string(3000, 'x')).ok());
}

TEST(SmsUrlTemplateTest, PlaceholdersArePercentEncodedUtf8) {
  EXPECT_EQ(FillSmsTemplate("to={phone}&text={message}", "13812345678", "验证码 1 a-b_c.~"),
            "to=13812345678&text=%E9%AA%8C%E8%AF%81%E7%A0%81%201%20a-b_c.~");
  // A value that looks like a placeholder is not expanded again.
  EXPECT_EQ(FillSmsTemplate("{message}|{phone}", "1", "{phone}&"), "%7Bphone%7D%26|1");
}

TEST(SmsMessagesTest, CodeMessageSaysTheValidityInBothLanguages) {
  EXPECT_EQ(CodeMessage("123456", 300),
            "【custvault】验证码 123456，5分钟内有效。Your code is 123456, valid for 5 minutes.");
  EXPECT_EQ(CodeMessage("000001", 60),
            "【custvault】验证码 000001，1分钟内有效。Your code is 000001, valid for 1 minute.");
  EXPECT_EQ(CodeMessage("999999", 90),
            "【custvault】验证码 999999，90秒内有效。Your code is 999999, valid for 90 seconds.");
}

TEST(SmsMessagesTest, ConfirmationCarriesNoDigitsAtAll) {
  for (auto [phone, address] : {std::pair{true, false}, {false, true}, {true, true}}) {
    const std::string message = ContactChangedMessage(phone, address);
    EXPECT_EQ(message.find_first_of("0123456789"), std::string::npos) << message;
    EXPECT_EQ(message.rfind("【custvault】", 0), 0u);
  }
  EXPECT_NE(ContactChangedMessage(true, false).find("phone number was changed"), std::string::npos);
}

}  // namespace
}  // namespace custvault::service
