#include "store/sqlite/sqlite_self_service_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

namespace custvault::store::sqlite {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kHourUs = 3600LL * 1'000'000;
constexpr int64_t kNow = 1'796'000'000'000'000;

class SqliteSelfServiceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_self_service_store_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Result<std::unique_ptr<Store>> base =
        OpenSqliteStore({.path = dir_ + "/custvault.db", .readers = 2, .busy_timeout_ms = 2000});
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    base_ = std::move(*base);
    Result<std::unique_ptr<SelfServiceStore>> store = OpenSqliteSelfServiceStore(*base_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    base_.reset();
    fs::remove_all(dir_);
  }

  ChallengeRecord Challenge(const std::string& id, const std::string& customer_id,
                            const std::string& ip, int64_t at_us = kNow) {
    ChallengeRecord c;
    c.id = id;
    c.customer_id = customer_id;
    c.ip = ip;
    c.created_at_us = at_us;
    c.expires_at_us = at_us + 300LL * 1'000'000;
    c.code_salt = std::string(16, 's');
    c.code_mac = std::string(32, 'm');
    c.mac_key_version = 1;
    return c;
  }

  ChallengeLimits Limits(int per_customer, int per_ip, int64_t now = kNow) {
    return {now - kHourUs, per_customer, per_ip};
  }

  std::string dir_;
  std::unique_ptr<Store> base_;
  std::unique_ptr<SelfServiceStore> store_;
};

TEST_F(SqliteSelfServiceStoreTest, ChallengeRoundTrips) {
  ChallengeRecord c = Challenge("ch_1", "C20261129000001", "10.0.0.1");
  c.decoy = true;
  Result<ChallengeInsertOutcome> inserted = store_->InsertChallengeWithinLimits(c, Limits(5, 30));
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(inserted->refused, ChallengeInsertOutcome::Refused::kNone);
  Result<ChallengeRecord> got = store_->GetChallenge("ch_1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->customer_id, "C20261129000001");
  EXPECT_EQ(got->ip, "10.0.0.1");
  EXPECT_TRUE(got->decoy);
  EXPECT_EQ(got->code_salt, c.code_salt);
  EXPECT_EQ(got->code_mac, c.code_mac);
  EXPECT_EQ(got->attempts, 0);
  EXPECT_EQ(got->token_hash, "");
  EXPECT_EQ(store_->GetChallenge("ch_missing").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->InsertChallengeWithinLimits(c, Limits(5, 30)).status().code(),
            ErrorCode::kConflict);
}

TEST_F(SqliteSelfServiceStoreTest, PerCustomerLimitCountsTheLastHourAndNamesTheRetryTime) {
  for (int i = 0; i < 3; ++i) {
    ChallengeRecord c = Challenge("ch_" + std::to_string(i), "C1", "10.0.0." + std::to_string(i),
                                  kNow + i * 1'000'000);
    ASSERT_EQ(store_->InsertChallengeWithinLimits(c, Limits(3, 30))->refused,
              ChallengeInsertOutcome::Refused::kNone);
  }
  Result<ChallengeInsertOutcome> fourth = store_->InsertChallengeWithinLimits(
      Challenge("ch_x", "C1", "10.0.0.9", kNow + 10'000'000), Limits(3, 30, kNow + 10'000'000));
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(fourth->refused, ChallengeInsertOutcome::Refused::kPerCustomer);
  EXPECT_EQ(fourth->oldest_counted_at_us, kNow);  // the first start frees the slot
  EXPECT_EQ(store_->GetChallenge("ch_x").status().code(), ErrorCode::kNotFound);
  // Another customer id is not affected.
  EXPECT_EQ(store_->InsertChallengeWithinLimits(Challenge("ch_y", "C2", "10.0.0.9"), Limits(3, 30))
                ->refused,
            ChallengeInsertOutcome::Refused::kNone);
  // An hour after the first start, one more fits.
  const int64_t later = kNow + kHourUs;
  EXPECT_EQ(store_
                ->InsertChallengeWithinLimits(Challenge("ch_z", "C1", "10.0.0.9", later),
                                              Limits(3, 30, later))
                ->refused,
            ChallengeInsertOutcome::Refused::kNone);
}

TEST_F(SqliteSelfServiceStoreTest, PerIpLimitIsCheckedFirst) {
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(store_
                  ->InsertChallengeWithinLimits(
                      Challenge("ch_" + std::to_string(i), "C" + std::to_string(i), "10.0.0.1"),
                      Limits(1, 2))
                  ->refused,
              ChallengeInsertOutcome::Refused::kNone);
  }
  // C0 is at its limit too, but the IP's limit answers first.
  EXPECT_EQ(store_->InsertChallengeWithinLimits(Challenge("ch_2", "C0", "10.0.0.1"), Limits(1, 2))
                ->refused,
            ChallengeInsertOutcome::Refused::kPerIp);
  EXPECT_EQ(store_->InsertChallengeWithinLimits(Challenge("ch_3", "C0", "10.0.0.2"), Limits(1, 2))
                ->refused,
            ChallengeInsertOutcome::Refused::kPerCustomer);
}

