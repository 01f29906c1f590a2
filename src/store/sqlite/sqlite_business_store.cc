#include "store/sqlite/sqlite_business_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>

#include "store/cursor.h"

namespace custvault::store::sqlite {
namespace {

// ---- SQL: constants only; every value is a bound parameter ----
#define TRANSACTION_COLUMNS \
  "id, customer_id, occurred_at_us, amount_fen, channel, reference, created_by, created_at_us"
constexpr char kInsertTransaction[] =
    "INSERT INTO business_transactions (customer_id, occurred_at_us, amount_fen, channel, "
    "reference, created_by, created_at_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr char kListTransactionsFirst[] = "SELECT " TRANSACTION_COLUMNS
                                          " FROM business_transactions WHERE customer_id = ?1 "
                                          "ORDER BY occurred_at_us DESC, id DESC LIMIT ?2";
constexpr char kListTransactionsAfter[] =
    "SELECT " TRANSACTION_COLUMNS
    " FROM business_transactions WHERE customer_id = ?1 AND (occurred_at_us, id) < (?2, ?3) "
    "ORDER BY occurred_at_us DESC, id DESC LIMIT ?4";

#define COMPLAINT_COLUMNS                                                                     \
  "id, customer_id, opened_at_us, closed_at_us, status, summary, created_by, created_at_us, " \
  "closed_by"
constexpr char kInsertComplaint[] = "INSERT INTO business_complaints (" COMPLAINT_COLUMNS
                                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr char kSelectComplaint[] =
    "SELECT " COMPLAINT_COLUMNS " FROM business_complaints WHERE id = ?1 AND customer_id = ?2";
constexpr char kCloseComplaint[] =
    "UPDATE business_complaints SET status = 'closed', closed_at_us = ?3, closed_by = ?4 "
    "WHERE id = ?1 AND customer_id = ?2 AND status = 'open'";
constexpr char kListComplaintsFirst[] = "SELECT " COMPLAINT_COLUMNS
                                        " FROM business_complaints WHERE customer_id = ?1 "
                                        "ORDER BY opened_at_us DESC, id DESC LIMIT ?2";
constexpr char kListComplaintsAfter[] =
    "SELECT " COMPLAINT_COLUMNS
    " FROM business_complaints WHERE customer_id = ?1 AND (opened_at_us, id) < (?2, ?3) "
    "ORDER BY opened_at_us DESC, id DESC LIMIT ?4";

#define COOPERATION_COLUMNS \
  "id, customer_id, started_at_us, ended_at_us, kind, summary, created_by, created_at_us"
constexpr char kInsertCooperation[] = "INSERT INTO business_cooperation (" COOPERATION_COLUMNS
                                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr char kListCooperationFirst[] = "SELECT " COOPERATION_COLUMNS
                                         " FROM business_cooperation WHERE customer_id = ?1 "
                                         "ORDER BY started_at_us DESC, id DESC LIMIT ?2";
constexpr char kListCooperationAfter[] =
    "SELECT " COOPERATION_COLUMNS
    " FROM business_cooperation WHERE customer_id = ?1 AND (started_at_us, id) < (?2, ?3) "
    "ORDER BY started_at_us DESC, id DESC LIMIT ?4";

// Totals. The transactions query reads only the covering index
// (customer_id, occurred_at_us, amount_fen): one pass over the range, in
// customer order, so GROUP BY needs no sorting. A customer whose
// transactions are all older than the window still appears (with zeros),
// as "has a business record" says. total() sums in floating point and
// never fails: sum() would abort the whole range with "integer overflow"
// for one customer with absurd totals. The double is exact below 2^53 fen;
// CAST to INTEGER saturates at the int64 limits.
constexpr char kTransactionTotalsRange[] =
    "SELECT customer_id, CAST(total(CASE WHEN occurred_at_us >= ?3 THEN amount_fen END) AS "
    "INTEGER), "
    "sum(occurred_at_us >= ?3 AND amount_fen > 0) "
    "FROM business_transactions WHERE customer_id BETWEEN ?1 AND ?2 GROUP BY customer_id";
constexpr char kComplaintTotalsRange[] =
    "SELECT customer_id, sum(status = 'open'), count(*) "
    "FROM business_complaints WHERE customer_id BETWEEN ?1 AND ?2 GROUP BY customer_id";
constexpr char kCooperationCustomersRange[] =
    "SELECT DISTINCT customer_id FROM business_cooperation WHERE customer_id BETWEEN ?1 AND ?2";
// One customer: the index seeks straight to the window.
constexpr char kTransactionTotalsOne[] =
    "SELECT CAST(total(amount_fen) AS INTEGER), coalesce(sum(amount_fen > 0), 0) "
    "FROM business_transactions "
    "WHERE customer_id = ?1 AND occurred_at_us >= ?2";
constexpr char kComplaintTotalsOne[] =
    "SELECT coalesce(sum(status = 'open'), 0), count(*) FROM business_complaints "
    "WHERE customer_id = ?1";

constexpr char kOpen[] = "open";
constexpr char kClosed[] = "closed";

// ---- validation (before anything is written) ----

Status CheckText(std::string_view what, std::string_view value, size_t max_bytes,
                 bool may_be_empty = false) {
  if ((!may_be_empty && value.empty()) || value.size() > max_bytes) {
    return InvalidArgument(std::string(what) + " must be " + (may_be_empty ? "0" : "1") + ".." +
                           std::to_string(max_bytes) + " bytes");
  }
  return Status::Ok();
}

Status CheckCustomerId(std::string_view id) {
  return CheckText("customer id", id, kCustomerIdBytesMax);
}

Status ValidateTransaction(const TransactionRecord& r) {
  RETURN_IF_ERROR(CheckCustomerId(r.customer_id));
  if (r.amount_fen == 0 || r.amount_fen > kAmountFenAbsMax || r.amount_fen < -kAmountFenAbsMax) {
    return InvalidArgument("amount_fen must be non-zero and at most 10^13 in absolute value");
  }
  RETURN_IF_ERROR(CheckText("channel", r.channel, kBusinessTextBytesMax));
  RETURN_IF_ERROR(CheckText("reference", r.reference, kBusinessTextBytesMax, true));
  RETURN_IF_ERROR(CheckText("created_by", r.created_by, kBusinessActorBytesMax));
  return Status::Ok();
}

Status ValidateComplaint(const ComplaintRecord& r) {
  RETURN_IF_ERROR(CheckText("complaint id", r.id, kBusinessRecordIdBytesMax));
  RETURN_IF_ERROR(CheckCustomerId(r.customer_id));
  if (r.status != kOpen && r.status != kClosed) {
    return InvalidArgument("complaint status must be open or closed");
  }
  if ((r.status == kClosed) != r.closed_at_us.has_value()) {
    return InvalidArgument("a complaint has closed_at exactly when it is closed");
  }
  if (r.closed_at_us && *r.closed_at_us < r.opened_at_us) {
    return InvalidArgument("closed_at must not be before opened_at");
  }
  RETURN_IF_ERROR(CheckText("sealed summary", r.summary_sealed, kSealedSummaryBytesMax));
  RETURN_IF_ERROR(CheckText("created_by", r.created_by, kBusinessActorBytesMax));
  RETURN_IF_ERROR(CheckText("closed_by", r.closed_by, kBusinessActorBytesMax, true));
  return Status::Ok();
}

Status ValidateCooperation(const CooperationRecord& r) {
  RETURN_IF_ERROR(CheckText("cooperation id", r.id, kBusinessRecordIdBytesMax));
  RETURN_IF_ERROR(CheckCustomerId(r.customer_id));
  if (r.ended_at_us && *r.ended_at_us < r.started_at_us) {
    return InvalidArgument("ended_at must not be before started_at");
  }
  RETURN_IF_ERROR(CheckText("kind", r.kind, kBusinessTextBytesMax));
  RETURN_IF_ERROR(CheckText("sealed summary", r.summary_sealed, kSealedSummaryBytesMax));
  RETURN_IF_ERROR(CheckText("created_by", r.created_by, kBusinessActorBytesMax));
  return Status::Ok();
}

// An insert's failure, said in this store's terms: the customer is gone
// (foreign key), or the row exists (primary key or unique reference).
// Must be called while the failed statement is still alive, so the
// connection's extended error code is the statement's.
Status InsertError(Connection& writer, Status status, std::string_view duplicate) {
  switch (sqlite3_extended_errcode(writer.handle())) {
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return NotFound("customer does not exist");
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
      return Conflict(std::string(duplicate));
    default:
      return status;
  }
}

void BindOptionalTime(Statement& s, int index, const std::optional<int64_t>& time) {
  if (time) {
    s.BindInt64(index, *time);
  }  // unbound parameters are NULL (bindings are cleared after every use)
}

std::optional<int64_t> OptionalColumn(const Statement& row, int column) {
  if (row.ColumnIsNull(column)) return std::nullopt;
  return row.ColumnInt64(column);
}

TransactionRecord ReadTransactionRow(const Statement& row) {
  TransactionRecord r;
  r.id = row.ColumnInt64(0);
  r.customer_id = row.ColumnBytes(1);
  r.occurred_at_us = row.ColumnInt64(2);
  r.amount_fen = row.ColumnInt64(3);
  r.channel = row.ColumnBytes(4);
  r.reference = row.ColumnBytes(5);
  r.created_by = row.ColumnBytes(6);
  r.created_at_us = row.ColumnInt64(7);
  return r;
}

ComplaintRecord ReadComplaintRow(const Statement& row) {
  ComplaintRecord r;
  r.id = row.ColumnBytes(0);
  r.customer_id = row.ColumnBytes(1);
  r.opened_at_us = row.ColumnInt64(2);
  r.closed_at_us = OptionalColumn(row, 3);
  r.status = row.ColumnBytes(4);
  r.summary_sealed = row.ColumnBytes(5);
  r.created_by = row.ColumnBytes(6);
  r.created_at_us = row.ColumnInt64(7);
  r.closed_by = row.ColumnBytes(8);
  return r;
}

CooperationRecord ReadCooperationRow(const Statement& row) {
  CooperationRecord r;
  r.id = row.ColumnBytes(0);
  r.customer_id = row.ColumnBytes(1);
  r.started_at_us = row.ColumnInt64(2);
  r.ended_at_us = OptionalColumn(row, 3);
  r.kind = row.ColumnBytes(4);
  r.summary_sealed = row.ColumnBytes(5);
  r.created_by = row.ColumnBytes(6);
  r.created_at_us = row.ColumnInt64(7);
  return r;
}

// A page position: the (time, id) of the last row shown. The cursor text is
// "<time>:<id>" inside store/cursor.h's opaque encoding.
struct Position {
  int64_t time_us = 0;
  std::string id;
};

std::string PositionCursor(int64_t time_us, std::string_view id) {
  return EncodeCursor(std::to_string(time_us) + ":" + std::string(id));
}

Result<Position> DecodePosition(const std::string& cursor) {
  ASSIGN_OR_RETURN(const std::string text, DecodeCursor(cursor));
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return InvalidArgument("invalid page cursor");
  }
  Position position;
  const auto [end, error] = std::from_chars(text.data(), text.data() + colon, position.time_us);
  if (error != std::errc() || end != text.data() + colon) {
    return InvalidArgument("invalid page cursor");
  }
  position.id = text.substr(colon + 1);
  return position;
}

// Reads one page, newest first: `first_sql` for the first page,
// `after_sql` (bound ?2 time, ?3 id, ?4 limit) after a cursor. `bind_id`
// binds the position's id (integer ids for transactions, text otherwise).
template <typename Record, typename ReadRow, typename BindId, typename PositionOf>
Result<BusinessPage<Record>> ReadPage(SqliteStore& base, const char* first_sql,
                                      const char* after_sql, std::string_view what,
                                      const std::string& customer_id,
                                      const std::optional<std::string>& cursor, int limit,
                                      ReadRow read_row, BindId bind_id, PositionOf position_of) {
  RETURN_IF_ERROR(CheckCustomerId(customer_id));
  RETURN_IF_ERROR(ValidatePageLimit(limit));
  std::optional<Position> after;
  if (cursor) {
    ASSIGN_OR_RETURN(after, DecodePosition(*cursor));
  }
  ASSIGN_OR_RETURN(PooledConnection reader, base.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(after ? after_sql : first_sql, what));
  select->BindText(1, customer_id);
  if (after) {
    select->BindInt64(2, after->time_us);
    RETURN_IF_ERROR(bind_id(*select, 3, after->id));
    select->BindInt64(4, int64_t{limit} + 1);
  } else {
    select->BindInt64(2, int64_t{limit} + 1);
  }
  BusinessPage<Record> page;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    if (static_cast<int>(page.items.size()) == limit) {
      const auto [time_us, id] = position_of(page.items.back());
      page.next_cursor = PositionCursor(time_us, id);
      break;
    }
    page.items.push_back(read_row(*select));
  }
  return page;
}

