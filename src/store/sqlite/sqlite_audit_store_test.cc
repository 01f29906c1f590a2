// R-AUD-3 (append-only triggers, retention), R-AUD-4 (search), R-AUD-5
// (one transaction per batch) at the storage level.
#include "store/sqlite/sqlite_audit_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>

namespace custvault::store::sqlite {
namespace {

constexpr int64_t kDayUs = 86'400'000'000;

int64_t RealNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AuditEntryRow Entry(int64_t seq, int64_t time_us, std::string actor, std::string customer = "",
                    std::string operation = "customer.view", std::string ip = "10.0.0.1") {
  AuditEntryRow row;
  row.seq = seq;
  row.time_us = time_us;
  row.actor_id = std::move(actor);
  row.actor_role = "info_manager";
  row.source_ip = std::move(ip);
  row.operation = std::move(operation);
  row.customer_id = std::move(customer);
  row.result = "ok";
  row.details = "{}";
  row.prev_hash = std::string(32, static_cast<char>(seq - 1));
  row.hash = std::string(32, static_cast<char>(seq));
  return row;
}

AuditHeadRow HeadOf(const AuditEntryRow& row) {
  return AuditHeadRow{row.seq, row.hash, row.time_us, 1, std::string(32, 'm')};
}

class SqliteAuditStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "cv_audit_store_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/audit.db";
    auto store = SqliteAuditStore::Open({.path = path_});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Append(std::vector<AuditEntryRow> rows) {
    ASSERT_TRUE(store_->AppendBatch(rows, {}, {}, HeadOf(rows.back())).ok());
  }

  // Raw SQL on the file, as an attacker (or a careless operator) would run it.
  int RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(db);
    return rc;
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteAuditStore> store_;
};

TEST_F(SqliteAuditStoreTest, BatchAndHeadAreWrittenTogetherAndReadBack) {
  Append({Entry(1, 100, "alice"), Entry(2, 200, "bob")});
  auto head = store_->Head();
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->seq, 2);
  EXPECT_EQ(store_->EntryCount().value(), 2);
  EXPECT_EQ((*store_->LastEntry())->actor_id, "bob");
  EXPECT_EQ((*store_->FirstEntry())->actor_id, "alice");
  std::vector<int64_t> seen;
  ASSERT_TRUE(store_
                  ->ScanEntries(1, nullptr,
                                [&](const AuditEntryView& view) {
                                  seen.push_back(view.seq);
                                  EXPECT_EQ(view.hash.size(), 32u);
                                  return Status::Ok();
                                })
                  .ok());
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2}));
}

TEST_F(SqliteAuditStoreTest, AFailedBatchStoresNothingOfIt) {
  Append({Entry(1, 100, "alice")});
  // Entry 1 again: the primary key refuses it, and entry 2 of the same
  // batch must not be stored either, nor the head moved.
  std::vector<AuditEntryRow> rows = {Entry(2, 200, "bob"), Entry(1, 300, "eve")};
  EXPECT_FALSE(store_->AppendBatch(rows, {}, {}, HeadOf(rows.back())).ok());
  EXPECT_EQ(store_->EntryCount().value(), 1);
  EXPECT_EQ((*store_->Head().value()).seq, 1);
}

// Issue 10.3 (R-AUD-6): an outbox entry's token is recorded as chained in
// the batch's own commit, and only then.
TEST_F(SqliteAuditStoreTest, R_AUD_6_OutboxTokensAreMarkedChainedWithTheirBatch) {
  AuditEntryRow first = Entry(1, 100, "alice");
  first.outbox_token = std::string(16, 'a');
  Append({first, Entry(2, 200, "bob")});
  EXPECT_EQ(store_->ChainedOutboxTokens({std::string(16, 'a'), std::string(16, 'b')}).value(),
            std::vector<std::string>{std::string(16, 'a')});
  // A failed batch marks nothing.
  AuditEntryRow again = Entry(1, 300, "eve");
  again.outbox_token = std::string(16, 'b');
  std::vector<AuditEntryRow> rows = {again};
  EXPECT_FALSE(store_->AppendBatch(rows, {}, {}, HeadOf(again)).ok());
  EXPECT_TRUE(store_->ChainedOutboxTokens({std::string(16, 'b')})->empty());
  EXPECT_EQ(store_->PruneChainedOutboxTokens(101).value(), 1);
  EXPECT_TRUE(store_->ChainedOutboxTokens({std::string(16, 'a')})->empty());
}

