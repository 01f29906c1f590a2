// The SearchBudgetStore on the table of migration 8, in the same SQLite
// file as the customers and through the same connections (writes through
// SqliteStore::WithWriter, reads from its reader pool).
#include "store/search_budget_store.h"
#include "store/sqlite/sqlite_store.h"

namespace custvault::store::sqlite {
namespace {

// ---- SQL: constants only; every value is a bound parameter ----
#define SEARCH_BUDGET_COLUMNS \
  "account_id, window_start_us, searches, misses, refused, locked_at_us, lock_reason"
constexpr char kSelectRow[] =
    "SELECT " SEARCH_BUDGET_COLUMNS " FROM search_budgets WHERE account_id = ?1";
constexpr char kUpsertRow[] =
    "INSERT INTO search_budgets (" SEARCH_BUDGET_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (account_id) DO UPDATE SET "
    "window_start_us = excluded.window_start_us, searches = excluded.searches, "
    "misses = excluded.misses, refused = excluded.refused, "
    "locked_at_us = excluded.locked_at_us, lock_reason = excluded.lock_reason";
constexpr char kSelectLocked[] = "SELECT " SEARCH_BUDGET_COLUMNS
                                 " FROM search_budgets WHERE locked_at_us != 0 "
                                 "ORDER BY locked_at_us LIMIT ?1";

Status CheckAccount(const std::string& account_id) {
  if (account_id.empty() || account_id.size() > kSearchBudgetAccountBytesMax) {
    return InvalidArgument("account id must be 1.." +
                           std::to_string(kSearchBudgetAccountBytesMax) + " bytes");
  }
  return Status::Ok();
}

SearchBudgetRow ReadRow(const Statement& row) {
  SearchBudgetRow r;
  r.account_id = row.ColumnBytes(0);
  r.window_start_us = row.ColumnInt64(1);
  r.searches = row.ColumnInt64(2);
  r.misses = row.ColumnInt64(3);
  r.refused = row.ColumnInt64(4);
  r.locked_at_us = row.ColumnInt64(5);
  r.lock_reason = row.ColumnBytes(6);
  return r;
}

Result<SearchBudgetRow> SelectRow(Connection& connection, const std::string& account_id) {
  ASSIGN_OR_RETURN(auto select, connection.Prepare(kSelectRow, "read search budget"));
  select->BindText(1, account_id);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) {
    SearchBudgetRow empty;
    empty.account_id = account_id;
    return empty;
  }
  return ReadRow(*select);
}

class SqliteSearchBudgetStore final : public SearchBudgetStore {
 public:
  explicit SqliteSearchBudgetStore(SqliteStore& base) : base_(base) {}

  Result<SearchBudgetRow> Modify(const std::string& account_id,
                                 const std::function<Status(SearchBudgetRow&)>& change) override {
    RETURN_IF_ERROR(CheckAccount(account_id));
    SearchBudgetRow written;
    RETURN_IF_ERROR(base_.WithWriter([&](Connection& writer) -> Status {
      Transaction transaction(writer);
      RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
      ASSIGN_OR_RETURN(SearchBudgetRow row, SelectRow(writer, account_id));
      RETURN_IF_ERROR(change(row));
      if (row.account_id != account_id) return Internal("a budget change altered the account id");
      if (row.lock_reason.size() > kSearchLockReasonBytesMax) {
        return InvalidArgument("search lock reason is too long");
      }
      ASSIGN_OR_RETURN(auto upsert, writer.Prepare(kUpsertRow, "write search budget"));
      upsert->BindText(1, row.account_id);
      upsert->BindInt64(2, row.window_start_us);
      upsert->BindInt64(3, row.searches);
      upsert->BindInt64(4, row.misses);
      upsert->BindInt64(5, row.refused);
      upsert->BindInt64(6, row.locked_at_us);
      upsert->BindText(7, row.lock_reason);
      RETURN_IF_ERROR(upsert->Run());
      RETURN_IF_ERROR(transaction.Commit());
      written = std::move(row);
      return Status::Ok();
    }));
    return written;
  }

  Result<SearchBudgetRow> Get(const std::string& account_id) override {
    RETURN_IF_ERROR(CheckAccount(account_id));
    ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
    return SelectRow(*reader, account_id);
  }

  Result<std::vector<SearchBudgetRow>> ListLocked(int limit) override {
    if (limit < 1 || limit > 10'000) return InvalidArgument("limit must be 1..10000");
    ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectLocked, "list search locks"));
    select->BindInt64(1, limit);
    std::vector<SearchBudgetRow> rows;
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) break;
      rows.push_back(ReadRow(*select));
    }
    return rows;
  }

 private:
  SqliteStore& base_;
};

}  // namespace
}  // namespace custvault::store::sqlite

namespace custvault::store {

Result<std::unique_ptr<SearchBudgetStore>> OpenSqliteSearchBudgetStore(Store& store) {
  auto* sqlite_store = dynamic_cast<sqlite::SqliteStore*>(&store);
  if (sqlite_store == nullptr) {
    return InvalidArgument("the search budget store needs the store from OpenSqliteStore");
  }
  return std::unique_ptr<SearchBudgetStore>(new sqlite::SqliteSearchBudgetStore(*sqlite_store));
}

}  // namespace custvault::store