// Binds without copying: `id` lives in ReadPage's Position, which outlives
// the statement.
Status BindTextId(Statement& s, int index, const std::string& id) {
  if (id.size() > kBusinessRecordIdBytesMax) return InvalidArgument("invalid page cursor");
  s.BindText(index, id);
  return Status::Ok();
}

Status BindIntegerId(Statement& s, int index, const std::string& id) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(id.data(), id.data() + id.size(), value);
  if (error != std::errc() || end != id.data() + id.size()) {
    return InvalidArgument("invalid page cursor");
  }
  s.BindInt64(index, value);
  return Status::Ok();
}

}  // namespace

Status SqliteBusinessStore::Write(const std::function<Status(Connection&)>& work) {
  return base_.WithWriter([&work](Connection& writer) -> Status {
    Transaction transaction(writer);
    RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
    RETURN_IF_ERROR(work(writer));
    return transaction.Commit();
  });
}

namespace {

Status RunInsertTransaction(Connection& writer, const TransactionRecord& r) {
  ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertTransaction, "insert transaction"));
  insert->BindText(1, r.customer_id);
  insert->BindInt64(2, r.occurred_at_us);
  insert->BindInt64(3, r.amount_fen);
  insert->BindText(4, r.channel);
  insert->BindText(5, r.reference);
  insert->BindText(6, r.created_by);
  insert->BindInt64(7, r.created_at_us);
  const Status status = insert->Run();
  if (status.ok()) return status;
  return InsertError(writer, status, "a transaction with this channel and reference exists");
}

}  // namespace