// A batch continues the stored head or is refused whole: a checkpoint-only
// batch (no entries, so no seq key to hit) made on a stale head must not put
// the head back (a second process on the file had appended meanwhile).
TEST_F(SqliteAuditStoreTest, RAud5ABatchThatDoesNotContinueTheStoredHeadIsAConflict) {
  Append({Entry(1, 100, "alice")});
  Append({Entry(2, 200, "bob")});
  const AuditEntryRow stale = Entry(1, 100, "alice");
  AuditCheckpointRow checkpoint{1, stale.hash, 100, "shutdown", 1, std::string(32, 'm')};
  std::vector<AuditCheckpointRow> checkpoints = {checkpoint};
  Status status = store_->AppendBatch({}, checkpoints, {}, HeadOf(stale));
  EXPECT_EQ(status.code(), ErrorCode::kConflict) << status.ToString();
  EXPECT_EQ((*store_->Head().value()).seq, 2);
  EXPECT_TRUE(store_->Checkpoints()->empty());
  // A batch that claims to be the first while a head exists is refused too;
  // one that continues the head is not.
  EXPECT_EQ(store_->AppendBatch({}, {}, {}, AuditHeadRow{0, "", 0, 1, std::string(32, 'm')}).code(),
            ErrorCode::kConflict);
  std::vector<AuditEntryRow> next = {Entry(3, 300, "carol")};
  EXPECT_TRUE(store_->AppendBatch(next, {}, {}, HeadOf(next.back())).ok());
  EXPECT_EQ((*store_->Head().value()).seq, 3);
}

TEST_F(SqliteAuditStoreTest, RAud3DatabaseRefusesUpdatesOfEntriesAndCheckpoints) {
  Append({Entry(1, 100, "alice")});
  AuditCheckpointRow checkpoint{1, std::string(32, 'h'), 100, "periodic", 1, std::string(32, 'm')};
  std::vector<AuditCheckpointRow> checkpoints = {checkpoint};
  std::vector<AuditEntryRow> rows = {Entry(2, 200, "bob")};
  ASSERT_TRUE(store_->AppendBatch(rows, checkpoints, {}, HeadOf(rows.back())).ok());
  EXPECT_NE(RawExec("UPDATE audit_entries SET actor_id = 'mallory' WHERE seq = 1"), SQLITE_OK);
  EXPECT_NE(RawExec("UPDATE audit_checkpoints SET seq = 2"), SQLITE_OK);
  EXPECT_NE(RawExec("DELETE FROM audit_checkpoints"), SQLITE_OK);
  EXPECT_EQ((*store_->FirstEntry())->actor_id, "alice");
  EXPECT_EQ(store_->Checkpoints()->size(), 1u);
}

TEST_F(SqliteAuditStoreTest, RAud3DatabaseRefusesToDeleteEntriesYoungerThan1096Days) {
  const int64_t now = RealNowUs();
  Append({Entry(1, now - 1100 * kDayUs, "old"), Entry(2, now - 1000 * kDayUs, "young"),
          Entry(3, now, "today")});
  EXPECT_NE(RawExec("DELETE FROM audit_entries WHERE seq = 2"), SQLITE_OK);
  EXPECT_NE(RawExec("DELETE FROM audit_entries"), SQLITE_OK);  // all or nothing
  EXPECT_EQ(store_->EntryCount().value(), 3);
  // Even the purge code path cannot delete the young entry.
  AuditCheckpointRow purge{2, std::string(32, 2), now, "purge", 1, std::string(32, 'm')};
  EXPECT_FALSE(store_->Purge(2, purge).ok());
  EXPECT_EQ(store_->EntryCount().value(), 3);
  EXPECT_TRUE(store_->Checkpoints()->empty());  // the checkpoint was rolled back too
  // The old one may go, with its checkpoint.
  AuditCheckpointRow old_purge{1, std::string(32, 1), now, "purge", 1, std::string(32, 'm')};
  auto deleted = store_->Purge(1, old_purge);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ((*store_->FirstEntry())->seq, 2);
  EXPECT_EQ(store_->Checkpoints()->size(), 1u);
}

