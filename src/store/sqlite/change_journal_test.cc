// Tests of the change journal (R-BAK-1: incremental backups read it) and of
// migration 6. Every write transaction of the writer leaves exactly one
// journal row with what it changed, in the same commit; nothing of a
// rolled-back savepoint; nothing for the excluded tables.
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "store/sqlite/change_journal.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/fake_env.h"
#include "store/shred_ledger.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_store.h"

namespace custvault::store::sqlite {
namespace {

namespace fs = std::filesystem;

struct JournalRow {
  int64_t seq = 0;
  int64_t committed_at_us = 0;
  std::string customer_id;
  std::string changeset;  // a patchset
};

// "INSERT customers", "DELETE customer_keys", ... for each change.
std::vector<std::string> Describe(const std::string& changeset) {
  std::vector<std::string> out;
  sqlite3_changeset_iter* iter = nullptr;
  EXPECT_EQ(sqlite3changeset_start(&iter, static_cast<int>(changeset.size()),
                                   const_cast<char*>(changeset.data())),
            SQLITE_OK);
  while (sqlite3changeset_next(iter) == SQLITE_ROW) {
    const char* table = nullptr;
    int columns = 0, op = 0, indirect = 0;
    sqlite3changeset_op(iter, &table, &columns, &op, &indirect);
    const char* name = op == SQLITE_INSERT ? "INSERT" : op == SQLITE_DELETE ? "DELETE" : "UPDATE";
    out.push_back(std::string(name) + " " + table);
  }
  EXPECT_EQ(sqlite3changeset_finalize(iter), SQLITE_OK);
  return out;
}

class ChangeJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_journal_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/custvault.db";
    ledger_ = dir_ + "/shred-ledger";
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  SqliteStore& Open() {
    store_.reset();
    Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(
        {.path = path_, .readers = 2, .env = &env_, .shred_ledger_path = ledger_});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    return *store_;
  }

  std::vector<JournalRow> Journal() {
    std::vector<JournalRow> rows;
    Result<PooledConnection> reader = store_->AcquireReader();
    EXPECT_TRUE(reader.ok());
    auto select = (*reader)->Prepare(
        "SELECT seq, committed_at_us, customer_id, changeset FROM change_journal ORDER BY seq",
        "test");
    EXPECT_TRUE(select.ok());
    while (true) {
      Result<bool> has_row = (*select)->Step();
      EXPECT_TRUE(has_row.ok());
      if (!has_row.ok() || !*has_row) break;
      rows.push_back({(*select)->ColumnInt64(0), (*select)->ColumnInt64(1),
                      (*select)->ColumnBytes(2), (*select)->ColumnBytes(3)});
    }
    return rows;
  }

  static CustomerRecord Record(const std::string& id) {
    CustomerRecord record;
    record.id = id;
    record.channel = "staff:test";
    record.created_at_us = 1;
    record.updated_at_us = 1;
    record.kek_version = 1;
    record.wrapped_key = "wrapped-" + id;
    record.fields = {{"name", "envelope-of-" + id}};
    record.blind_indexes = {{"name", std::string(32, 'd')}};
    record.tags = {{"level", "vip"}};
    return record;
  }

  FakeEnv env_;
  std::string dir_, path_, ledger_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(ChangeJournalTest, EachWriteTransactionLeavesOneRowWithItsChanges) {
  SqliteStore& store = Open();
  ASSERT_TRUE(store.InsertCustomer(Record("C1")).ok());
  std::vector<JournalRow> rows = Journal();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].committed_at_us, env_.NowMicros());
  EXPECT_EQ(rows[0].customer_id, "C1");
  const std::vector<std::string> changes = Describe(rows[0].changeset);
  const std::multiset<std::string> got(changes.begin(), changes.end());
  EXPECT_EQ(got, (std::multiset<std::string>{"INSERT customers", "INSERT customer_keys",
                                             "INSERT blind_index", "INSERT customer_tags"}));
}

TEST_F(ChangeJournalTest, BulkInsertIsOneRowPerCustomerWithOneCommitTime) {
  SqliteStore& store = Open();
  ASSERT_TRUE(store.InsertCustomers({Record("C1"), Record("C2"), Record("C3")}).ok());
  std::vector<JournalRow> rows = Journal();
  ASSERT_EQ(rows.size(), 3u);
  std::set<std::string> customers;
  for (const JournalRow& row : rows) {
    customers.insert(row.customer_id);
    EXPECT_EQ(row.committed_at_us, rows[0].committed_at_us);
    EXPECT_EQ(Describe(row.changeset).size(), 4u);
  }
  EXPECT_EQ(customers, (std::set<std::string>{"C1", "C2", "C3"}));
}

