#include "store/sqlite/connection.h"

#include <sqlite3.h>

#include <cassert>

namespace custvault::store::sqlite {

Status SqliteError(int code, sqlite3* db, std::string_view what) {
  std::string message(what);
  message += ": ";
  // sqlite3_errmsg describes the most recent failure on this connection; for
  // a code that did not come from the connection (bind) use the generic text.
  message += (db != nullptr && sqlite3_extended_errcode(db) == code) ? sqlite3_errmsg(db)
                                                                     : sqlite3_errstr(code);
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      if (code == SQLITE_CONSTRAINT_PRIMARYKEY || code == SQLITE_CONSTRAINT_UNIQUE)
        return Conflict(message);
      return InvalidArgument(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLoss(message);
    case SQLITE_TOOBIG:
      return TooLarge(message);
    default:
      return Internal(message);
  }
}

Statement::Statement(sqlite3_stmt* stmt, Connection* connection, std::string_view what)
    : stmt_(stmt), connection_(connection), db_(connection->handle()), what_(what) {}

Statement::~Statement() {
  // reset returns the error of the last step, already reported by Step.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::BindText(int index, std::string_view text) {
  // A null pointer would bind NULL: give SQLite a real (empty) string.
  const char* data = text.data() != nullptr ? text.data() : "";
  const int rc =
      sqlite3_bind_text(stmt_, index, data, static_cast<int>(text.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

void Statement::BindBlob(int index, std::string_view bytes) {
  int rc;
  if (bytes.empty()) {
    rc = sqlite3_bind_zeroblob(stmt_, index, 0);  // an empty blob, not NULL
  } else {
    rc = sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()),
                           SQLITE_STATIC);
  }
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

void Statement::BindInt64(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

bool Statement::NeedsJournaledTransaction() const {
  // COMMIT, SAVEPOINT and RELEASE count as read-only for SQLite, so they
  // never land here; BEGIN IMMEDIATE does not, and Transaction::Begin steps
  // it past this check.
  return connection_->write_journal() != nullptr && !connection_->InTransaction() &&
         sqlite3_stmt_readonly(stmt_) == 0;
}

Result<bool> Statement::StepUnchecked() {
  if (bind_error_ != 0) return SqliteError(bind_error_, nullptr, what_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(rc, db_, what_);
}

Result<bool> Statement::Step() {
  if (NeedsJournaledTransaction()) {
    return Internal(std::string(what_) +
                    ": a write on the journaled connection outside a transaction "
                    "(wrap it in a Transaction so its change is journaled)");
  }
  return StepUnchecked();
}

Status Statement::Run() {
  if (NeedsJournaledTransaction()) {
    // The implicit transaction SQLite would open, made explicit so the
    // change journal sees it.
    Transaction transaction(*connection_);
    RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
    ASSIGN_OR_RETURN(const bool has_row, StepUnchecked());
    if (has_row) return Internal(std::string(what_) + ": statement returned a row");
    sqlite3_reset(stmt_);  // a finished statement must not hold the commit back
    return transaction.Commit();
  }
  ASSIGN_OR_RETURN(const bool has_row, Step());
  if (has_row) return Internal(std::string(what_) + ": statement returned a row");
  return Status::Ok();
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

bool Statement::ColumnIsBlobOrText(int column) const {
  const int type = sqlite3_column_type(stmt_, column);
  return type == SQLITE_BLOB || type == SQLITE_TEXT;
}

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string_view Statement::ColumnView(int column) const {
  // column_blob before column_bytes, as SQLite documents; a zero-length value
  // comes back as a null pointer.
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return {static_cast<const char*>(data), static_cast<size_t>(size)};
}

std::string Statement::ColumnBytes(int column) const { return std::string(ColumnView(column)); }

Result<std::unique_ptr<Connection>> Connection::Open(const Options& options) {
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = SqliteError(rc, db, "open database");
    sqlite3_close_v2(db);  // harmless on null
    return status;
  }
  auto connection = std::unique_ptr<Connection>(new Connection(db));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  return connection;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::Exec(const char* sql, std::string_view what) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, db_, what);
  return Status::Ok();
}

Result<std::unique_ptr<Statement>> Connection::Prepare(const char* sql, std::string_view what) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return SqliteError(rc, db_, what);
    }
    it = statements_.emplace(sql, stmt).first;
  }
  // A statement still mid-step would mean two users of one statement at
  // once: a bug in this layer, not an input error.
  assert(!sqlite3_stmt_busy(it->second) && "cached statement used twice at once");
  return std::make_unique<Statement>(it->second, this, what);
}

int64_t Connection::Changes() const { return sqlite3_changes64(db_); }

bool Connection::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

void Connection::SetWriteJournal(std::unique_ptr<WriteJournal> journal) {
  assert(!InTransaction() && "write journal changed inside a transaction");
  write_journal_ = std::move(journal);
}

Transaction::~Transaction() {
  // Some errors (disk full, I/O) end the transaction inside SQLite already;
  // roll back only what is still open.
  if (open_ && connection_.InTransaction()) connection_.Exec("ROLLBACK", "rollback").IgnoreError();
  if (journal_ != nullptr) journal_->Abandon();
}

namespace {
constexpr char kBeginImmediate[] = "BEGIN IMMEDIATE";
constexpr char kBeginDeferred[] = "BEGIN";
constexpr char kCommit[] = "COMMIT";
}  // namespace

Status Transaction::Begin(Kind kind) {
  {
    ASSIGN_OR_RETURN(auto begin,
                     connection_.Prepare(kind == Kind::kWrite ? kBeginImmediate : kBeginDeferred,
                                         "begin transaction"));
    // Not Run(): SQLite counts BEGIN IMMEDIATE as a write, which Run would
    // wrap in a transaction of its own.
    ASSIGN_OR_RETURN(const bool has_row, begin->StepUnchecked());
    if (has_row) return Internal("begin transaction returned a row");
  }
  open_ = true;
  if (kind == Kind::kWrite && connection_.write_journal() != nullptr) {
    journal_ = connection_.write_journal();
    // On failure the destructor rolls back and abandons the recording.
    RETURN_IF_ERROR(journal_->Start(connection_));
  }
  return Status::Ok();
}

Status Transaction::Commit() {
  if (journal_ != nullptr) RETURN_IF_ERROR(journal_->BeforeCommit(connection_));
  ASSIGN_OR_RETURN(auto commit, connection_.Prepare(kCommit, "commit"));
  RETURN_IF_ERROR(commit->Run());
  open_ = false;
  journal_ = nullptr;  // committed: BeforeCommit already handed the changes over
  return Status::Ok();
}

}  // namespace custvault::store::sqlite
