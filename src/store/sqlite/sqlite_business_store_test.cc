// Tests of the business tables (R-TAG-2): limits, foreign keys and the
// cascade of a customer delete, paging, complaint closing, and the totals
// the tag rules read.
#include "store/sqlite/sqlite_business_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "store/cursor.h"
#include "store/sqlite/migrations.h"

namespace custvault::store::sqlite {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDay = 86'400'000'000;
constexpr int64_t kT0 = 1'767'225'600'000'000;  // 2026-01-01T00:00:00Z

class SqliteBusinessStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_business_store_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Result<std::unique_ptr<Store>> base =
        OpenSqliteStore({.path = dir_ + "/custvault.db", .readers = 2, .busy_timeout_ms = 2000});
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    base_ = std::move(*base);
    Result<std::unique_ptr<BusinessStore>> business = OpenSqliteBusinessStore(*base_);
    ASSERT_TRUE(business.ok()) << business.status().ToString();
    store_ = std::move(*business);
  }
  void TearDown() override {
    store_.reset();
    base_.reset();
    fs::remove_all(dir_);
  }

  void AddCustomer(const std::string& id) {
    CustomerRecord record;
    record.id = id;
    record.channel = "staff:u1";
    record.created_at_us = kT0;
    record.updated_at_us = kT0;
    record.wrapped_key = "wrapped-key-" + id;
    record.fields = {{"name", "envelope-" + id}};
    ASSERT_TRUE(base_->InsertCustomer(record).ok());
  }

  static TransactionRecord Txn(const std::string& customer, int64_t amount, int64_t at,
                               const std::string& reference = "") {
    TransactionRecord r;
    r.customer_id = customer;
    r.amount_fen = amount;
    r.occurred_at_us = at;
    r.channel = "store:SH-001";
    r.reference = reference;
    r.created_by = "staff:u1";
    r.created_at_us = at;
    return r;
  }

  static ComplaintRecord Complaint(const std::string& customer, const std::string& id,
                                   int64_t opened) {
    ComplaintRecord r;
    r.id = id;
    r.customer_id = customer;
    r.opened_at_us = opened;
    r.summary_sealed = "sealed-" + id;
    r.created_by = "staff:u1";
    r.created_at_us = opened;
    return r;
  }

  static CooperationRecord Cooperation(const std::string& customer, const std::string& id,
                                       int64_t started) {
    CooperationRecord r;
    r.id = id;
    r.customer_id = customer;
    r.started_at_us = started;
    r.kind = "distributor";
    r.summary_sealed = "sealed-" + id;
    r.created_by = "staff:u1";
    r.created_at_us = started;
    return r;
  }

  // Rows of a business table for one customer, read with plain SQL.
  int64_t RowsOf(const char* sql, const std::string& customer) {
    auto* sqlite = dynamic_cast<SqliteStore*>(base_.get());
    Result<PooledConnection> reader = sqlite->AcquireReader();
    EXPECT_TRUE(reader.ok());
    Result<std::unique_ptr<Statement>> select = (*reader)->Prepare(sql, "count");
    EXPECT_TRUE(select.ok()) << select.status().ToString();
    (*select)->BindText(1, customer);
    Result<bool> row = (*select)->Step();
    EXPECT_TRUE(row.ok() && *row);
    return (*select)->ColumnInt64(0);
  }

  std::string dir_;
  std::unique_ptr<Store> base_;
  std::unique_ptr<BusinessStore> store_;
};

constexpr char kCountTransactions[] =
    "SELECT count(*) FROM business_transactions WHERE customer_id = ?1";
constexpr char kCountComplaints[] =
    "SELECT count(*) FROM business_complaints WHERE customer_id = ?1";
constexpr char kCountCooperation[] =
    "SELECT count(*) FROM business_cooperation WHERE customer_id = ?1";

TEST_F(SqliteBusinessStoreTest, SchemaIsAtTheLatestVersion) {
  Result<int> version = base_->SchemaVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, LatestSchemaVersion());
  EXPECT_GE(*version, 3);
}

