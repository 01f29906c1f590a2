#include "store/sqlite/sqlite_audit_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "store/sqlite/audit_rows.h"

namespace custvault::store::sqlite {
namespace {

constexpr int kSchemaVersion = 2;
constexpr int kReadersMax = 16;
constexpr int kReaderWaitMs = 5000;
constexpr int kLoginIpsLimitMax = 1'000'000;

// Version 2 (version 1 plus audit_outbox_chained; every statement is
// IF NOT EXISTS, so a version 1 file is brought up by running it again).
// Entries are keyed by seq (the rowid). The secondary indexes
// carry seq so a filtered search walks one index in seq order. time_us is
// non-decreasing in seq (the writer guarantees it), which lets a time range
// become a seq range. See docs/formats/audit-chain.md.
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS audit_entries (
  seq INTEGER PRIMARY KEY,
  time_us INTEGER NOT NULL,
  actor_id TEXT NOT NULL,
  actor_role TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  operation TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  result TEXT NOT NULL,
  details TEXT NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_entries_by_actor ON audit_entries(actor_id, seq);
CREATE INDEX IF NOT EXISTS audit_entries_by_customer ON audit_entries(customer_id, seq)
  WHERE customer_id <> '';
CREATE INDEX IF NOT EXISTS audit_entries_by_ip ON audit_entries(source_ip, seq);
CREATE INDEX IF NOT EXISTS audit_entries_by_time ON audit_entries(time_us);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  seq INTEGER NOT NULL,
  hash BLOB NOT NULL,
  time_us INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('periodic', 'purge', 'shutdown')),
  key_version INTEGER NOT NULL,
  mac BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_checkpoints_by_seq ON audit_checkpoints(seq);
CREATE TABLE IF NOT EXISTS audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash BLOB NOT NULL,
  time_us INTEGER NOT NULL,
  key_version INTEGER NOT NULL,
  mac BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rule TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  time_us INTEGER NOT NULL,
  summary TEXT NOT NULL,
  acknowledged_by TEXT NOT NULL DEFAULT '',
  acknowledged_at_us INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts(id) WHERE acknowledged_at_us = 0;
CREATE TABLE IF NOT EXISTS login_ips (
  actor_id TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  PRIMARY KEY (actor_id, source_ip)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS audit_entries_append_only BEFORE UPDATE ON audit_entries
BEGIN
  SELECT RAISE(ABORT, 'audit entries are append-only');
END;
CREATE TRIGGER IF NOT EXISTS audit_entries_retention BEFORE DELETE ON audit_entries
WHEN OLD.time_us > (unixepoch() - 1096 * 86400) * 1000000
BEGIN
  SELECT RAISE(ABORT, 'audit entries younger than 1096 days cannot be deleted');
END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_append_only BEFORE UPDATE ON audit_checkpoints
BEGIN
  SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_kept BEFORE DELETE ON audit_checkpoints
BEGIN
  SELECT RAISE(ABORT, 'audit checkpoints are never deleted');
END;
CREATE TABLE IF NOT EXISTS audit_outbox_chained (
  token BLOB NOT NULL PRIMARY KEY,
  chained_at_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_outbox_chained_by_time ON audit_outbox_chained(chained_at_us);
PRAGMA user_version = 2;
)sql";

static_assert(kAuditRetentionDaysMin == 1096, "the trigger in kSchema spells out 1096 days");

Status CreatePrivateFileIfMissing(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return Status::Ok();
  }
  if (errno == EEXIST) return Status::Ok();
  return Internal("cannot create audit database file: " + std::string(std::strerror(errno)));
}

Status ConfigureWriter(Connection& writer) {
  {
    ASSIGN_OR_RETURN(auto mode, writer.Prepare("PRAGMA journal_mode = WAL", "set WAL mode"));
    ASSIGN_OR_RETURN(const bool has_row, mode->Step());
    if (!has_row || mode->ColumnBytes(0) != "wal") {
      return Internal("audit database could not be switched to WAL mode");
    }
  }
  // FULL: every commit fsyncs the WAL, so an entry whose Append returned is
  // on disk before the request it records is answered (R-AUD-5).
  RETURN_IF_ERROR(writer.Exec("PRAGMA synchronous = FULL", "set synchronous"));
  RETURN_IF_ERROR(writer.Exec("PRAGMA temp_store = MEMORY", "set temp_store"));
  RETURN_IF_ERROR(writer.Exec("PRAGMA trusted_schema = OFF", "set trusted_schema"));
  RETURN_IF_ERROR(writer.Exec("PRAGMA cache_size = -16384", "set cache_size"));  // 16 MiB
  return Status::Ok();
}

Status ApplySchema(Connection& writer) {
  ASSIGN_OR_RETURN(auto version, writer.Prepare("PRAGMA user_version", "read schema version"));
  ASSIGN_OR_RETURN(const bool has_row, version->Step());
  const int64_t found = has_row ? version->ColumnInt64(0) : 0;
  version.reset();
  if (found > kSchemaVersion) {
    return Internal("audit database schema v" + std::to_string(found) +
                    " is newer than this program understands (v" + std::to_string(kSchemaVersion) +
                    ")");
  }
  if (found == kSchemaVersion) return Status::Ok();
  Transaction transaction(writer);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
  RETURN_IF_ERROR(writer.Exec(kSchema, "create audit schema"));
  return transaction.Commit();
}


#define CV_ENTRY_SELECT "SELECT " CV_AUDIT_ENTRY_COLUMNS " FROM audit_entries "

// The filters every search applies; ?1 actor, ?2 customer, ?3 operation,
// ?4 ip, ?5 from (inclusive), ?6 to (exclusive), ?7 after_seq, ?8 limit.
// The time range also bounds seq (time is non-decreasing in seq), so a
// time-only search is a range of the primary key.
#define CV_SEARCH_FILTERS                                                      \
  "seq > ?7 AND (?1 = '' OR actor_id = ?1) AND (?2 = '' OR customer_id = ?2) " \
  "AND (?3 = '' OR operation = ?3) AND (?4 = '' OR source_ip = ?4) "           \
  "AND time_us >= ?5 AND time_us < ?6 "                                        \
  "AND seq >= coalesce((SELECT seq FROM audit_entries WHERE time_us >= ?5 "    \
  "ORDER BY time_us LIMIT 1), 9223372036854775807) "                           \
  "AND seq <= coalesce((SELECT seq FROM audit_entries WHERE time_us < ?6 "     \
  "ORDER BY time_us DESC LIMIT 1), 0) ORDER BY seq LIMIT ?8"

constexpr char kSearchByCustomer[] = CV_ENTRY_SELECT
    "INDEXED BY audit_entries_by_customer WHERE customer_id = ?2 AND "
    "customer_id <> '' AND " CV_SEARCH_FILTERS;
constexpr char kSearchByActor[] =
    CV_ENTRY_SELECT "INDEXED BY audit_entries_by_actor WHERE actor_id = ?1 AND " CV_SEARCH_FILTERS;
constexpr char kSearchByIp[] =
    CV_ENTRY_SELECT "INDEXED BY audit_entries_by_ip WHERE source_ip = ?4 AND " CV_SEARCH_FILTERS;
constexpr char kSearchAll[] = CV_ENTRY_SELECT "WHERE " CV_SEARCH_FILTERS;

#undef CV_SEARCH_FILTERS

constexpr char kInsertOutboxChained[] =
    "INSERT OR IGNORE INTO audit_outbox_chained (token, chained_at_us) VALUES (?1, ?2)";
constexpr char kSelectOutboxChained[] = "SELECT 1 FROM audit_outbox_chained WHERE token = ?1";
constexpr char kPruneOutboxChained[] = "DELETE FROM audit_outbox_chained WHERE chained_at_us < ?1";
constexpr char kInsertLoginIp[] =
    "INSERT OR IGNORE INTO login_ips (actor_id, source_ip) VALUES (?1, ?2)";
Status ValidateQuery(const AuditQuery& query) {
  if (query.limit < 1 || query.limit > kAuditPageLimitMax) {
    return InvalidArgument("limit must be 1.." + std::to_string(kAuditPageLimitMax));
  }
  if (query.after_seq < 0) return InvalidArgument("bad cursor");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<SqliteAuditStore>> SqliteAuditStore::Open(
    const SqliteAuditOptions& options) {
  if (options.path.empty() || options.path == ":memory:") {
    return InvalidArgument("the audit store needs a file path");
  }
  if (options.readers < 1 || options.readers > kReadersMax) {
    return InvalidArgument("audit store readers must be 1.." + std::to_string(kReadersMax));
  }
  RETURN_IF_ERROR(CreatePrivateFileIfMissing(options.path));
  ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> writer,
      Connection::Open(
          {.path = options.path, .read_only = false, .busy_timeout_ms = options.busy_timeout_ms}));
  RETURN_IF_ERROR(ConfigureWriter(*writer));
  RETURN_IF_ERROR(ApplySchema(*writer));
  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < options.readers; ++i) {
    ASSIGN_OR_RETURN(
        std::unique_ptr<Connection> reader,
        Connection::Open(
            {.path = options.path, .read_only = true, .busy_timeout_ms = options.busy_timeout_ms}));
    RETURN_IF_ERROR(reader->Exec("PRAGMA trusted_schema = OFF", "set trusted_schema"));
    readers.push_back(std::move(reader));
  }
  auto pool = std::make_unique<ConnectionPool>(std::move(readers),
                                               std::chrono::milliseconds(kReaderWaitMs));
  return std::unique_ptr<SqliteAuditStore>(
      new SqliteAuditStore(std::move(writer), std::move(pool)));
}

Status SqliteAuditStore::AppendBatch(std::span<const AuditEntryRow> entries,
                                     std::span<const AuditCheckpointRow> checkpoints,
                                     std::span<const LoginIpRow> login_ips,
                                     const AuditHeadRow& head) {
  std::lock_guard lock(writer_mutex_);
  Connection& writer = *writer_;
  Transaction transaction(writer);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
  for (const AuditEntryRow& entry : entries) {
    RETURN_IF_ERROR(InsertAuditEntry(writer, entry));
    if (entry.outbox_token.empty()) continue;
    // Chained in the same commit as the entry: the recovery at open never
    // chains this outbox row again (docs/formats/audit-chain.md).
    ASSIGN_OR_RETURN(auto chained,
                     writer.Prepare(kInsertOutboxChained, "mark outbox entry chained"));
    chained->BindBlob(1, entry.outbox_token);
    chained->BindInt64(2, entry.time_us);
    RETURN_IF_ERROR(chained->Run());
  }
  for (const AuditCheckpointRow& checkpoint : checkpoints) {
    RETURN_IF_ERROR(InsertAuditCheckpoint(writer, checkpoint));
  }
  for (const LoginIpRow& login : login_ips) {
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertLoginIp, "remember login IP"));
    insert->BindText(1, login.actor_id);
    insert->BindText(2, login.source_ip);
    RETURN_IF_ERROR(insert->Run());
  }
  // The batch must continue the stored head. Another process on the same
  // file (a CLI command while the server runs) may have moved it: a batch
  // with entries then also hits the seq key, but a checkpoint-only batch
  // (the shutdown checkpoint) would put the head back without this check.
  RETURN_IF_ERROR(PutAuditHead(writer, head, head.seq - static_cast<int64_t>(entries.size())));
  return transaction.Commit();
}

