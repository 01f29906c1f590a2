// One SQLite connection with its cache of prepared statements.
//
// A Connection is used by one thread at a time: it is opened with
// SQLITE_OPEN_NOMUTEX and the owner (the writer mutex or the reader pool)
// does the locking. Statements are prepared once per connection and per SQL
// text, then reset and cleared after every use (Statement's destructor), so
// the hot paths never re-parse SQL. Every value reaches SQLite as a bound
// parameter; SQL text is always a constant of this code.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace custvault::store::sqlite {

// Turns an SQLite result code into a Status. `what` says what was being done
// ("insert customer"); SQLite's own message is appended (it names tables and
// columns, never bound values).
Status SqliteError(int code, sqlite3* db, std::string_view what);

class Connection;

// Records what each write transaction on a connection changed, inside that
// transaction (the change journal that incremental backups and shipping
// read: store/sqlite/change_journal.h). Installed on the writer connection
// only; Transaction calls it, so every write transaction of the writer,
// whichever store runs it, goes through these three calls.
class WriteJournal {
 public:
  virtual ~WriteJournal() = default;
  // Right after BEGIN IMMEDIATE: start recording.
  virtual Status Start(Connection& connection) = 0;
  // Right before COMMIT, still inside the transaction: store what changed
  // (an error makes the transaction roll back).
  virtual Status BeforeCommit(Connection& connection) = 0;
  // The transaction ended without BeforeCommit succeeding and COMMIT
  // following it (rolled back, or the commit failed): forget what was recorded.
  virtual void Abandon() = 0;
};

// A prepared statement borrowed from a Connection's cache. Bound text and
// blobs are NOT copied (SQLITE_STATIC): the bytes must stay alive until the
// Statement is destroyed. Destruction resets it and clears its bindings.
//
// On a connection with a WriteJournal, a statement that writes must run
// inside a Transaction, so that its change is journaled in the same commit:
// Run() of a writing statement outside one opens a write Transaction around
// itself (an implicit transaction, as SQLite's autocommit would be, but
// journaled); Step() of a writing statement outside one (a write returning
// rows) is refused with kInternal.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, Connection* connection, std::string_view what);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite. A bind failure is kept and
  // reported by the next Step.
  void BindText(int index, std::string_view text);
  void BindBlob(int index, std::string_view bytes);
  void BindInt64(int index, int64_t value);

  // true: a row is ready; false: the statement is done.
  Result<bool> Step();
  // Steps a statement that returns no rows.
  Status Run();

  bool ColumnIsNull(int column) const;
  bool ColumnIsBlobOrText(int column) const;
  int64_t ColumnInt64(int column) const;
  std::string ColumnBytes(int column) const;
  std::string_view ColumnView(int column) const;  // valid until the next Step

 private:
  friend class Transaction;  // BEGIN IMMEDIATE counts as a write for SQLite
  // A writing statement on a journaled connection outside a transaction.
  bool NeedsJournaledTransaction() const;
  Result<bool> StepUnchecked();

  sqlite3_stmt* stmt_;
  Connection* connection_;
  sqlite3* db_;
  std::string_view what_;
  int bind_error_ = 0;
};

class Connection {
 public:
  struct Options {
    std::string path;
    bool read_only = false;
    int busy_timeout_ms = 5000;
  };

  // Opens the file (the writer creates it if missing) with extended result
  // codes on and the busy timeout set. Pragmas are the caller's choice.
  static Result<std::unique_ptr<Connection>> Open(const Options& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs SQL without parameters (pragmas, DDL, BEGIN/COMMIT).
  Status Exec(const char* sql, std::string_view what);

  // A cached statement for `sql` (prepared on first use). The cache is keyed
  // by the pointer: `sql` must be a constant with static storage (a string
  // literal or a constexpr array), which also keeps the cache bounded by the
  // number of SQL texts in this code.
  Result<std::unique_ptr<Statement>> Prepare(const char* sql, std::string_view what);

  // Rows changed by the most recent INSERT/UPDATE/DELETE.
  int64_t Changes() const;
  bool InTransaction() const;
  sqlite3* handle() { return db_; }

  // Installs (or, with nullptr, removes) the journal every write
  // Transaction on this connection reports to. Only between transactions.
  void SetWriteJournal(std::unique_ptr<WriteJournal> journal);
  WriteJournal* write_journal() { return write_journal_.get(); }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
  std::unique_ptr<WriteJournal> write_journal_;
};

// A transaction on a Connection: BEGIN IMMEDIATE (writer) or BEGIN (reader)
// on Begin, ROLLBACK on destruction unless Commit succeeded. A write
// transaction on a connection with a WriteJournal starts it after BEGIN and
// lets it store the changes just before COMMIT (same transaction: a commit
// and its journal row are one). This is the only place the writer begins
// and commits: group commit, bulk insert, the identity store and
// migrations all come through here.
class Transaction {
 public:
  enum class Kind { kRead, kWrite };
  explicit Transaction(Connection& connection) : connection_(connection) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Begin(Kind kind);
  Status Commit();

 private:
  Connection& connection_;
  bool open_ = false;
  WriteJournal* journal_ = nullptr;  // set while a journaled write transaction is open
};

}  // namespace custvault::store::sqlite
