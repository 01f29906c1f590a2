#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "store/search_budget_store.h"

namespace custvault::store {
namespace {

namespace fs = std::filesystem;

class SqliteSearchBudgetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_search_budget_store_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Reopen();
  }
  void Reopen() {
    store_.reset();
    base_.reset();
    Result<std::unique_ptr<Store>> base =
        OpenSqliteStore({.path = dir_ + "/custvault.db", .readers = 2, .busy_timeout_ms = 5000});
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    base_ = std::move(*base);
    Result<std::unique_ptr<SearchBudgetStore>> store = OpenSqliteSearchBudgetStore(*base_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    base_.reset();
    fs::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<Store> base_;
  std::unique_ptr<SearchBudgetStore> store_;
};

// Issue 10.1: an account never seen has an empty budget row.
TEST_F(SqliteSearchBudgetStoreTest, UnknownAccountReadsAsAllZero) {
  Result<SearchBudgetRow> row = store_->Get("acc_1");
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ(row->account_id, "acc_1");
  EXPECT_EQ(row->searches, 0);
  EXPECT_EQ(row->locked_at_us, 0);
}

// Issue 10.1: a lock is in the database, so it holds after a reopen.
TEST_F(SqliteSearchBudgetStoreTest, LockSurvivesReopenAndIsListed) {
  Result<SearchBudgetRow> written = store_->Modify("acc_1", [](SearchBudgetRow& row) {
    row.window_start_us = 100;
    row.searches = 3;
    row.misses = 2;
    row.refused = 1;
    row.locked_at_us = 500;
    row.lock_reason = "budget_refusals";
    return Status::Ok();
  });
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  Reopen();
  Result<SearchBudgetRow> row = store_->Get("acc_1");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->searches, 3);
  EXPECT_EQ(row->misses, 2);
  EXPECT_EQ(row->refused, 1);
  EXPECT_EQ(row->locked_at_us, 500);
  EXPECT_EQ(row->lock_reason, "budget_refusals");
  Result<std::vector<SearchBudgetRow>> locked = store_->ListLocked(10);
  ASSERT_TRUE(locked.ok());
  ASSERT_EQ(locked->size(), 1u);
  EXPECT_EQ((*locked)[0].account_id, "acc_1");
}

// Issue 10.1: a change that fails writes nothing.
TEST_F(SqliteSearchBudgetStoreTest, FailedChangeWritesNothing) {
  Result<SearchBudgetRow> failed = store_->Modify("acc_1", [](SearchBudgetRow& row) {
    row.searches = 9;
    return Status(ErrorCode::kRateLimited, "spent");
  });
  EXPECT_EQ(failed.status().code(), ErrorCode::kRateLimited);
  EXPECT_EQ(store_->Get("acc_1")->searches, 0);
}

// Issue 10.1: racing searches each take one unit; none is lost.
TEST_F(SqliteSearchBudgetStoreTest, ConcurrentModifiesAreSerialised) {
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        Result<SearchBudgetRow> row = store_->Modify("acc_1", [](SearchBudgetRow& r) {
          ++r.searches;
          return Status::Ok();
        });
        if (!row.ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->Get("acc_1")->searches, kThreads * kEach);
}

TEST_F(SqliteSearchBudgetStoreTest, RefusesOversizedAccountIds) {
  EXPECT_EQ(store_->Get(std::string(65, 'a')).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->Get("").status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace custvault::store