TEST_F(ChangeJournalTest, AWriteOutsideATransactionIsJournaledToo) {
  SqliteStore& store = Open();
  ASSERT_TRUE(store.PutSetting("greeting", "hello").ok());  // a single statement
  std::vector<JournalRow> rows = Journal();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(Describe(rows[0].changeset), std::vector<std::string>{"INSERT settings"});
}

TEST_F(ChangeJournalTest, AWriteReturningRowsOutsideATransactionIsRefused) {
  SqliteStore& store = Open();
  Status status = store.WithWriter([](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(auto insert,
                     writer.Prepare("INSERT INTO settings (name, value) VALUES ('a', 'b') "
                                    "RETURNING name",
                                    "test insert"));
    return insert->Step().status();
  });
  EXPECT_EQ(status.code(), ErrorCode::kInternal);
  EXPECT_NE(status.message().find("outside a transaction"), std::string::npos);
  EXPECT_TRUE(Journal().empty());
}

TEST_F(ChangeJournalTest, RolledBackSavepointLeavesNoTraceInTheChangeset) {
  // The group commit runs each write in a savepoint and rolls a failed one
  // back alone (sqlite_store.cc RunInSavepoint): its changes must not reach
  // the journal, whether an insert or an update of an existing row.
  SqliteStore& store = Open();
  ASSERT_TRUE(store.PutSetting("kept", "before").ok());
  const size_t before = Journal().size();
  ASSERT_TRUE(store
                  .WithWriter([](Connection& writer) -> Status {
                    Transaction transaction(writer);
                    RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
                    RETURN_IF_ERROR(writer.Exec("SAVEPOINT single_row_write", "savepoint"));
                    RETURN_IF_ERROR(writer.Exec(
                        "INSERT INTO settings (name, value) VALUES ('ghost', 'x'); "
                        "UPDATE settings SET value = 'changed' WHERE name = 'kept'",
                        "failed write"));
                    RETURN_IF_ERROR(writer.Exec("ROLLBACK TO single_row_write", "rollback to"));
                    RETURN_IF_ERROR(writer.Exec("RELEASE single_row_write", "release"));
                    RETURN_IF_ERROR(writer.Exec("SAVEPOINT single_row_write", "savepoint"));
                    RETURN_IF_ERROR(writer.Exec(
                        "INSERT INTO settings (name, value) VALUES ('real', 'y')", "write"));
                    RETURN_IF_ERROR(writer.Exec("RELEASE single_row_write", "release"));
                    return transaction.Commit();
                  })
                  .ok());
  std::vector<JournalRow> rows = Journal();
  ASSERT_EQ(rows.size(), before + 1);
  const std::string& changeset = rows.back().changeset;
  EXPECT_EQ(Describe(changeset), std::vector<std::string>{"INSERT settings"});
  // The one insert is 'real', not 'ghost'.
  sqlite3_changeset_iter* iter = nullptr;
  ASSERT_EQ(sqlite3changeset_start(&iter, static_cast<int>(changeset.size()),
                                   const_cast<char*>(changeset.data())),
            SQLITE_OK);
  ASSERT_EQ(sqlite3changeset_next(iter), SQLITE_ROW);
  sqlite3_value* name = nullptr;
  ASSERT_EQ(sqlite3changeset_new(iter, 0, &name), SQLITE_OK);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_value_text(name))), "real");
  sqlite3changeset_finalize(iter);
}