TEST_F(SqliteBusinessStoreTest, TransactionsRoundTripNewestFirstAcrossPages) {  // R-TAG-2
  AddCustomer("C1");
  AddCustomer("C2");
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    Result<int64_t> id = store_->InsertTransaction(Txn("C1", 100 + i, kT0 + i * kDay));
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ids.push_back(*id);
  }
  // Two at the same instant: the later id comes first.
  Result<int64_t> tie = store_->InsertTransaction(Txn("C1", -50, kT0 + 4 * kDay, "R-9"));
  ASSERT_TRUE(tie.ok());
  ASSERT_TRUE(store_->InsertTransaction(Txn("C2", 7, kT0)).ok());

  std::vector<TransactionRecord> seen;
  std::optional<std::string> cursor;
  int pages = 0;
  do {
    Result<TransactionPage> page = store_->ListTransactions("C1", cursor, 2);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    seen.insert(seen.end(), page->items.begin(), page->items.end());
    cursor = page->next_cursor;
    ++pages;
  } while (cursor && pages < 10);
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen[0].id, *tie);
  EXPECT_EQ(seen[0].amount_fen, -50);
  EXPECT_EQ(seen[0].reference, "R-9");
  EXPECT_EQ(seen[1].id, ids[4]);
  EXPECT_EQ(seen[5].id, ids[0]);
  EXPECT_EQ(seen[5].channel, "store:SH-001");
  EXPECT_EQ(seen[5].created_by, "staff:u1");
  EXPECT_EQ(seen[5].occurred_at_us, kT0);
  for (const TransactionRecord& r : seen) EXPECT_EQ(r.customer_id, "C1");
  EXPECT_EQ(store_->ListTransactions("C1", std::string("not-a-cursor"), 2).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->ListTransactions("C1", std::nullopt, 0).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(SqliteBusinessStoreTest, LimitsAreCheckedBeforeAnythingIsWritten) {
  AddCustomer("C1");
  const auto refused = [&](TransactionRecord r) {
    return store_->InsertTransaction(r).status().code() == ErrorCode::kInvalidArgument;
  };
  EXPECT_TRUE(refused(Txn("C1", 0, kT0)));
  EXPECT_TRUE(refused(Txn("C1", kAmountFenAbsMax + 1, kT0)));
  EXPECT_TRUE(refused(Txn("C1", -kAmountFenAbsMax - 1, kT0)));
  TransactionRecord long_channel = Txn("C1", 1, kT0);
  long_channel.channel = std::string(kBusinessTextBytesMax + 1, 'a');
  EXPECT_TRUE(refused(long_channel));
  TransactionRecord no_channel = Txn("C1", 1, kT0);
  no_channel.channel.clear();
  EXPECT_TRUE(refused(no_channel));
  EXPECT_TRUE(refused(Txn("C1", 1, kT0, std::string(kBusinessTextBytesMax + 1, 'r'))));
  EXPECT_TRUE(refused(Txn(std::string(kCustomerIdBytesMax + 1, 'C'), 1, kT0)));
  EXPECT_TRUE(store_->InsertTransaction(Txn("C1", kAmountFenAbsMax, kT0)).ok());
  EXPECT_TRUE(store_->InsertTransaction(Txn("C1", -kAmountFenAbsMax, kT0)).ok());

  ComplaintRecord big = Complaint("C1", "K1", kT0);
  big.summary_sealed = std::string(kSealedSummaryBytesMax + 1, 's');
  EXPECT_EQ(store_->InsertComplaint(big).code(), ErrorCode::kInvalidArgument);
  ComplaintRecord closed_without_time = Complaint("C1", "K2", kT0);
  closed_without_time.status = "closed";
  EXPECT_EQ(store_->InsertComplaint(closed_without_time).code(), ErrorCode::kInvalidArgument);
  ComplaintRecord closed_before_opened = Complaint("C1", "K3", kT0);
  closed_before_opened.status = "closed";
  closed_before_opened.closed_at_us = kT0 - 1;
  EXPECT_EQ(store_->InsertComplaint(closed_before_opened).code(), ErrorCode::kInvalidArgument);
  CooperationRecord ended_early = Cooperation("C1", "P1", kT0);
  ended_early.ended_at_us = kT0 - 1;
  EXPECT_EQ(store_->InsertCooperation(ended_early).code(), ErrorCode::kInvalidArgument);
  CooperationRecord no_kind = Cooperation("C1", "P2", kT0);
  no_kind.kind.clear();
  EXPECT_EQ(store_->InsertCooperation(no_kind).code(), ErrorCode::kInvalidArgument);

  EXPECT_EQ(RowsOf(kCountTransactions, "C1"), 2);
  EXPECT_EQ(RowsOf(kCountComplaints, "C1"), 0);
  EXPECT_EQ(RowsOf(kCountCooperation, "C1"), 0);
}

TEST_F(SqliteBusinessStoreTest, ABatchIsAllOrNothingAndNamesTheBadRow) {
  AddCustomer("C1");
  std::vector<TransactionRecord> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(Txn("C1", 10, kT0 + i));
  batch[17].amount_fen = 0;
  Status bad = store_->InsertTransactions(batch);
  EXPECT_EQ(bad.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("transaction 17"), std::string::npos) << bad.message();
  // A row whose customer does not exist fails inside the write: still nothing kept.
  batch[17] = Txn("C-missing", 10, kT0);
  Status missing = store_->InsertTransactions(batch);
  EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.message().find("transaction 17"), std::string::npos) << missing.message();
  EXPECT_EQ(RowsOf(kCountTransactions, "C1"), 0);

  batch[17] = Txn("C1", 10, kT0);
  ASSERT_TRUE(store_->InsertTransactions(batch).ok());
  EXPECT_EQ(RowsOf(kCountTransactions, "C1"), 100);

  std::vector<TransactionRecord> too_many(kTransactionBatchMax + 1, Txn("C1", 1, kT0));
  EXPECT_EQ(store_->InsertTransactions(too_many).code(), ErrorCode::kTooLarge);
  EXPECT_TRUE(store_->InsertTransactions({}).ok());
}