Result<int64_t> SqliteBusinessStore::InsertTransaction(const TransactionRecord& record,
                                                       AuditOutboxEntry* audit) {
  RETURN_IF_ERROR(ValidateTransaction(record));
  int64_t id = 0;
  RETURN_IF_ERROR(Write([&](Connection& writer) -> Status {
    RETURN_IF_ERROR(RunInsertTransaction(writer, record));
    id = sqlite3_last_insert_rowid(writer.handle());
    return base_.WriteAuditOutbox(writer, audit, id);
  }));
  return id;
}

Status SqliteBusinessStore::InsertTransactions(const std::vector<TransactionRecord>& records) {
  if (records.size() > kTransactionBatchMax) {
    return TooLarge("at most " + std::to_string(kTransactionBatchMax) + " transactions per batch");
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const Status valid = ValidateTransaction(records[i]);
    if (!valid.ok()) {
      return Status(valid.code(), "transaction " + std::to_string(i) + ": " + valid.message());
    }
  }
  if (records.empty()) return Status::Ok();
  // Inserted in index order (customer, time): consecutive rows then land on
  // the same pages of business_transactions_totals, so each page is dirtied
  // once per batch instead of being evicted and rewritten as random keys
  // come back to it (the ids follow this order, not the caller's).
  std::vector<uint32_t> order(records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  std::sort(order.begin(), order.end(), [&records](uint32_t a, uint32_t b) {
    const TransactionRecord& x = records[a];
    const TransactionRecord& y = records[b];
    if (x.customer_id != y.customer_id) return x.customer_id < y.customer_id;
    if (x.occurred_at_us != y.occurred_at_us) return x.occurred_at_us < y.occurred_at_us;
    return a < b;
  });
  return Write([&](Connection& writer) -> Status {
    for (const uint32_t i : order) {
      const Status inserted = RunInsertTransaction(writer, records[i]);
      if (!inserted.ok()) {
        return Status(inserted.code(),
                      "transaction " + std::to_string(i) + ": " + inserted.message());
      }
    }
    return Status::Ok();
  });
}

Result<TransactionPage> SqliteBusinessStore::ListTransactions(
    const std::string& customer_id, const std::optional<std::string>& cursor, int limit) {
  return ReadPage<TransactionRecord>(
      base_, kListTransactionsFirst, kListTransactionsAfter, "list transactions", customer_id,
      cursor, limit, ReadTransactionRow, BindIntegerId, [](const TransactionRecord& r) {
        return std::make_pair(r.occurred_at_us, std::to_string(r.id));
      });
}

Status SqliteBusinessStore::InsertComplaint(const ComplaintRecord& r, AuditOutboxEntry* audit) {
  RETURN_IF_ERROR(ValidateComplaint(r));
  return Write([&](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertComplaint, "insert complaint"));
    insert->BindText(1, r.id);
    insert->BindText(2, r.customer_id);
    insert->BindInt64(3, r.opened_at_us);
    BindOptionalTime(*insert, 4, r.closed_at_us);
    insert->BindText(5, r.status);
    insert->BindBlob(6, r.summary_sealed);
    insert->BindText(7, r.created_by);
    insert->BindInt64(8, r.created_at_us);
    insert->BindText(9, r.closed_by);
    const Status status = insert->Run();
    if (status.ok()) return base_.WriteAuditOutbox(writer, audit);
    return InsertError(writer, status, "a complaint with this id exists");
  });
}

