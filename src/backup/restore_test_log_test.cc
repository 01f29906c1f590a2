// R-BAK-2, R-OPS-2: restore-test records are kept in the backup locations,
// read back newest first, and an overdue restore test is visible.
#include "backup/restore_test_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "common/fake_env.h"

namespace custvault::backup {
namespace {

constexpr int64_t kDay = 86'400'000'000;

class RestoreTestLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("cv_rtlog_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    local_ = (root_ / "local").string();
    offsite_ = (root_ / "offsite").string();
    std::filesystem::create_directories(offsite_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  RestoreTestRecord Record(int64_t at, bool passed) {
    RestoreTestRecord r;
    r.id = "rt-" + std::to_string(at);
    r.started_at_us = at;
    r.duration_ms = 1234;
    r.trigger = "job";
    r.actor_id = "job:restore_test";
    r.backup_id = "b-" + std::to_string(at);
    r.chain = {"full-1", "incr-2"};
    r.passed = passed;
    r.failure = passed ? "" : "customers: 9 found, the manifest says 10";
    r.integrity_custvault_db = "ok";
    r.integrity_audit_db = "ok";
    r.audit_chain_intact = true;
    r.audit_damage = "none";
    r.customers_expected = 10;
    r.customers_found = passed ? 10 : 9;
    r.samples_tried = 10;
    return r;
  }

  FakeEnv env_;
  std::filesystem::path root_;
  std::string local_, offsite_;
};

TEST_F(RestoreTestLogTest, RecordsAreWrittenToBothLocationsAndListedNewestFirst) {
  RestoreTestLog log(&env_, {local_, offsite_});
  ASSERT_TRUE(log.Append(Record(1 * kDay, true)).ok());
  ASSERT_TRUE(log.Append(Record(2 * kDay, false)).ok());
  EXPECT_TRUE(std::filesystem::exists(local_ + "/" + kRestoreTestsFileName));
  EXPECT_TRUE(std::filesystem::exists(offsite_ + "/" + kRestoreTestsFileName));
  auto listed = log.List(10);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, "rt-" + std::to_string(2 * kDay));
  EXPECT_FALSE((*listed)[0].passed);
  EXPECT_EQ((*listed)[0].failure, "customers: 9 found, the manifest says 10");
  EXPECT_EQ((*listed)[1].chain, (std::vector<std::string>{"full-1", "incr-2"}));
  EXPECT_EQ((*listed)[1].customers_found, 10);
  // Only the off-site copy left (the machine was rebuilt): still readable.
  std::filesystem::remove(local_ + "/" + kRestoreTestsFileName);
  listed = log.List(10);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
}

TEST_F(RestoreTestLogTest, RoundTripKeepsEveryFigure) {
  RestoreTestRecord r = Record(5 * kDay, true);
  r.segments_applied = 7;
  r.restored_bytes = 123456789;
  r.audit_entries = 55;
  r.audit_entries_expected = 55;
  r.samples_failed = 0;
  auto back = RestoreTestRecordFromJson(RestoreTestRecordJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(boost::json::serialize(RestoreTestRecordJson(*back)),
            boost::json::serialize(RestoreTestRecordJson(r)));
}

TEST_F(RestoreTestLogTest, OverdueWhenNoPassWithin92Days) {
  RestoreTestLog log(&env_, {local_});
  auto status = log.CurrentStatus(100 * kDay);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->overdue) << "never tested is overdue";
  EXPECT_EQ(status->days_since_last_pass, -1);

  ASSERT_TRUE(log.Append(Record(10 * kDay, true)).ok());
  status = log.CurrentStatus(10 * kDay + 92 * kDay);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->overdue);
  EXPECT_EQ(status->days_since_last_pass, 92);
  // A failed test does not reset the clock.
  ASSERT_TRUE(log.Append(Record(100 * kDay, false)).ok());
  status = log.CurrentStatus(10 * kDay + 93 * kDay);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->overdue);
  EXPECT_FALSE(status->last->passed);
  EXPECT_EQ(status->last_passed->started_at_us, 10 * kDay);
}

TEST_F(RestoreTestLogTest, KeepsAtMostTheNewestRecords) {
  RestoreTestLog log(&env_, {local_});
  for (size_t i = 1; i <= kRestoreTestRecordsMax + 5; ++i) {
    ASSERT_TRUE(log.Append(Record(static_cast<int64_t>(i) * kDay, true)).ok());
  }
  auto listed = log.List(static_cast<int>(kRestoreTestRecordsMax));
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), kRestoreTestRecordsMax);
  EXPECT_EQ(listed->back().started_at_us, 6 * kDay);
  EXPECT_FALSE(log.List(0).ok());
}

TEST_F(RestoreTestLogTest, AnUnreachableOffsiteIsReportedButTheLocalRecordStays) {
  // The off-site "directory" is a file: it cannot be created.
  std::filesystem::create_directories(root_);
  { std::ofstream(root_ / "offsite-file") << "x"; }
  RestoreTestLog log(&env_, {local_, (root_ / "offsite-file").string()});
  const Status appended = log.Append(Record(kDay, true));
  EXPECT_EQ(appended.code(), ErrorCode::kUnavailable) << appended.ToString();
  EXPECT_NE(appended.message().find("offsite-file"), std::string::npos);
  auto listed = log.List(5);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
}

TEST_F(RestoreTestLogTest, AMissingOffsiteDirectoryIsNotCreated) {
  std::filesystem::remove_all(offsite_);
  RestoreTestLog log(&env_, {local_, offsite_});
  EXPECT_EQ(log.Append(Record(kDay, true)).code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(std::filesystem::exists(offsite_));
  EXPECT_TRUE(std::filesystem::exists(local_ + "/" + kRestoreTestsFileName));
}

TEST_F(RestoreTestLogTest, ADamagedFileIsNamed) {
  std::filesystem::create_directories(local_);
  { std::ofstream(local_ + "/" + kRestoreTestsFileName) << "{not json"; }
  RestoreTestLog log(&env_, {local_});
  auto listed = log.List(5);
  EXPECT_EQ(listed.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(listed.status().message().find(kRestoreTestsFileName), std::string::npos);
}

}  // namespace
}  // namespace custvault::backup
