#include "service/request_flood_guard.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "audit/entry.h"
#include "common/fake_env.h"
#include "service/self_service.h"
#include "service/test_vault.h"

namespace custvault::service {
namespace {

constexpr int64_t kSecondUs = 1'000'000;
// On a window boundary, so the arithmetic below reads plainly.
constexpr int64_t kStartUs = 1'796'000'040'000'000;

class RequestFloodGuardTest : public ::testing::Test {
 protected:
  RequestFloodGuard Guard(int requests_max, size_t addresses_max = kFloodAddressesMaxDefault) {
    return RequestFloodGuard(
        &env_, {.requests_max = requests_max, .window_us = 60 * kSecondUs,
                .addresses_max = addresses_max},
        [this](const FloodSummary& summary) { summaries_.push_back(summary); });
  }

  FakeEnv env_{kStartUs};
  std::vector<FloodSummary> summaries_;
};

// Issue 10.8: past the limit an address is refused with the seconds until
// the window ends, and its refusals make one summary when the window is over.
TEST_F(RequestFloodGuardTest, Issue10_8_RefusalsAreCountedAndSummarisedOncePerWindow) {
  RequestFloodGuard guard = Guard(5);
  int refused = 0;
  for (int i = 0; i < 2000; ++i) {
    int retry_after = 0;
    const Status status = guard.Admit("198.51.100.9", i % 2 ? "verify" : "start", &retry_after);
    if (!status.ok()) {
      ASSERT_EQ(status.code(), ErrorCode::kRateLimited);
      EXPECT_EQ(retry_after, 60);
      ++refused;
    }
  }
  EXPECT_EQ(refused, 1995);
  EXPECT_TRUE(summaries_.empty());  // the window is not over yet
  // Another address is not affected.
  EXPECT_TRUE(guard.Admit("203.0.113.1", "start").ok());
  env_.AdvanceMicros(30 * kSecondUs);
  int retry_after = 0;
  EXPECT_FALSE(guard.Admit("198.51.100.9", "changes", &retry_after).ok());
  EXPECT_EQ(retry_after, 30);
  env_.AdvanceMicros(30 * kSecondUs);
  EXPECT_TRUE(guard.Admit("198.51.100.9", "start").ok());  // a new window
  ASSERT_EQ(summaries_.size(), 1u);
  const FloodSummary& summary = summaries_[0];
  EXPECT_EQ(summary.refused, 1996);
  EXPECT_EQ(summary.admitted, 6);
  // Admitted: starts 0, 2, 4 and verifies 1, 3.
  EXPECT_EQ(summary.refused_by_endpoint.at("start"), 997);
  EXPECT_EQ(summary.refused_by_endpoint.at("verify"), 998);
  EXPECT_EQ(summary.refused_by_endpoint.at("changes"), 1);
  EXPECT_EQ(summary.addresses_refused, 1);
  ASSERT_EQ(summary.top_addresses.size(), 1u);
  EXPECT_EQ(summary.top_addresses[0].first, "198.51.100.9");
  EXPECT_EQ(summary.top_addresses[0].second, 1996);
  EXPECT_EQ(summary.window_end_us - summary.window_start_us, 60 * kSecondUs);
  // A quiet window writes nothing.
  env_.AdvanceMicros(120 * kSecondUs);
  EXPECT_TRUE(guard.Admit("198.51.100.9", "start").ok());
  EXPECT_EQ(summaries_.size(), 1u);
}

// Issue 10.8: memory stays bounded under a flood from many addresses, and
// a summary names only the busiest few.
TEST_F(RequestFloodGuardTest, Issue10_8_ManyAddressesShareOneBoundedCounter) {
  RequestFloodGuard guard = Guard(2, /*addresses_max=*/100);
  int refused = 0;
  for (int i = 0; i < 5000; ++i) {
    const std::string address = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    refused += guard.Admit(address, "verify").ok() ? 0 : 1;
  }
  // The first 100 addresses (one request each) are counted on their own;
  // the other 4,900 share one counter, which admits 2.
  EXPECT_EQ(refused, 5000 - 100 - 2);
  guard.Flush();
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].refused, refused);
  EXPECT_EQ(summaries_[0].addresses_refused, 1);  // only the shared counter was refused
  EXPECT_EQ(summaries_[0].top_addresses[0].first, std::string(kFloodOtherAddresses));
  EXPECT_LE(summaries_[0].top_addresses.size(), kFloodTopAddresses);
}

// Issue 10.8 through the service: 2,000 unauthenticated verifies of random
// challenge ids add a bounded number of audit entries, and the flood's
// counts are recorded in one summary entry.
TEST(SelfServiceFloodTest, Issue10_8_TwoThousandVerifiesWriteABoundedAuditTrail) {
  FakeEnv env{kStartUs};
  TestDataDir dir(FastAuthEnvironment());
  Result<std::unique_ptr<Vault>> vault = Vault::Open(
      &env, dir.path(),
      FastAuthEnvironment({{"CUSTVAULT_SELF_SERVICE_REQUESTS_PER_IP_MAX", "20"},
                           {"CUSTVAULT_SELF_SERVICE_REQUESTS_WINDOW_SECONDS", "60"}}));
  ASSERT_TRUE(vault.ok()) << vault.status().ToString();
  auto entries = [&](std::string_view operation) {
    Actor local;
    local.kind = ActorKind::kLocalOperator;
    local.id = "cli:test";
    local.ip = "local";
    AuditSearch search;
    search.operation = std::string(operation);
    search.limit = 1000;
    Result<AuditEntryPage> page = (*vault)->audit().Search(local, search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<store::AuditEntryRow>();
  };
  int unauthenticated = 0, limited = 0;
  for (int i = 0; i < 2000; ++i) {
    char id[40];
    std::snprintf(id, sizeof id, "ch_%032x", i);
    int retry_after = 0;
    Result<ChangeToken> token =
        (*vault)->self_service().Verify(id, "123456", "198.51.100.9", &retry_after);
    ASSERT_FALSE(token.ok());
    if (token.status().code() == ErrorCode::kRateLimited) {
      ++limited;
      EXPECT_GT(retry_after, 0);
    } else {
      ASSERT_EQ(token.status().code(), ErrorCode::kUnauthenticated);
      ++unauthenticated;
    }
  }
  EXPECT_EQ(unauthenticated, 20);
  EXPECT_EQ(limited, 1980);
  EXPECT_EQ(entries(audit::op::kSelfServiceVerify).size(), 20u);
  // The next window's first request writes the summary of this one.
  env.AdvanceMicros(60 * kSecondUs);
  EXPECT_EQ((*vault)->self_service().Verify("ch_x", "123456", "198.51.100.9").status().code(),
            ErrorCode::kUnauthenticated);
  const std::vector<store::AuditEntryRow> throttled = entries(audit::op::kSelfServiceThrottled);
  ASSERT_EQ(throttled.size(), 1u);
  const boost::json::object details = boost::json::parse(throttled[0].details).as_object();
  EXPECT_EQ(details.at("refused").as_int64(), 1980);
  EXPECT_EQ(details.at("admitted").as_int64(), 20);
  EXPECT_EQ(details.at("refused_by_endpoint").at("verify").as_int64(), 1980);
  EXPECT_EQ(throttled[0].source_ip, "198.51.100.9");
  EXPECT_EQ(entries(audit::op::kSelfServiceVerify).size(), 21u);
}

}  // namespace
}  // namespace custvault::service