Result<ComplaintRecord> SqliteBusinessStore::GetComplaint(const std::string& customer_id,
                                                          const std::string& complaint_id) {
  RETURN_IF_ERROR(CheckCustomerId(customer_id));
  RETURN_IF_ERROR(CheckText("complaint id", complaint_id, kBusinessRecordIdBytesMax));
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectComplaint, "read complaint"));
  select->BindText(1, complaint_id);
  select->BindText(2, customer_id);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return NotFound("no such complaint");
  return ReadComplaintRow(*select);
}

Status SqliteBusinessStore::CloseComplaint(const std::string& customer_id,
                                           const std::string& complaint_id, int64_t closed_at_us,
                                           const std::string& closed_by, AuditOutboxEntry* audit) {
  RETURN_IF_ERROR(CheckCustomerId(customer_id));
  RETURN_IF_ERROR(CheckText("complaint id", complaint_id, kBusinessRecordIdBytesMax));
  RETURN_IF_ERROR(CheckText("closed_by", closed_by, kBusinessActorBytesMax));
  return Write([&](Connection& writer) -> Status {
    {
      // Read and update in the same write transaction: the answer cannot
      // be overtaken by another close.
      ASSIGN_OR_RETURN(auto select, writer.Prepare(kSelectComplaint, "read complaint"));
      select->BindText(1, complaint_id);
      select->BindText(2, customer_id);
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) return NotFound("no such complaint");
      const ComplaintRecord current = ReadComplaintRow(*select);
      if (current.status == kClosed) return Conflict("the complaint is closed already");
      if (closed_at_us < current.opened_at_us) {
        return InvalidArgument("closed_at must not be before opened_at");
      }
    }
    ASSIGN_OR_RETURN(auto update, writer.Prepare(kCloseComplaint, "close complaint"));
    update->BindText(1, complaint_id);
    update->BindText(2, customer_id);
    update->BindInt64(3, closed_at_us);
    update->BindText(4, closed_by);
    RETURN_IF_ERROR(update->Run());
    if (writer.Changes() != 1) return Internal("close complaint: the row did not change");
    return base_.WriteAuditOutbox(writer, audit);
  });
}