TEST_F(SqliteBusinessStoreTest, ARecordOfAnUnknownCustomerIsNotFound) {
  EXPECT_EQ(store_->InsertTransaction(Txn("C404", 1, kT0)).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->InsertComplaint(Complaint("C404", "K1", kT0)).code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->InsertCooperation(Cooperation("C404", "P1", kT0)).code(), ErrorCode::kNotFound);
}

TEST_F(SqliteBusinessStoreTest, AReferenceIsUniquePerChannel) {
  AddCustomer("C1");
  AddCustomer("C2");
  ASSERT_TRUE(store_->InsertTransaction(Txn("C1", 1, kT0, "receipt-1")).ok());
  EXPECT_EQ(store_->InsertTransaction(Txn("C2", 1, kT0, "receipt-1")).status().code(),
            ErrorCode::kConflict);
  TransactionRecord other_channel = Txn("C2", 1, kT0, "receipt-1");
  other_channel.channel = "app";
  EXPECT_TRUE(store_->InsertTransaction(other_channel).ok());
  // Without a reference there is nothing to be unique.
  EXPECT_TRUE(store_->InsertTransaction(Txn("C1", 1, kT0)).ok());
  EXPECT_TRUE(store_->InsertTransaction(Txn("C1", 1, kT0)).ok());
}

TEST_F(SqliteBusinessStoreTest, AComplaintClosesOnceAndOnlyForItsCustomer) {
  AddCustomer("C1");
  AddCustomer("C2");
  ASSERT_TRUE(store_->InsertComplaint(Complaint("C1", "K1", kT0)).ok());
  EXPECT_EQ(store_->InsertComplaint(Complaint("C1", "K1", kT0)).code(), ErrorCode::kConflict);

  EXPECT_EQ(store_->CloseComplaint("C2", "K1", kT0 + 1, "staff:u2").code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->GetComplaint("C2", "K1").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->CloseComplaint("C1", "K1", kT0 - 1, "staff:u2").code(),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(store_->CloseComplaint("C1", "K1", kT0, "staff:u2").ok());  // same instant is fine
  EXPECT_EQ(store_->CloseComplaint("C1", "K1", kT0 + 5, "staff:u2").code(), ErrorCode::kConflict);

  Result<ComplaintRecord> got = store_->GetComplaint("C1", "K1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, "closed");
  EXPECT_EQ(got->closed_at_us, kT0);
  EXPECT_EQ(got->closed_by, "staff:u2");
  EXPECT_EQ(got->summary_sealed, "sealed-K1");
  EXPECT_EQ(got->created_by, "staff:u1");
}

TEST_F(SqliteBusinessStoreTest, ComplaintsAndCooperationListNewestFirst) {
  AddCustomer("C1");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        store_->InsertComplaint(Complaint("C1", "K" + std::to_string(i), kT0 + i * kDay)).ok());
    CooperationRecord c = Cooperation("C1", "P" + std::to_string(i), kT0 + i * kDay);
    if (i == 0) c.ended_at_us = kT0 + 10 * kDay;
    ASSERT_TRUE(store_->InsertCooperation(c).ok());
  }
  Result<ComplaintPage> first = store_->ListComplaints("C1", std::nullopt, 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_EQ(first->items[0].id, "K2");
  EXPECT_EQ(first->items[1].id, "K1");
  ASSERT_TRUE(first->next_cursor);
  Result<ComplaintPage> second = store_->ListComplaints("C1", first->next_cursor, 2);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->items.size(), 1u);
  EXPECT_EQ(second->items[0].id, "K0");
  EXPECT_FALSE(second->next_cursor);

  Result<CooperationPage> cooperation = store_->ListCooperation("C1", std::nullopt, 10);
  ASSERT_TRUE(cooperation.ok());
  ASSERT_EQ(cooperation->items.size(), 3u);
  EXPECT_EQ(cooperation->items[2].id, "P0");
  EXPECT_EQ(cooperation->items[2].ended_at_us, kT0 + 10 * kDay);
  EXPECT_FALSE(cooperation->items[0].ended_at_us);
  EXPECT_EQ(cooperation->items[0].kind, "distributor");
  EXPECT_FALSE(cooperation->next_cursor);
}