namespace {


Result<std::vector<AuditCheckpointRow>> ReadCheckpoints(Connection& reader) {
  ASSIGN_OR_RETURN(auto select,
                   reader.Prepare("SELECT seq, hash, time_us, kind, key_version, mac FROM "
                                  "audit_checkpoints ORDER BY seq, rowid",
                                  "read audit checkpoints"));
  std::vector<AuditCheckpointRow> rows;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    AuditCheckpointRow row;
    row.seq = select->ColumnInt64(0);
    row.hash = select->ColumnBytes(1);
    row.time_us = select->ColumnInt64(2);
    row.kind = select->ColumnBytes(3);
    row.key_version = static_cast<uint32_t>(select->ColumnInt64(4));
    row.mac = select->ColumnBytes(5);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

Result<std::vector<std::string>> SqliteAuditStore::ChainedOutboxTokens(
    const std::vector<std::string>& tokens) {
  if (tokens.size() > kAuditOutboxTokensQueryMax) {
    return TooLarge("at most " + std::to_string(kAuditOutboxTokensQueryMax) +
                    " outbox tokens per query");
  }
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  std::vector<std::string> chained;
  for (const std::string& token : tokens) {
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectOutboxChained, "read outbox chained"));
    select->BindBlob(1, token);
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (has_row) chained.push_back(token);
  }
  return chained;
}