Result<ComplaintPage> SqliteBusinessStore::ListComplaints(const std::string& customer_id,
                                                          const std::optional<std::string>& cursor,
                                                          int limit) {
  return ReadPage<ComplaintRecord>(
      base_, kListComplaintsFirst, kListComplaintsAfter, "list complaints", customer_id, cursor,
      limit, ReadComplaintRow, BindTextId,
      [](const ComplaintRecord& r) { return std::make_pair(r.opened_at_us, r.id); });
}

Status SqliteBusinessStore::InsertCooperation(const CooperationRecord& r, AuditOutboxEntry* audit) {
  RETURN_IF_ERROR(ValidateCooperation(r));
  return Write([&](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertCooperation, "insert cooperation record"));
    insert->BindText(1, r.id);
    insert->BindText(2, r.customer_id);
    insert->BindInt64(3, r.started_at_us);
    BindOptionalTime(*insert, 4, r.ended_at_us);
    insert->BindText(5, r.kind);
    insert->BindBlob(6, r.summary_sealed);
    insert->BindText(7, r.created_by);
    insert->BindInt64(8, r.created_at_us);
    const Status status = insert->Run();
    if (status.ok()) return base_.WriteAuditOutbox(writer, audit);
    return InsertError(writer, status, "a cooperation record with this id exists");
  });
}