TEST_F(SqliteSelfServiceStoreTest, ParallelStartsNeverPassTheLimitTogether) {
  constexpr int kThreads = 16;
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Result<ChallengeInsertOutcome> r = store_->InsertChallengeWithinLimits(
          Challenge("ch_" + std::to_string(i), "C1", "10.0.0." + std::to_string(i)), Limits(5, 30));
      if (r.ok() && r->refused == ChallengeInsertOutcome::Refused::kNone) ++accepted;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 5);
}

TEST_F(SqliteSelfServiceStoreTest, AttemptsAreCountedUntilTheMaximumOrTheExpiry) {
  ASSERT_TRUE(
      store_->InsertChallengeWithinLimits(Challenge("ch_1", "C1", "ip"), Limits(5, 30)).ok());
  for (int i = 1; i <= 3; ++i) {
    Result<ChallengeRecord> row = store_->CountAttempt("ch_1", kNow, 3);
    ASSERT_TRUE(row.ok()) << i;
    EXPECT_EQ(row->attempts, i);
    EXPECT_EQ(row->code_mac, std::string(32, 'm'));
  }
  EXPECT_EQ(store_->CountAttempt("ch_1", kNow, 3).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->GetChallenge("ch_1")->attempts, 3);  // a refused attempt is not counted

  ASSERT_TRUE(
      store_->InsertChallengeWithinLimits(Challenge("ch_2", "C2", "ip"), Limits(5, 30)).ok());
  const int64_t expiry = kNow + 300LL * 1'000'000;
  EXPECT_TRUE(store_->CountAttempt("ch_2", expiry - 1, 5).ok());
  EXPECT_EQ(store_->CountAttempt("ch_2", expiry, 5).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->CountAttempt("ch_unknown", kNow, 5).status().code(), ErrorCode::kNotFound);
}

TEST_F(SqliteSelfServiceStoreTest, ParallelAttemptsAreEachCounted) {
  ASSERT_TRUE(
      store_->InsertChallengeWithinLimits(Challenge("ch_1", "C1", "ip"), Limits(5, 30)).ok());
  constexpr int kThreads = 8;
  std::atomic<int> counted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      if (store_->CountAttempt("ch_1", kNow, 5).ok()) ++counted;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counted.load(), 5);
  EXPECT_EQ(store_->GetChallenge("ch_1")->attempts, 5);
}

TEST_F(SqliteSelfServiceStoreTest, ATokenIsIssuedOnceAndUsedOnceBeforeItsExpiry) {
  ASSERT_TRUE(
      store_->InsertChallengeWithinLimits(Challenge("ch_1", "C1", "ip"), Limits(5, 30)).ok());
  const std::string hash(32, 'h');
  const int64_t token_expiry = kNow + 600LL * 1'000'000;
  ASSERT_TRUE(store_->IssueToken("ch_1", hash, kNow, token_expiry).ok());
  EXPECT_EQ(store_->IssueToken("ch_1", std::string(32, 'i'), kNow, token_expiry).code(),
            ErrorCode::kNotFound);
  // A verified challenge takes no more attempts.
  EXPECT_EQ(store_->CountAttempt("ch_1", kNow, 5).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->ConsumeToken(hash, token_expiry).status().code(), ErrorCode::kNotFound);
  Result<ChallengeRecord> used = store_->ConsumeToken(hash, token_expiry - 1);
  ASSERT_TRUE(used.ok()) << used.status().ToString();
  EXPECT_EQ(used->id, "ch_1");
  EXPECT_EQ(used->customer_id, "C1");
  EXPECT_EQ(store_->ConsumeToken(hash, kNow).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->ConsumeToken(std::string(32, 'x'), kNow).status().code(), ErrorCode::kNotFound);
}

TEST_F(SqliteSelfServiceStoreTest, RowsOlderThanADayArePrunedByLaterInserts) {
  ASSERT_TRUE(
      store_->InsertChallengeWithinLimits(Challenge("ch_old", "C1", "ip"), Limits(5, 30)).ok());
  const int64_t later = kNow + kChallengeRetentionUs + 1;
  ASSERT_TRUE(store_
                  ->InsertChallengeWithinLimits(Challenge("ch_new", "C2", "ip", later),
                                                Limits(5, 30, later))
                  .ok());
  EXPECT_EQ(store_->GetChallenge("ch_old").status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->GetChallenge("ch_new").ok());
}

TEST_F(SqliteSelfServiceStoreTest, OversizedValuesAreRefusedBeforeAnyWrite) {
  ChallengeRecord c = Challenge(std::string(kChallengeIdBytesMax + 1, 'c'), "C1", "ip");
  EXPECT_EQ(store_->InsertChallengeWithinLimits(c, Limits(5, 30)).status().code(),
            ErrorCode::kInvalidArgument);
  c = Challenge("ch_1", std::string(kChallengeCustomerIdBytesMax + 1, 'C'), "ip");
  EXPECT_EQ(store_->InsertChallengeWithinLimits(c, Limits(5, 30)).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      store_->ConsumeToken(std::string(kChallengeSecretBytesMax + 1, 'h'), kNow).status().code(),
      ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace custvault::store::sqlite