Result<int64_t> SqliteAuditStore::PruneChainedOutboxTokens(int64_t before_us) {
  std::lock_guard lock(writer_mutex_);
  ASSIGN_OR_RETURN(auto prune, writer_->Prepare(kPruneOutboxChained, "prune outbox chained"));
  prune->BindInt64(1, before_us);
  RETURN_IF_ERROR(prune->Run());
  return writer_->Changes();
}

Result<std::optional<AuditHeadRow>> SqliteAuditStore::Head() {
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  return ReadAuditHead(*reader);
}

namespace {
constexpr char kLastEntry[] = CV_ENTRY_SELECT "ORDER BY seq DESC LIMIT 1";
constexpr char kFirstEntry[] = CV_ENTRY_SELECT "ORDER BY seq LIMIT 1";
constexpr char kScanEntries[] = CV_ENTRY_SELECT "WHERE seq >= ?1 ORDER BY seq";
#undef CV_ENTRY_SELECT
}  // namespace

Result<std::optional<AuditEntryRow>> SqliteAuditStore::LastEntry() {
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kLastEntry, "read last audit entry"));
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return std::optional<AuditEntryRow>();
  return std::optional<AuditEntryRow>(ReadAuditEntry(*select));
}

Result<std::optional<AuditEntryRow>> SqliteAuditStore::FirstEntry() {
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kFirstEntry, "read first audit entry"));
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return std::optional<AuditEntryRow>();
  return std::optional<AuditEntryRow>(ReadAuditEntry(*select));
}