TEST_F(SqliteAuditStoreTest, RAud4SearchFiltersAndPagesInSeqOrder) {
  std::vector<AuditEntryRow> rows;
  for (int64_t seq = 1; seq <= 30; ++seq) {
    rows.push_back(Entry(seq, seq * 1000, seq % 3 == 0 ? "alice" : "bob",
                         seq % 5 == 0 ? "C20260101000005" : "",
                         seq % 2 == 0 ? "customer.view" : "customer.update",
                         seq % 7 == 0 ? "192.0.2.7" : "10.0.0.1"));
  }
  Append(rows);
  AuditQuery query;
  query.actor_id = "alice";
  query.limit = 4;
  auto page = store_->Search(query);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->size(), 4u);
  EXPECT_EQ((*page)[0].seq, 3);
  EXPECT_EQ((*page)[3].seq, 12);
  query.after_seq = page->back().seq;
  page = store_->Search(query);
  ASSERT_EQ(page->size(), 4u);
  EXPECT_EQ((*page)[0].seq, 15);

  AuditQuery by_customer;
  by_customer.customer_id = "C20260101000005";
  by_customer.operation = "customer.view";
  page = store_->Search(by_customer);
  ASSERT_EQ(page->size(), 3u);  // 10, 20, 30
  EXPECT_EQ((*page)[2].seq, 30);

  AuditQuery by_ip;
  by_ip.source_ip = "192.0.2.7";
  by_ip.from_us = 10'000;
  by_ip.to_us = 28'000;
  page = store_->Search(by_ip);
  ASSERT_EQ(page->size(), 2u);  // 14, 21 (7 is before, 28 is at the exclusive end)
  EXPECT_EQ((*page)[0].seq, 14);

  AuditQuery by_time;
  by_time.from_us = 5'000;
  by_time.to_us = 8'000;
  page = store_->Search(by_time);
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].seq, 5);

  AuditQuery too_big;
  too_big.limit = kAuditPageLimitMax + 1;
  EXPECT_EQ(store_->Search(too_big).status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(SqliteAuditStoreTest, AlertsAreListedAndAcknowledgedOnce) {
  auto first = store_->InsertAlert({0, "off_hours", "alice", 5, "summary", "", 0});
  auto second = store_->InsertAlert({0, "bulk_views", "bob", 6, "summary", "", 0});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(store_->AcknowledgeAlert(*first, "auditor1", 7).ok());
  EXPECT_EQ(store_->AcknowledgeAlert(*first, "auditor1", 8).code(), ErrorCode::kConflict);
  EXPECT_EQ(store_->AcknowledgeAlert(999, "auditor1", 8).code(), ErrorCode::kNotFound);
  auto open = store_->Alerts(true, 0, 10);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].rule, "bulk_views");
  auto all = store_->Alerts(false, 0, 10);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].acknowledged_by, "auditor1");
}

TEST_F(SqliteAuditStoreTest, LoginIpsAreRememberedOnce) {
  std::vector<AuditEntryRow> rows = {Entry(1, 1, "alice")};
  std::vector<LoginIpRow> ips = {{"alice", "10.0.0.1"}, {"alice", "10.0.0.1"}};
  ASSERT_TRUE(store_->AppendBatch(rows, {}, ips, HeadOf(rows.back())).ok());
  EXPECT_EQ(store_->LoginIps(100)->size(), 1u);
}

TEST_F(SqliteAuditStoreTest, SchemaSurvivesReopen) {
  Append({Entry(1, 1, "alice")});
  store_.reset();
  auto again = SqliteAuditStore::Open({.path = path_});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->EntryCount().value(), 1);
  EXPECT_EQ(std::filesystem::status(path_).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

}  // namespace
}  // namespace custvault::store::sqlite