TEST_F(SqliteBusinessStoreTest, ForeignKeysAreOnForTheWriter) {
  auto* sqlite = dynamic_cast<SqliteStore*>(base_.get());
  int64_t enabled = -1;
  ASSERT_TRUE(sqlite
                  ->WithWriter([&](Connection& writer) -> Status {
                    ASSIGN_OR_RETURN(auto pragma, writer.Prepare("PRAGMA foreign_keys", "read"));
                    ASSIGN_OR_RETURN(const bool has_row, pragma->Step());
                    if (has_row) enabled = pragma->ColumnInt64(0);
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(enabled, 1);
}

// Crypto-shredding a customer takes its business rows in the same
// transaction (ON DELETE CASCADE); other customers keep theirs.
TEST_F(SqliteBusinessStoreTest, DeletingACustomerDeletesItsBusinessRows) {  // R-TAG-2, R-CRY-4
  AddCustomer("C1");
  AddCustomer("C2");
  for (const std::string c : {"C1", "C2"}) {
    ASSERT_TRUE(store_->InsertTransactions({Txn(c, 5, kT0), Txn(c, 6, kT0 + 1)}).ok());
    ASSERT_TRUE(store_->InsertComplaint(Complaint(c, "K-" + c, kT0)).ok());
    ASSERT_TRUE(store_->InsertCooperation(Cooperation(c, "P-" + c, kT0)).ok());
  }
  ASSERT_TRUE(base_->DeleteCustomer("C1").ok());
  EXPECT_EQ(RowsOf(kCountTransactions, "C1"), 0);
  EXPECT_EQ(RowsOf(kCountComplaints, "C1"), 0);
  EXPECT_EQ(RowsOf(kCountCooperation, "C1"), 0);
  EXPECT_EQ(RowsOf(kCountTransactions, "C2"), 2);
  EXPECT_EQ(RowsOf(kCountComplaints, "C2"), 1);
  EXPECT_EQ(RowsOf(kCountCooperation, "C2"), 1);
  Result<BusinessTotalsById> totals = store_->TotalsForIdRange("C0", "C9", 0);
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->count("C1"), 0u);
  EXPECT_EQ(totals->count("C2"), 1u);
}

TEST_F(SqliteBusinessStoreTest, TotalsCountTheWindowFromSinceInclusive) {  // R-TAG-1, R-TAG-2
  for (const char* id : {"C01", "C02", "C03", "C04", "C05", "C06", "C07"}) AddCustomer(id);
  const int64_t since = kT0 + 100 * kDay;
  ASSERT_TRUE(store_
                  ->InsertTransactions({
                      Txn("C01", 1'000, since),             // exactly at since: counted
                      Txn("C01", 2'000, since - 1),         // one microsecond before: not
                      Txn("C01", 3'000, since + 5 * kDay),  // counted
                      Txn("C01", -500, since + 6 * kDay),   // refund: in the sum, not an order
                      Txn("C02", 9'999, since - kDay),      // only old transactions
                      Txn("C04", kAmountFenAbsMax, since),  // large sums stay exact
                      Txn("C04", kAmountFenAbsMax, since),
                      Txn("C04", kAmountFenAbsMax - 1, since),
                  })
                  .ok());
  ComplaintRecord closed = Complaint("C01", "K1", kT0);
  closed.status = "closed";
  closed.closed_at_us = kT0 + kDay;
  ASSERT_TRUE(store_->InsertComplaint(closed).ok());
  ASSERT_TRUE(store_->InsertComplaint(Complaint("C01", "K2", kT0)).ok());
  ASSERT_TRUE(store_->InsertComplaint(Complaint("C03", "K3", kT0)).ok());
  ASSERT_TRUE(store_->InsertCooperation(Cooperation("C05", "P1", kT0)).ok());
  // C06 and C07 have nothing.

  Result<BusinessTotalsById> all = store_->TotalsForIdRange("C01", "C07", since);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 5u);
  EXPECT_EQ(all->at("C01"), (BusinessTotals{3'500, 2, 1, 2}));
  EXPECT_EQ(all->at("C02"), (BusinessTotals{0, 0, 0, 0}));
  EXPECT_EQ(all->at("C03"), (BusinessTotals{0, 0, 1, 1}));
  EXPECT_EQ(all->at("C04"), (BusinessTotals{3 * kAmountFenAbsMax - 1, 3, 0, 0}));
  EXPECT_EQ(all->at("C05"), (BusinessTotals{}));
  EXPECT_EQ(all->count("C06"), 0u);

  // The bounds are inclusive and the result holds only the range.
  Result<BusinessTotalsById> middle = store_->TotalsForIdRange("C02", "C03", since);
  ASSERT_TRUE(middle.ok());
  EXPECT_EQ(middle->size(), 2u);
  EXPECT_EQ(middle->count("C02") + middle->count("C03"), 2u);
  // A window that starts one microsecond later drops the row at `since`.
  EXPECT_EQ(store_->TotalsForIdRange("C01", "C01", since + 1)->at("C01").spend_fen, 2'500);
  EXPECT_EQ(store_->TotalsForIdRange("C01", "C01", since - 1)->at("C01").spend_fen, 5'500);

  // TotalsFor agrees, and is all zero for a customer without records.
  for (const auto& [id, expected] : *all) {
    Result<BusinessTotals> one = store_->TotalsFor(id, since);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(*one, expected) << id;
  }
  EXPECT_EQ(*store_->TotalsFor("C06", since), BusinessTotals{});
  EXPECT_EQ(*store_->TotalsFor("C-unknown", since), BusinessTotals{});
}

TEST_F(SqliteBusinessStoreTest, EmptyRangesGiveEmptyTotals) {
  AddCustomer("C5");
  ASSERT_TRUE(store_->InsertTransaction(Txn("C5", 1, kT0)).ok());
  Result<BusinessTotalsById> none = store_->TotalsForIdRange("C6", "C9", 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  Result<BusinessTotalsById> reversed = store_->TotalsForIdRange("C9", "C1", 0);
  ASSERT_TRUE(reversed.ok());
  EXPECT_TRUE(reversed->empty());
  EXPECT_EQ(store_->TotalsForIdRange("", "C9", 0).status().code(), ErrorCode::kInvalidArgument);
  Result<BusinessTotalsById> one = store_->TotalsForIdRange("C5", "C5", 0);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->at("C5"), (BusinessTotals{1, 1, 0, 0}));
}

TEST_F(SqliteBusinessStoreTest, TotalsUseTheCoveringIndexes) {
  // The re-classification figure depends on these plans: index-only range
  // scans, grouped in index order (no temporary B-tree).
  auto* sqlite = dynamic_cast<SqliteStore*>(base_.get());
  Result<PooledConnection> reader = sqlite->AcquireReader();
  ASSERT_TRUE(reader.ok());
  const auto plan = [&](const char* sql) {
    Result<std::unique_ptr<Statement>> explain = (*reader)->Prepare(sql, "explain");
    EXPECT_TRUE(explain.ok()) << explain.status().ToString();
    std::string text;
    while (true) {
      Result<bool> row = (*explain)->Step();
      if (!row.ok() || !*row) break;
      text += (*explain)->ColumnBytes(3) + "\n";
    }
    return text;
  };
  const std::string transactions = plan(
      "EXPLAIN QUERY PLAN SELECT customer_id, CAST(total(CASE WHEN occurred_at_us >= ?3 THEN "
      "amount_fen END) AS INTEGER), sum(occurred_at_us >= ?3 AND amount_fen > 0) FROM "
      "business_transactions WHERE customer_id BETWEEN ?1 AND ?2 GROUP BY customer_id");
  EXPECT_NE(transactions.find("COVERING INDEX business_transactions_totals"), std::string::npos)
      << transactions;
  EXPECT_EQ(transactions.find("TEMP B-TREE"), std::string::npos) << transactions;
  const std::string complaints = plan(
      "EXPLAIN QUERY PLAN SELECT customer_id, sum(status = 'open'), count(*) FROM "
      "business_complaints WHERE customer_id BETWEEN ?1 AND ?2 GROUP BY customer_id");
  EXPECT_NE(complaints.find("COVERING INDEX business_complaints_by_status"), std::string::npos)
      << complaints;
  EXPECT_EQ(complaints.find("TEMP B-TREE"), std::string::npos) << complaints;
}

}  // namespace
}  // namespace custvault::store::sqlite