Result<CooperationPage> SqliteBusinessStore::ListCooperation(
    const std::string& customer_id, const std::optional<std::string>& cursor, int limit) {
  return ReadPage<CooperationRecord>(
      base_, kListCooperationFirst, kListCooperationAfter, "list cooperation records", customer_id,
      cursor, limit, ReadCooperationRow, BindTextId,
      [](const CooperationRecord& r) { return std::make_pair(r.started_at_us, r.id); });
}

Result<BusinessTotalsById> SqliteBusinessStore::TotalsForIdRange(const std::string& first_id,
                                                                 const std::string& last_id,
                                                                 int64_t since_us) {
  RETURN_IF_ERROR(CheckCustomerId(first_id));
  RETURN_IF_ERROR(CheckCustomerId(last_id));
  BusinessTotalsById totals;
  if (last_id < first_id) return totals;
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  // One snapshot for the three queries.
  Transaction snapshot(*reader);
  RETURN_IF_ERROR(snapshot.Begin(Transaction::Kind::kRead));
  {
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kTransactionTotalsRange, "transaction totals"));
    select->BindText(1, first_id);
    select->BindText(2, last_id);
    select->BindInt64(3, since_us);
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) break;
      BusinessTotals& t = totals[select->ColumnBytes(0)];
      t.spend_fen = select->ColumnInt64(1);
      t.order_count = select->ColumnInt64(2);
    }
  }
  {
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kComplaintTotalsRange, "complaint totals"));
    select->BindText(1, first_id);
    select->BindText(2, last_id);
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) break;
      BusinessTotals& t = totals[select->ColumnBytes(0)];
      t.complaints_open = select->ColumnInt64(1);
      t.complaints_total = select->ColumnInt64(2);
    }
  }
  {
    ASSIGN_OR_RETURN(auto select,
                     reader->Prepare(kCooperationCustomersRange, "cooperation customers"));
    select->BindText(1, first_id);
    select->BindText(2, last_id);
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) break;
      totals.try_emplace(select->ColumnBytes(0));
    }
  }
  RETURN_IF_ERROR(snapshot.Commit());
  return totals;
}

Result<BusinessTotals> SqliteBusinessStore::TotalsFor(const std::string& customer_id,
                                                      int64_t since_us) {
  RETURN_IF_ERROR(CheckCustomerId(customer_id));
  BusinessTotals totals;
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  Transaction snapshot(*reader);
  RETURN_IF_ERROR(snapshot.Begin(Transaction::Kind::kRead));
  {
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kTransactionTotalsOne, "transaction totals"));
    select->BindText(1, customer_id);
    select->BindInt64(2, since_us);
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) return Internal("transaction totals: no row");
    totals.spend_fen = select->ColumnInt64(0);
    totals.order_count = select->ColumnInt64(1);
  }
  {
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kComplaintTotalsOne, "complaint totals"));
    select->BindText(1, customer_id);
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) return Internal("complaint totals: no row");
    totals.complaints_open = select->ColumnInt64(0);
    totals.complaints_total = select->ColumnInt64(1);
  }
  RETURN_IF_ERROR(snapshot.Commit());
  return totals;
}

}  // namespace custvault::store::sqlite

namespace custvault::store {

Result<std::unique_ptr<BusinessStore>> OpenSqliteBusinessStore(Store& store) {
  auto* sqlite_store = dynamic_cast<sqlite::SqliteStore*>(&store);
  if (sqlite_store == nullptr) {
    return InvalidArgument("the business store needs the store from OpenSqliteStore");
  }
  return std::unique_ptr<BusinessStore>(new sqlite::SqliteBusinessStore(*sqlite_store));
}

}  // namespace custvault::store
