// R-AUD-4: each alert rule with a frozen clock (the entries' times).
#include "audit/alerts.h"

#include <gtest/gtest.h>

#include "audit/entry.h"

namespace custvault::audit {
namespace {

constexpr int64_t kMinuteUs = 60'000'000;
// 2026-11-30 00:00 China time (UTC+8), a Monday.
constexpr int64_t kMondayMidnightUs = int64_t{1'795'968'000} * 1'000'000;

class AlertEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.working_hours = "08:00-20:00";
    config_.working_days = "1-5";
    config_.bulk_views_max = 10;
    config_.bulk_views_window_minutes = 5;
    config_.login_failures_max = 3;
    config_.login_failures_window_minutes = 15;
    config_.reveals_max = 2;
    config_.reveals_window_minutes = 10;
  }

  AlertEngine Engine() {
    auto engine = AlertEngine::Create(config_, 8 * 3600);
    EXPECT_TRUE(engine.ok()) << engine.status().ToString();
    return std::move(engine).value();
  }

  std::vector<RaisedAlert> Feed(AlertEngine& engine, std::string_view operation, int64_t time_us,
                                std::string actor = "alice", std::string ip = "10.0.0.1",
                                std::string details = "{}", std::string_view result = "ok") {
    row_.seq++;
    row_.time_us = time_us;
    row_.actor_id = std::move(actor);
    row_.operation = std::string(operation);
    row_.source_ip = std::move(ip);
    row_.details = std::move(details);
    row_.result = std::string(result);
    return engine.Observe(ViewOf(row_));
  }

  static int64_t At(int day, int hour, int minute = 0) {
    return kMondayMidnightUs + (int64_t{day} * 24 * 60 + hour * 60 + minute) * kMinuteUs;
  }

  AuditConfig config_;
  store::AuditEntryRow row_;
};

TEST_F(AlertEngineTest, RAud4AccessOutsideWorkingHoursRaisesOncePerHour) {
  AlertEngine engine = Engine();
  EXPECT_TRUE(Feed(engine, op::kCustomerView, At(0, 9)).empty());  // Monday 09:00
  EXPECT_TRUE(Feed(engine, op::kCustomerView, At(0, 19, 59)).empty());
  auto alerts = Feed(engine, op::kCustomerView, At(0, 20));  // 20:00 is outside
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "off_hours");
  EXPECT_EQ(alerts[0].actor_id, "alice");
  EXPECT_TRUE(Feed(engine, op::kCustomerView, At(0, 20, 30)).empty());  // quiet for an hour
  EXPECT_EQ(Feed(engine, op::kCustomerView, At(0, 21, 1)).size(), 1u);
  EXPECT_EQ(Feed(engine, op::kCustomerView, At(1, 7, 59)).size(), 1u);  // Tuesday early
  // Saturday at noon: outside working days.
  EXPECT_EQ(Feed(engine, op::kCustomerUpdate, At(5, 12), "bob").size(), 1u);
  // Logins at night are not customer access.
  EXPECT_TRUE(Feed(engine, op::kAuthLogin, At(5, 12), "carol").empty());
}

TEST_F(AlertEngineTest, RAud4BulkViewsByOneAccountWithinTheWindow) {
  AlertEngine engine = Engine();
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(Feed(engine, op::kCustomerView, At(0, 10) + i * 1'000'000).empty());
  }
  // Another actor does not add to alice's count.
  EXPECT_TRUE(Feed(engine, op::kCustomerView, At(0, 10, 1), "bob").empty());
  auto alerts = Feed(engine, op::kCustomerView, At(0, 10, 1));  // alice's 11th
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "bulk_views");
}

TEST_F(AlertEngineTest, RAud4BulkViewsCountListedAndExportedCustomers) {
  AlertEngine engine = Engine();
  EXPECT_TRUE(
      Feed(engine, op::kCustomerList, At(0, 10), "alice", "10.0.0.1", R"({"count":6})").empty());
  auto alerts =
      Feed(engine, op::kCustomerExport, At(0, 10, 2), "alice", "10.0.0.1", R"({"count":5})");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "bulk_views");
}

TEST_F(AlertEngineTest, RAud4ViewsSpreadBeyondTheWindowRaiseNothing) {
  AlertEngine engine = Engine();
  for (int i = 0; i < 30; ++i) {
    // One view a minute; the window is 5 minutes and the limit 10.
    EXPECT_TRUE(Feed(engine, op::kCustomerView, At(0, 10) + i * kMinuteUs).empty()) << i;
  }
}