Result<int64_t> SqliteAuditStore::EntryCount() {
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  ASSIGN_OR_RETURN(auto select,
                   reader->Prepare("SELECT count(*) FROM audit_entries", "count audit entries"));
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  return has_row ? select->ColumnInt64(0) : int64_t{0};
}

Status SqliteAuditStore::ScanEntries(int64_t from_seq, AuditChainSnapshot* snapshot,
                                     const std::function<Status(const AuditEntryView&)>& visit) {
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  // One read transaction: the scan sees one snapshot even while the writer
  // appends, so the head read inside it matches the entries.
  Transaction transaction(*reader);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kRead));
  if (snapshot != nullptr) {
    ASSIGN_OR_RETURN(snapshot->head, ReadAuditHead(*reader));
    ASSIGN_OR_RETURN(snapshot->checkpoints, ReadCheckpoints(*reader));
  }
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kScanEntries, "scan audit entries"));
  select->BindInt64(1, from_seq);
  return VisitAuditEntries(*select, visit);
}

Result<std::vector<AuditCheckpointRow>> SqliteAuditStore::Checkpoints() {
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  return ReadCheckpoints(*reader);
}

Result<std::vector<AuditEntryRow>> SqliteAuditStore::Search(const AuditQuery& query) {
  RETURN_IF_ERROR(ValidateQuery(query));
  // The most selective filter picks the index; the others are checked on
  // the rows it yields.
  const char* sql = kSearchAll;
  if (!query.customer_id.empty()) {
    sql = kSearchByCustomer;
  } else if (!query.actor_id.empty()) {
    sql = kSearchByActor;
  } else if (!query.source_ip.empty()) {
    sql = kSearchByIp;
  }
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(sql, "search audit entries"));
  select->BindText(1, query.actor_id);
  select->BindText(2, query.customer_id);
  select->BindText(3, query.operation);
  select->BindText(4, query.source_ip);
  select->BindInt64(5, query.from_us.value_or(INT64_MIN));
  select->BindInt64(6, query.to_us.value_or(INT64_MAX));
  select->BindInt64(7, query.after_seq);
  select->BindInt64(8, query.limit);
  std::vector<AuditEntryRow> rows;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    rows.push_back(ReadAuditEntry(*select));
  }
  return rows;
}

Result<std::optional<int64_t>> SqliteAuditStore::LastSeqBefore(int64_t before_us) {
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  ASSIGN_OR_RETURN(auto select, reader->Prepare("SELECT max(seq) FROM audit_entries WHERE "
                                                "time_us < ?1",
                                                "find purge boundary"));
  select->BindInt64(1, before_us);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row || select->ColumnIsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(select->ColumnInt64(0));
}

Result<int64_t> SqliteAuditStore::Purge(int64_t last_seq,
                                        const AuditCheckpointRow& purge_checkpoint) {
  if (purge_checkpoint.seq != last_seq || purge_checkpoint.kind != "purge") {
    return InvalidArgument("a purge needs a purge checkpoint of its last entry");
  }
  std::lock_guard lock(writer_mutex_);
  Connection& writer = *writer_;
  Transaction transaction(writer);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
  RETURN_IF_ERROR(InsertAuditCheckpoint(writer, purge_checkpoint));
  ASSIGN_OR_RETURN(auto remove, writer.Prepare("DELETE FROM audit_entries WHERE seq <= ?1",
                                               "purge audit entries"));
  remove->BindInt64(1, last_seq);
  RETURN_IF_ERROR(remove->Run());
  const int64_t deleted = writer.Changes();
  remove.reset();
  RETURN_IF_ERROR(transaction.Commit());
  return deleted;
}