TEST_F(ChangeJournalTest, FailedGroupWriteIsAbsentAndTheOthersPresent) {
  // A duplicate insert fails inside its savepoint; the rest of its group
  // commits. Whatever grouping the threads got, the journal holds exactly
  // the customers that were stored.
  SqliteStore& store = Open();
  ASSERT_TRUE(store.InsertCustomer(Record("C0")).ok());
  std::vector<std::thread> threads;
  std::atomic<int> stored{0};
  for (int i = 1; i <= 16; ++i) {
    threads.emplace_back([&, i] {
      // Every fourth is a duplicate of C0 and fails.
      if (store.InsertCustomer(Record(i % 4 == 0 ? "C0" : "C" + std::to_string(i))).ok()) {
        ++stored;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(stored.load(), 12);
  int customer_inserts = 0;
  for (const JournalRow& row : Journal()) {
    for (const std::string& change : Describe(row.changeset)) {
      if (change == "INSERT customers") ++customer_inserts;
    }
  }
  EXPECT_EQ(customer_inserts, 13);  // C0 and the 12 that succeeded
}

TEST_F(ChangeJournalTest, NothingChangedMeansNoRow) {
  SqliteStore& store = Open();
  ASSERT_TRUE(store
                  .WithWriter([](Connection& writer) -> Status {
                    Transaction transaction(writer);
                    RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
                    RETURN_IF_ERROR(writer.Exec(
                        "INSERT INTO settings (name, value) VALUES ('x', '1'); "
                        "DELETE FROM settings WHERE name = 'x'",
                        "insert and delete"));
                    return transaction.Commit();
                  })
                  .ok());
  EXPECT_TRUE(Journal().empty());
}

TEST_F(ChangeJournalTest, RollbackLeavesNoRow) {
  SqliteStore& store = Open();
  ASSERT_TRUE(store
                  .WithWriter([](Connection& writer) -> Status {
                    Transaction transaction(writer);
                    RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
                    RETURN_IF_ERROR(writer.Exec(
                        "INSERT INTO settings (name, value) VALUES ('x', '1')", "insert"));
                    return Status::Ok();  // no commit: rolled back
                  })
                  .ok());
  EXPECT_TRUE(Journal().empty());
  ASSERT_TRUE(store.PutSetting("y", "2").ok());
  ASSERT_EQ(Journal().size(), 1u);
  EXPECT_EQ(Describe(Journal()[0].changeset), std::vector<std::string>{"INSERT settings"});
}

TEST_F(ChangeJournalTest, ACommitWhoseJournalRowCannotBeWrittenDoesNotHappen) {
  // A commit and its journal row are one: if the row cannot be written,
  // the change is not stored either.
  SqliteStore& store = Open();
  ASSERT_TRUE(store
                  .WithWriter([](Connection& writer) -> Status {
                    return writer.Exec(
                        "CREATE TRIGGER refuse_journal BEFORE INSERT ON change_journal "
                        "BEGIN SELECT RAISE(ABORT, 'journal full'); END",
                        "test trigger");
                  })
                  .ok());
  EXPECT_FALSE(store.InsertCustomer(Record("C1")).ok());
  EXPECT_EQ(store.GetCustomer("C1").status().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(store.PutSetting("a", "b").ok());
  Result<std::optional<std::string>> setting = store.GetSetting("a");
  ASSERT_TRUE(setting.ok());
  EXPECT_FALSE(setting->has_value());
}

TEST_F(ChangeJournalTest, ExcludedTablesAreNotJournaled) {
  SqliteStore& store = Open();
  ASSERT_TRUE(store
                  .WithWriter([](Connection& writer) -> Status {
                    Transaction transaction(writer);
                    RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
                    RETURN_IF_ERROR(writer.Exec(
                        "INSERT INTO backup_state (name, value, updated_at_us) "
                        "VALUES ('last_full', 1, 1)",
                        "backup state"));
                    return transaction.Commit();
                  })
                  .ok());
  EXPECT_TRUE(Journal().empty());
  EXPECT_TRUE(JournalExcludedTable("sessions"));
  EXPECT_TRUE(JournalExcludedTable("change_journal"));
  EXPECT_TRUE(JournalExcludedTable("sqlite_sequence"));
  EXPECT_FALSE(JournalExcludedTable("customers"));
  EXPECT_FALSE(JournalExcludedTable("shredded_customers"));
}

TEST_F(ChangeJournalTest, EveryJournaledTableHasAPrimaryKey) {
  // The session extension ignores a table without a declared PRIMARY KEY
  // without a word: such a table would silently be missing from every
  // incremental backup. Any table a later migration adds is checked here.
  Open();
  Result<PooledConnection> reader = store_->AcquireReader();
  ASSERT_TRUE(reader.ok());
  sqlite3* db = (*reader)->handle();
  std::vector<std::string> tables;
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table'", -1,
                               &stmt, nullptr),
            SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  ASSERT_GT(tables.size(), 10u);
  for (const std::string& table : tables) {
    if (JournalExcludedTable(table)) continue;
    const std::string sql = "SELECT count(*) FROM pragma_table_info('" + table + "') WHERE pk > 0";
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_GT(sqlite3_column_int(stmt, 0), 0) << "table " << table << " has no primary key";
    sqlite3_finalize(stmt);
  }
}

TEST_F(ChangeJournalTest, CommittedAtNeverGoesBackwards) {
  SqliteStore& store = Open();
  ASSERT_TRUE(store.PutSetting("a", "1").ok());
  env_.AdvanceMicros(-5'000'000);  // the clock steps back five seconds
  ASSERT_TRUE(store.PutSetting("b", "2").ok());
  std::vector<JournalRow> rows = Journal();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].committed_at_us, rows[0].committed_at_us);
  EXPECT_GT(rows[1].seq, rows[0].seq);
}

TEST_F(ChangeJournalTest, DeleteRecordsTheShredInTheTableAndTheLedgerFile) {
  SqliteStore& store = Open();
  ASSERT_TRUE(store.InsertCustomer(Record("C1")).ok());
  env_.AdvanceMicros(1000);
  ASSERT_TRUE(store.DeleteCustomer("C1").ok());
  Result<ShredLedgerContents> ledger = ReadShredLedger(ledger_);
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  ASSERT_EQ(ledger->entries.size(), 1u);
  EXPECT_EQ(ledger->entries[0], (ShredEntry{"C1", env_.NowMicros()}));
  std::vector<JournalRow> rows = Journal();
  ASSERT_EQ(rows.size(), 2u);
  // R-CRY-5: the insert's row, with the wrapped key and envelopes, is blank.
  EXPECT_TRUE(rows[0].changeset.empty());
  EXPECT_EQ(rows[0].customer_id, "");
  // The delete's row has the deletes (keys only) and the shred record.
  EXPECT_EQ(rows[1].customer_id, "");
  EXPECT_EQ(rows[1].changeset.find("wrapped-C1"), std::string::npos);
  const std::vector<std::string> changes = Describe(rows[1].changeset);
  EXPECT_EQ(std::count(changes.begin(), changes.end(), "INSERT shredded_customers"), 1);
  EXPECT_EQ(std::count(changes.begin(), changes.end(), "DELETE customers"), 1);
  EXPECT_EQ(std::count(changes.begin(), changes.end(), "DELETE customer_keys"), 1);
}

TEST_F(ChangeJournalTest, LedgerFileCatchesUpWithTheTableAtOpen) {
  // A crash between the delete's commit and its append to the file: the
  // next open copies what the file lacks.
  SqliteStore& store = Open();
  ASSERT_TRUE(store.InsertCustomer(Record("C1")).ok());
  ASSERT_TRUE(store.InsertCustomer(Record("C2")).ok());
  ASSERT_TRUE(store.DeleteCustomer("C1").ok());
  ASSERT_TRUE(store.DeleteCustomer("C2").ok());
  store_.reset();
  fs::remove(ledger_);
  Open();
  Result<ShredLedgerContents> ledger = ReadShredLedger(ledger_);
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ(ledger->entries.size(), 2u);
}

class MigrationSixTest : public ChangeJournalTest {};

TEST_F(MigrationSixTest, RebuiltTablesKeepTheirRowsInOrder) {
  {
    Result<std::unique_ptr<Connection>> writer = Connection::Open({.path = path_});
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(ApplyMigrations(**writer, 5).ok());
    ASSERT_TRUE((*writer)
                    ->Exec("INSERT INTO accounts VALUES ('a1', 'li', 'Li', 'auditor', 'active', "
                           "'h', 1, 0, x'', x'', 0, 0, 0, 0, 0, 1, '');"
                           "INSERT INTO password_history VALUES ('a1', 'hash-1', 10);"
                           "INSERT INTO password_history VALUES ('a1', 'hash-2', 20);"
                           "INSERT INTO account_reviews VALUES ('a1', 'sec', 30, 'fine');",
                           "seed version 5")
                    .ok());
  }
  Open();  // applies migration 6
  {
    Result<PooledConnection> reader = store_->AcquireReader();
    ASSERT_TRUE(reader.ok());
    auto select = (*reader)->Prepare(
        "SELECT id, hash, changed_at_us FROM password_history ORDER BY id", "test");
    ASSERT_TRUE(select.ok());
    ASSERT_TRUE(*(*select)->Step());
    EXPECT_EQ((*select)->ColumnInt64(0), 1);
    EXPECT_EQ((*select)->ColumnBytes(1), "hash-1");
    ASSERT_TRUE(*(*select)->Step());
    EXPECT_EQ((*select)->ColumnBytes(1), "hash-2");
    EXPECT_EQ((*select)->ColumnInt64(2), 20);
    EXPECT_FALSE(*(*select)->Step());
  }
  {
    Result<PooledConnection> reader = store_->AcquireReader();
    ASSERT_TRUE(reader.ok());
    auto reviews =
        (*reader)->Prepare("SELECT id, reviewed_by, comment FROM account_reviews", "test");
    ASSERT_TRUE(reviews.ok());
    ASSERT_TRUE(*(*reviews)->Step());
    EXPECT_EQ((*reviews)->ColumnBytes(1), "sec");
    EXPECT_EQ((*reviews)->ColumnBytes(2), "fine");
  }
  // And they are journaled now.
  ASSERT_TRUE(store_
                  ->WithWriter([](Connection& writer) -> Status {
                    ASSIGN_OR_RETURN(auto insert,
                                     writer.Prepare("INSERT INTO password_history (account_id, "
                                                    "hash, changed_at_us) VALUES ('a1', 'h3', 30)",
                                                    "test insert"));
                    return insert->Run();
                  })
                  .ok());
  std::vector<JournalRow> rows = Journal();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(Describe(rows[0].changeset), std::vector<std::string>{"INSERT password_history"});
}

}  // namespace
}  // namespace custvault::store::sqlite