TEST_F(AlertEngineTest, RAud4LoginFromANewIpForTheAccount) {
  AlertEngine engine = Engine();
  engine.RememberLoginIp("alice", "10.0.0.1");  // seeded from the store
  EXPECT_TRUE(Feed(engine, op::kAuthLogin, At(0, 9), "alice", "10.0.0.1").empty());
  auto alerts = Feed(engine, op::kAuthLogin, At(0, 9, 5), "alice", "198.51.100.23");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "new_ip");
  EXPECT_NE(alerts[0].summary.find("198.51.100.23"), std::string::npos);
  // Now known.
  EXPECT_TRUE(Feed(engine, op::kAuthLogin, At(0, 9, 6), "alice", "198.51.100.23").empty());
  // An account's very first login is not an alert.
  EXPECT_TRUE(Feed(engine, op::kAuthLogin, At(0, 9, 7), "newcomer", "203.0.113.1").empty());
  // A failed login from a new IP does not count as "logged in from".
  EXPECT_TRUE(
      Feed(engine, op::kAuthLogin, At(0, 9, 8), "alice", "203.0.113.50", "{}", "failed").empty());
}

TEST_F(AlertEngineTest, NewIpAlertCanBeSwitchedOff) {
  config_.new_ip_alert = false;
  AlertEngine engine = Engine();
  engine.RememberLoginIp("alice", "10.0.0.1");
  EXPECT_TRUE(Feed(engine, op::kAuthLogin, At(0, 9), "alice", "198.51.100.23").empty());
}

TEST_F(AlertEngineTest, RAud4RepeatedLoginFailures) {
  AlertEngine engine = Engine();
  EXPECT_TRUE(Feed(engine, op::kAuthLoginFailed, At(0, 9), "alice").empty());
  EXPECT_TRUE(Feed(engine, op::kAuthLoginFailed, At(0, 9, 1), "alice").empty());
  auto alerts = Feed(engine, op::kAuthLoginFailed, At(0, 9, 2), "alice", "203.0.113.9");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "login_failures");
  // Failures 20 minutes apart never reach the limit within the window.
  AlertEngine spaced = Engine();
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(Feed(spaced, op::kAuthLoginFailed, At(0, 9) + i * 20 * kMinuteUs, "bob").empty());
  }
}

TEST_F(AlertEngineTest, RAud4BurstOfReveals) {
  AlertEngine engine = Engine();
  EXPECT_TRUE(Feed(engine, op::kCustomerReveal, At(0, 11)).empty());
  EXPECT_TRUE(Feed(engine, op::kCustomerReveal, At(0, 11, 1)).empty());
  auto alerts = Feed(engine, op::kCustomerReveal, At(0, 11, 2));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "reveal_burst");
  // One burst, one alert: the rule is quiet for a window.
  EXPECT_TRUE(Feed(engine, op::kCustomerReveal, At(0, 11, 3)).empty());
  EXPECT_TRUE(Feed(engine, op::kCustomerReveal, At(0, 11, 4)).empty());
  EXPECT_TRUE(Feed(engine, op::kCustomerReveal, At(0, 11, 5)).empty());
}

TEST(WorkingTimeTest, ParsesHoursAndDays) {
  auto working = ParseWorkingTime("07:30-24:00", "1-3,6");
  ASSERT_TRUE(working.ok()) << working.status().ToString();
  EXPECT_EQ(working->start_minute, 450);
  EXPECT_EQ(working->end_minute, 1440);
  EXPECT_TRUE(working->weekdays[2]);
  EXPECT_FALSE(working->weekdays[4]);
  EXPECT_TRUE(working->weekdays[6]);
  for (auto [hours, days] :
       std::vector<std::pair<const char*, const char*>>{{"8-20", "1-5"},
                                                        {"20:00-08:00", "1-5"},
                                                        {"08:00-20:00", "0-5"},
                                                        {"08:00-20:00", "5-1"},
                                                        {"08:00-20:00", ""},
                                                        {"08:00-20:00", "1,"},
                                                        {"08:60-20:00", "1"}}) {
    EXPECT_EQ(ParseWorkingTime(hours, days).status().code(), ErrorCode::kInvalidArgument)
        << hours << " " << days;
  }
}

// Issue 11.10: a backup found damaged (an incremental refused, or a
// verification) raises an alert every time; other failures do not.
TEST_F(AlertEngineTest, Issue11_10_ADamagedBackupRaisesAnAlert) {
  AlertEngine engine = Engine();
  const std::string damaged = R"({"kind":"incremental","error":"data_integrity","message":"x"})";
  auto alerts = Feed(engine, op::kBackupRun, At(0, 9), "job:backup_incremental", "local", damaged,
                     result::kFailed);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "backup_damaged");
  EXPECT_EQ(Feed(engine, op::kBackupVerify, At(0, 9, 1), "auditor", "10.0.0.1", damaged,
                 result::kFailed)
                .size(),
            1u);
  EXPECT_TRUE(Feed(engine, op::kBackupRun, At(0, 9, 2), "admin", "10.0.0.1",
                   R"({"kind":"full","error":"conflict"})", result::kFailed)
                  .empty());
  EXPECT_TRUE(Feed(engine, op::kBackupRun, At(0, 9, 3), "admin", "10.0.0.1", damaged,
                   result::kOk)
                  .empty());
}

}  // namespace
}  // namespace custvault::audit
