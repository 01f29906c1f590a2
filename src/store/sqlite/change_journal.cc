// The session extension's API is declared only when these are defined
// (Debian's libsqlite3 is built with both; see `PRAGMA compile_options`).
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "store/sqlite/change_journal.h"

#include <sqlite3.h>

#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>

#include "store/sqlite/patchset.h"

namespace custvault::store::sqlite {
namespace {

// max(now, last row's time): committed_at_us never goes down along seq,
// even across processes (the CLI writing while the server runs) or a clock
// stepping back, because the previous row is read inside this transaction.
constexpr char kCommitTime[] =
    "SELECT max(?1, coalesce((SELECT committed_at_us FROM change_journal ORDER BY seq DESC "
    "LIMIT 1), 0))";
constexpr char kInsertJournalRow[] =
    "INSERT INTO change_journal (committed_at_us, customer_id, changeset) VALUES (?1, ?2, ?3)";
constexpr char kJournalTableExists[] =
    "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'change_journal'";
constexpr char kScrubCustomer[] =
    "UPDATE change_journal SET changeset = x'', customer_id = '' "
    "WHERE customer_id = ?1 AND customer_id <> ''";

int FilterTable(void* /*context*/, const char* table) {
  return JournalExcludedTable(table) ? 0 : 1;
}

// Tables with a customer_id column whose rows are not the customer's data:
// the shred ledger must survive the shred, and approval items (masked
// summaries) are kept by the approvals' own rules.
bool NotCustomerData(std::string_view table) {
  return table == kShreddedCustomersTable || table == "approval_items";
}

std::string QuoteIdentifier(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

// An sqlite3_stmt for SQL built at run time from schema names (the
// Connection cache takes only constant SQL), finalised on scope exit.
class DynamicStatement {
 public:
  DynamicStatement(sqlite3* db, const std::string& sql) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr);
  }
  ~DynamicStatement() { sqlite3_finalize(stmt_); }
  DynamicStatement(const DynamicStatement&) = delete;
  DynamicStatement& operator=(const DynamicStatement&) = delete;
  int rc() const { return rc_; }
  sqlite3_stmt* get() { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

void BindPatchsetValue(sqlite3_stmt* stmt, int index, const PatchsetValue& value) {
  switch (value.type) {
    case PatchsetValue::kInteger:
      sqlite3_bind_int64(stmt, index, value.integer);
      break;
    case PatchsetValue::kReal: {
      double real = 0;
      const uint64_t bits = static_cast<uint64_t>(value.integer);
      std::memcpy(&real, &bits, sizeof real);
      sqlite3_bind_double(stmt, index, real);
      break;
    }
    case PatchsetValue::kText:
      sqlite3_bind_text(stmt, index, value.bytes.data(), static_cast<int>(value.bytes.size()),
                        SQLITE_STATIC);
      break;
    case PatchsetValue::kBlob:
      sqlite3_bind_blob(stmt, index, value.bytes.data(), static_cast<int>(value.bytes.size()),
                        SQLITE_STATIC);
      break;
    default:
      sqlite3_bind_null(stmt, index);
  }
}

}  // namespace

bool JournalExcludedTable(std::string_view table) {
  return table == kChangeJournalTable || table == "sessions" || table == kBackupStateTable ||
         table == "schema_version" || table == "self_service_challenges" ||
         table == "search_budgets" || table == "audit_outbox" || table.starts_with("sqlite_");
}

SessionJournal::~SessionJournal() { Abandon(); }

Status SessionJournal::Start(Connection& connection) {
  Abandon();  // a recording left by a transaction that never ended cleanly
  sqlite3_session* session = nullptr;
  int rc = sqlite3session_create(connection.handle(), "main", &session);
  if (rc != SQLITE_OK) {
    sqlite3session_delete(session);  // harmless on null
    return SqliteError(rc, connection.handle(), "start change journal session");
  }
  sqlite3session_table_filter(session, &FilterTable, nullptr);
  rc = sqlite3session_attach(session, nullptr);  // every table the filter lets through
  if (rc != SQLITE_OK) {
    sqlite3session_delete(session);
    return SqliteError(rc, connection.handle(), "attach change journal session");
  }
  session_ = session;
  return Status::Ok();
}

Result<const SessionJournal::TableInfo*> SessionJournal::Table(Connection& connection,
                                                               std::string_view name) {
  if (auto found = tables_.find(name); found != tables_.end()) return &found->second;
  TableInfo info;
  // pragma_table_info takes the name as a string literal; quote it as one.
  std::string literal = "'";
  for (char c : name) {
    if (c == '\'') literal += '\'';
    literal += c;
  }
  literal += "'";
  DynamicStatement select(connection.handle(),
                          "SELECT name FROM pragma_table_info(" + literal + ") ORDER BY cid");
  if (select.rc() != SQLITE_OK) {
    return SqliteError(select.rc(), connection.handle(), "read journaled table columns");
  }
  while (true) {
    const int rc = sqlite3_step(select.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return SqliteError(rc, connection.handle(), "read journaled table columns");
    info.columns.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(select.get(), 0)));
  }
  const std::string_view owner_column = name == "customers" ? "id" : "customer_id";
  if (!NotCustomerData(name)) {
    for (size_t i = 0; i < info.columns.size(); ++i) {
      if (info.columns[i] == owner_column) info.customer_column = static_cast<int>(i);
    }
  }
  return &tables_.emplace(std::string(name), std::move(info)).first->second;
}

Result<std::string_view> SessionJournal::CustomerOf(Connection& connection,
                                                    const PatchsetChange& change,
                                                    std::deque<std::string>* looked_up) {
  // A delete carries only the row's key: no customer data to scrub later,
  // and the delete itself must outlive any scrub (a restore of an older
  // backup needs it).
  if (change.op == kPatchsetDelete) return std::string_view();
  ASSIGN_OR_RETURN(const TableInfo* table, Table(connection, change.table->name));
  if (table->customer_column < 0) return std::string_view();
  if (static_cast<size_t>(table->customer_column) >= change.values.size() ||
      table->columns.size() != change.values.size()) {
    return DataLoss("change journal: table " + std::string(change.table->name) +
                    " changed shape inside a transaction");
  }
  const PatchsetValue& owner = change.values[table->customer_column];
  if (owner.type == PatchsetValue::kText) return owner.bytes;
  if (owner.type != PatchsetValue::kUndefined) return std::string_view();
  // An update that left customer_id alone (and it is not in the key): read
  // it from the row, which exists, since it was just updated.
  std::string sql = "SELECT " + QuoteIdentifier(table->columns[table->customer_column]) +
                    " FROM " + QuoteIdentifier(change.table->name) + " WHERE ";
  std::vector<const PatchsetValue*> keys;
  for (size_t i = 0; i < change.values.size(); ++i) {
    if (!change.table->primary_key[i]) continue;
    if (!keys.empty()) sql += " AND ";
    sql += QuoteIdentifier(table->columns[i]) + " IS ?" + std::to_string(keys.size() + 1);
    keys.push_back(&change.values[i]);
  }
  if (keys.empty()) return std::string_view();
  DynamicStatement lookup(connection.handle(), sql);
  if (lookup.rc() != SQLITE_OK) {
    return SqliteError(lookup.rc(), connection.handle(), "find the customer of a journaled update");
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    BindPatchsetValue(lookup.get(), static_cast<int>(i + 1), *keys[i]);
  }
  const int rc = sqlite3_step(lookup.get());
  if (rc == SQLITE_ROW && sqlite3_column_type(lookup.get(), 0) == SQLITE_TEXT) {
    return std::string_view(looked_up->emplace_back(
        reinterpret_cast<const char*>(sqlite3_column_text(lookup.get(), 0)),
        static_cast<size_t>(sqlite3_column_bytes(lookup.get(), 0))));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return SqliteError(rc, connection.handle(), "find the customer of a journaled update");
  }
  return std::string_view();
}

Status SessionJournal::BeforeCommit(Connection& connection) {
  if (session_ == nullptr) return Status::Ok();
  if (sqlite3session_isempty(session_) != 0) {
    Abandon();
    return Status::Ok();
  }
  int size = 0;
  void* patchset = nullptr;
  const int rc = sqlite3session_patchset(session_, &size, &patchset);
  Abandon();  // changes after this point are not part of this transaction's record
  struct Freer {
    void* p;
    ~Freer() { sqlite3_free(p); }
  } freer{patchset};
  if (rc != SQLITE_OK) return SqliteError(rc, connection.handle(), "take change journal patchset");
  // Rows changed and changed back (a savepoint rolled back, an insert
  // deleted again) leave nothing behind: no journal row either.
  if (size <= 0) return Status::Ok();

  // Split by customer, keeping each part's changes in their order and
  // starting a table group wherever the table changes.
  struct Part {
    std::string customer_id;
    std::string bytes;
    std::string_view table;
  };
  std::vector<Part> parts;
  // Keyed by views into the patchset (ids read from it) or into
  // looked_up (ids read from the table), both alive until the rows are in.
  std::unordered_map<std::string_view, size_t> part_of;
  std::deque<std::string> looked_up;
  RETURN_IF_ERROR(ForEachPatchsetChange(
      std::string_view(static_cast<const char*>(patchset), static_cast<size_t>(size)),
      [&](const PatchsetChange& change) -> Status {
        ASSIGN_OR_RETURN(std::string_view customer, CustomerOf(connection, change, &looked_up));
        auto found = part_of.find(customer);
        if (found == part_of.end()) {
          found = part_of.emplace(customer, parts.size()).first;
          parts.push_back({std::string(customer), std::string(), std::string_view()});
        }
        Part& part = parts[found->second];
        if (part.table.data() != change.table->name.data() || part.bytes.empty()) {
          part.bytes += change.table->header;
          part.table = change.table->name;
        }
        part.bytes += change.bytes;
        return Status::Ok();
      }));

  int64_t committed_at_us = 0;
  {
    ASSIGN_OR_RETURN(auto time, connection.Prepare(kCommitTime, "read change journal time"));
    time->BindInt64(1, env_->NowMicros());
    ASSIGN_OR_RETURN(const bool has_row, time->Step());
    if (!has_row) return Internal("change journal time: no row");
    committed_at_us = time->ColumnInt64(0);
  }
  for (const Part& part : parts) {
    ASSIGN_OR_RETURN(auto insert, connection.Prepare(kInsertJournalRow, "write change journal"));
    insert->BindInt64(1, committed_at_us);
    insert->BindText(2, part.customer_id);
    insert->BindBlob(3, part.bytes);
    RETURN_IF_ERROR(insert->Run());
    ++rows_written_;
  }
  return Status::Ok();
}

void SessionJournal::Abandon() {
  if (session_ != nullptr) {
    sqlite3session_delete(session_);
    session_ = nullptr;
  }
}

Status ScrubCustomerFromJournal(Connection& writer, const std::string& customer_id) {
  ASSIGN_OR_RETURN(auto scrub, writer.Prepare(kScrubCustomer, "scrub customer from journal"));
  scrub->BindText(1, customer_id);
  return scrub->Run();
}

Result<bool> HasChangeJournal(Connection& connection) {
  ASSIGN_OR_RETURN(auto exists, connection.Prepare(kJournalTableExists, "find change journal"));
  return exists->Step();
}

}  // namespace custvault::store::sqlite