Result<std::vector<LoginIpRow>> SqliteAuditStore::LoginIps(int limit) {
  if (limit < 1 || limit > kLoginIpsLimitMax) return InvalidArgument("login IP limit out of range");
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  ASSIGN_OR_RETURN(
      auto select,
      reader->Prepare("SELECT actor_id, source_ip FROM login_ips LIMIT ?1", "read login IPs"));
  select->BindInt64(1, limit);
  std::vector<LoginIpRow> rows;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    rows.push_back({select->ColumnBytes(0), select->ColumnBytes(1)});
  }
  return rows;
}

Result<int64_t> SqliteAuditStore::InsertAlert(const AlertRow& alert) {
  std::lock_guard lock(writer_mutex_);
  ASSIGN_OR_RETURN(auto insert,
                   writer_->Prepare("INSERT INTO alerts (rule, actor_id, time_us, summary) "
                                    "VALUES (?1, ?2, ?3, ?4) RETURNING id",
                                    "insert alert"));
  insert->BindText(1, alert.rule);
  insert->BindText(2, alert.actor_id);
  insert->BindInt64(3, alert.time_us);
  insert->BindText(4, alert.summary);
  ASSIGN_OR_RETURN(const bool has_row, insert->Step());
  if (!has_row) return Internal("insert alert returned no id");
  const int64_t id = insert->ColumnInt64(0);
  ASSIGN_OR_RETURN(const bool more, insert->Step());
  if (more) return Internal("insert alert returned two rows");
  return id;
}

Result<std::vector<AlertRow>> SqliteAuditStore::Alerts(bool unacknowledged_only, int64_t after_id,
                                                       int limit) {
  if (limit < 1 || limit > kAlertPageLimitMax) {
    return InvalidArgument("limit must be 1.." + std::to_string(kAlertPageLimitMax));
  }
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  ASSIGN_OR_RETURN(auto select,
                   reader->Prepare(unacknowledged_only
                                       ? "SELECT id, rule, actor_id, time_us, summary, "
                                         "acknowledged_by, acknowledged_at_us FROM alerts WHERE "
                                         "id > ?1 AND acknowledged_at_us = 0 ORDER BY id LIMIT ?2"
                                       : "SELECT id, rule, actor_id, time_us, summary, "
                                         "acknowledged_by, acknowledged_at_us FROM alerts WHERE "
                                         "id > ?1 ORDER BY id LIMIT ?2",
                                   "list alerts"));
  select->BindInt64(1, after_id);
  select->BindInt64(2, limit);
  std::vector<AlertRow> rows;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    AlertRow row;
    row.id = select->ColumnInt64(0);
    row.rule = select->ColumnBytes(1);
    row.actor_id = select->ColumnBytes(2);
    row.time_us = select->ColumnInt64(3);
    row.summary = select->ColumnBytes(4);
    row.acknowledged_by = select->ColumnBytes(5);
    row.acknowledged_at_us = select->ColumnInt64(6);
    rows.push_back(std::move(row));
  }
  return rows;
}

Status SqliteAuditStore::AcknowledgeAlert(int64_t id, std::string_view by, int64_t at_us) {
  std::lock_guard lock(writer_mutex_);
  ASSIGN_OR_RETURN(auto update,
                   writer_->Prepare("UPDATE alerts SET acknowledged_by = ?2, acknowledged_at_us = "
                                    "?3 WHERE id = ?1 AND acknowledged_at_us = 0",
                                    "acknowledge alert"));
  update->BindInt64(1, id);
  update->BindText(2, by);
  update->BindInt64(3, at_us);
  RETURN_IF_ERROR(update->Run());
  if (writer_->Changes() == 1) return Status::Ok();
  update.reset();
  ASSIGN_OR_RETURN(auto exists,
                   writer_->Prepare("SELECT 1 FROM alerts WHERE id = ?1", "find alert"));
  exists->BindInt64(1, id);
  ASSIGN_OR_RETURN(const bool found, exists->Step());
  if (!found) return NotFound("no such alert");
  return Conflict("alert already acknowledged");
}

}  // namespace custvault::store::sqlite
