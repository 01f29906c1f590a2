#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "store/sqlite/sqlite_backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "store/sqlite/audit_rows.h"
#include "store/sqlite/change_journal.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"

namespace custvault::store::sqlite {
namespace {

Status CreateNewPrivateFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("cannot create " + path + ": " + std::strerror(errno));
  ::close(fd);
  return Status::Ok();
}

Result<int64_t> FileSize(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return Internal("cannot stat " + path);
  return static_cast<int64_t>(info.st_size);
}

Result<std::unique_ptr<Connection>> OpenReader(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return NotFound("no database at " + path);
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection,
                   Connection::Open({.path = path,
                                     .read_only = true,
                                     .busy_timeout_ms = kBackupBusyTimeoutMs}));
  RETURN_IF_ERROR(connection->Exec("PRAGMA trusted_schema = OFF", "set trusted_schema"));
  return connection;
}

Result<std::unique_ptr<Connection>> OpenWriter(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return NotFound("no database at " + path);
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection,
                   Connection::Open({.path = path,
                                     .read_only = false,
                                     .busy_timeout_ms = kBackupBusyTimeoutMs}));
  RETURN_IF_ERROR(connection->Exec("PRAGMA trusted_schema = OFF", "set trusted_schema"));
  RETURN_IF_ERROR(connection->Exec("PRAGMA secure_delete = ON", "set secure_delete"));
  return connection;
}

// A connection on which triggers do nothing (a restore replays what
// triggers did as rows of their own).
Status DisableTriggers(Connection& connection) {
  int now_enabled = 1;
  const int rc =
      sqlite3_db_config(connection.handle(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &now_enabled);
  if (rc != SQLITE_OK || now_enabled != 0) return Internal("cannot turn triggers off");
  return Status::Ok();
}

Result<int64_t> SingleInt(Connection& connection, const char* sql, std::string_view what) {
  ASSIGN_OR_RETURN(auto select, connection.Prepare(sql, what));
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row || select->ColumnIsNull(0)) return int64_t{0};
  return select->ColumnInt64(0);
}

// One consistent copy with the backup API: every page in one step, which
// holds one read transaction on the source for the whole copy.
Status CopyDatabase(const std::string& source, const std::string& dest) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> from, OpenReader(source));
  RETURN_IF_ERROR(CreateNewPrivateFile(dest));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> to,
                   Connection::Open({.path = dest, .busy_timeout_ms = kBackupBusyTimeoutMs}));
  // The copy is scratch until it is archived: no rollback journal needed.
  RETURN_IF_ERROR(to->Exec("PRAGMA journal_mode = OFF", "set journal_mode"));
  RETURN_IF_ERROR(to->Exec("PRAGMA synchronous = OFF", "set synchronous"));
  sqlite3_backup* backup = sqlite3_backup_init(to->handle(), "main", from->handle(), "main");
  if (backup == nullptr) return SqliteError(sqlite3_errcode(to->handle()), to->handle(), "start snapshot");
  int rc = SQLITE_OK;
  do {
    rc = sqlite3_backup_step(backup, -1);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(50);
  } while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  const int finish = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return SqliteError(rc, to->handle(), "copy snapshot");
  if (finish != SQLITE_OK) return SqliteError(finish, to->handle(), "finish snapshot");
  return Status::Ok();
}

constexpr char kSnapshotJournalLast[] =
    "SELECT seq, committed_at_us FROM change_journal ORDER BY seq DESC LIMIT 1";
constexpr char kCountCustomers[] = "SELECT count(*) FROM customers";
constexpr char kSelectShredded[] =
    "SELECT customer_id, deleted_at_us FROM shredded_customers ORDER BY customer_id, deleted_at_us";
constexpr char kClearSourceState[] =
    "DELETE FROM change_journal; DELETE FROM sessions; DELETE FROM backup_state;";
constexpr char kHasAuditOutbox[] =
    "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'audit_outbox'";

// The audit outbox (schema 7 on) holds entries on their way to the source's
// audit.db, which carries them (R-AUD-6); a copy starts with none, or its
// first open would chain them into the restored trail a second time.
Status ClearAuditOutbox(Connection& connection) {
  ASSIGN_OR_RETURN(auto exists, connection.Prepare(kHasAuditOutbox, "look for the audit outbox"));
  ASSIGN_OR_RETURN(const bool has_table, exists->Step());
  exists.reset();
  if (!has_table) return Status::Ok();
  return connection.Exec("DELETE FROM audit_outbox", "clear the audit outbox");
}

}  // namespace

Result<DatabaseSnapshotInfo> SnapshotCustomerDatabase(const std::string& source,
                                                      const std::string& dest) {
  RETURN_IF_ERROR(CopyDatabase(source, dest));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> copy,
                   Connection::Open({.path = dest, .busy_timeout_ms = kBackupBusyTimeoutMs}));
  RETURN_IF_ERROR(copy->Exec("PRAGMA journal_mode = OFF", "set journal_mode"));
  RETURN_IF_ERROR(copy->Exec("PRAGMA synchronous = OFF", "set synchronous"));
  RETURN_IF_ERROR(copy->Exec("PRAGMA secure_delete = ON", "set secure_delete"));
  DatabaseSnapshotInfo info;
  ASSIGN_OR_RETURN(info.schema_version, ReadSchemaVersion(*copy));
  if (info.schema_version < 6) {
    return Internal("the database has no change journal yet (schema " +
                    std::to_string(info.schema_version) + "); open it once with this version");
  }
  {
    ASSIGN_OR_RETURN(auto last, copy->Prepare(kSnapshotJournalLast, "read snapshot journal"));
    ASSIGN_OR_RETURN(const bool has_row, last->Step());
    if (has_row) {
      info.journal_seq = last->ColumnInt64(0);
      info.journal_point_us = last->ColumnInt64(1);
    }
  }
  ASSIGN_OR_RETURN(info.customers, SingleInt(*copy, kCountCustomers, "count customers"));
  {
    ASSIGN_OR_RETURN(auto shredded, copy->Prepare(kSelectShredded, "read shredded customers"));
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, shredded->Step());
      if (!has_row) break;
      info.shredded.push_back({shredded->ColumnBytes(0), shredded->ColumnInt64(1)});
    }
  }
  RETURN_IF_ERROR(copy->Exec(kClearSourceState, "clear source state in the snapshot"));
  RETURN_IF_ERROR(ClearAuditOutbox(*copy));
  copy.reset();
  ASSIGN_OR_RETURN(info.bytes, FileSize(dest));
  return info;
}

Result<AuditSnapshotInfo> SnapshotAuditDatabase(const std::string& source,
                                                const std::string& dest) {
  RETURN_IF_ERROR(CopyDatabase(source, dest));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> copy, OpenReader(dest));
  AuditSnapshotInfo info;
  {
    ASSIGN_OR_RETURN(auto last, copy->Prepare("SELECT seq, time_us FROM audit_entries ORDER BY "
                                              "seq DESC LIMIT 1",
                                              "read snapshot audit"));
    ASSIGN_OR_RETURN(const bool has_row, last->Step());
    if (has_row) {
      info.last_seq = last->ColumnInt64(0);
      info.last_time_us = last->ColumnInt64(1);
    }
  }
  ASSIGN_OR_RETURN(info.checkpoint_rowid,
                   SingleInt(*copy, "SELECT max(rowid) FROM audit_checkpoints", "read checkpoints"));
  ASSIGN_OR_RETURN(info.alert_id, SingleInt(*copy, "SELECT max(id) FROM alerts", "read alerts"));
  ASSIGN_OR_RETURN(info.entries,
                   SingleInt(*copy, "SELECT count(*) FROM audit_entries", "count entries"));
  copy.reset();
  ASSIGN_OR_RETURN(info.bytes, FileSize(dest));
  return info;
}

// ---- JournalReader ----

JournalReader::JournalReader(std::unique_ptr<Connection> connection)
    : connection_(std::move(connection)) {}
JournalReader::~JournalReader() = default;

Result<std::unique_ptr<JournalReader>> JournalReader::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, OpenReader(path));
  return std::unique_ptr<JournalReader>(new JournalReader(std::move(connection)));
}

Result<JournalBounds> JournalReader::Bounds() {
  Transaction transaction(*connection_);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kRead));
  JournalBounds bounds;
  ASSIGN_OR_RETURN(bounds.schema_version, ReadSchemaVersion(*connection_));
  ASSIGN_OR_RETURN(bounds.first_seq, SingleInt(*connection_, "SELECT min(seq) FROM change_journal",
                                               "read journal bounds"));
  {
    ASSIGN_OR_RETURN(auto last, connection_->Prepare(kSnapshotJournalLast, "read journal bounds"));
    ASSIGN_OR_RETURN(const bool has_row, last->Step());
    if (has_row) {
      bounds.last_seq = last->ColumnInt64(0);
      bounds.last_committed_at_us = last->ColumnInt64(1);
    }
  }
  RETURN_IF_ERROR(transaction.Commit());
  return bounds;
}

Status JournalReader::Scan(int64_t after_seq, int64_t up_to_seq,
                           const std::function<Status(const JournalRow&)>& visit) {
  Transaction transaction(*connection_);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kRead));
  {
    ASSIGN_OR_RETURN(auto select,
                     connection_->Prepare("SELECT seq, committed_at_us, changeset FROM "
                                          "change_journal WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
                                          "read change journal"));
    select->BindInt64(1, after_seq);
    select->BindInt64(2, up_to_seq);
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) break;
      RETURN_IF_ERROR(visit({select->ColumnInt64(0), select->ColumnInt64(1), select->ColumnView(2)}));
    }
  }
  return transaction.Commit();
}

Result<int64_t> GetBackupCursor(const std::string& path, std::string_view name) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, OpenReader(path));
  ASSIGN_OR_RETURN(auto select, connection->Prepare("SELECT value FROM backup_state WHERE name = ?1",
                                                    "read backup cursor"));
  select->BindText(1, name);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  return has_row ? select->ColumnInt64(0) : int64_t{0};
}

Status PutBackupCursor(const std::string& path, std::string_view name, int64_t value,
                       int64_t now_us) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, OpenWriter(path));
  ASSIGN_OR_RETURN(auto upsert,
                   connection->Prepare("INSERT INTO backup_state (name, value, updated_at_us) "
                                       "VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE SET "
                                       "value = excluded.value, updated_at_us = excluded.updated_at_us",
                                       "write backup cursor"));
  upsert->BindText(1, name);
  upsert->BindInt64(2, value);
  upsert->BindInt64(3, now_us);
  return upsert->Run();
}

Result<int64_t> PruneJournal(const std::string& path, int64_t up_to_seq) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, OpenWriter(path));
  ASSIGN_OR_RETURN(auto prune,
                   connection->Prepare("DELETE FROM change_journal WHERE seq <= ?1 AND seq < "
                                       "(SELECT max(seq) FROM change_journal)",
                                       "prune change journal"));
  prune->BindInt64(1, up_to_seq);
  RETURN_IF_ERROR(prune->Run());
  return connection->Changes();
}

// ---- AuditReader ----

AuditReader::AuditReader(std::unique_ptr<Connection> connection)
    : connection_(std::move(connection)) {}
AuditReader::~AuditReader() = default;

Result<std::unique_ptr<AuditReader>> AuditReader::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, OpenReader(path));
  return std::unique_ptr<AuditReader>(new AuditReader(std::move(connection)));
}

Status AuditReader::BeginSnapshot() { return connection_->Exec("BEGIN", "begin audit snapshot"); }
Status AuditReader::EndSnapshot() { return connection_->Exec("COMMIT", "end audit snapshot"); }

Result<AuditBounds> AuditReader::Bounds() {
  AuditBounds bounds;
  ASSIGN_OR_RETURN(auto last, connection_->Prepare("SELECT seq, time_us FROM audit_entries ORDER "
                                                   "BY seq DESC LIMIT 1",
                                                   "read audit bounds"));
  ASSIGN_OR_RETURN(const bool has_row, last->Step());
  if (has_row) {
    bounds.last_seq = last->ColumnInt64(0);
    bounds.last_time_us = last->ColumnInt64(1);
  }
  last.reset();
  ASSIGN_OR_RETURN(bounds.checkpoint_rowid,
                   SingleInt(*connection_, "SELECT max(rowid) FROM audit_checkpoints",
                             "read audit bounds"));
  ASSIGN_OR_RETURN(bounds.alert_id,
                   SingleInt(*connection_, "SELECT max(id) FROM alerts", "read audit bounds"));
  return bounds;
}

Status AuditReader::ScanEntries(int64_t after_seq, int64_t up_to_seq,
                                const std::function<Status(const AuditEntryView&)>& visit) {
  ASSIGN_OR_RETURN(auto select,
                   connection_->Prepare(
                       "SELECT " CV_AUDIT_ENTRY_COLUMNS " FROM audit_entries WHERE "
                       "seq > ?1 AND seq <= ?2 ORDER BY seq",
                       "read audit entries"));
  select->BindInt64(1, after_seq);
  select->BindInt64(2, up_to_seq);
  return VisitAuditEntries(*select, visit);
}

Result<AuditDelta> AuditReader::Delta(int64_t after_rowid, int64_t up_to_rowid,
                                      int64_t after_alert_id, int64_t acknowledged_since_us) {
  AuditDelta delta;
  {
    ASSIGN_OR_RETURN(auto select,
                     connection_->Prepare("SELECT rowid, seq, hash, time_us, kind, key_version, "
                                          "mac FROM audit_checkpoints WHERE rowid > ?1 AND "
                                          "rowid <= ?2 ORDER BY rowid",
                                          "read audit checkpoints"));
    select->BindInt64(1, after_rowid);
    select->BindInt64(2, up_to_rowid);
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) break;
      AuditCheckpointWithRowid c;
      c.rowid = select->ColumnInt64(0);
      c.row.seq = select->ColumnInt64(1);
      c.row.hash = select->ColumnBytes(2);
      c.row.time_us = select->ColumnInt64(3);
      c.row.kind = select->ColumnBytes(4);
      c.row.key_version = static_cast<uint32_t>(select->ColumnInt64(5));
      c.row.mac = select->ColumnBytes(6);
      delta.checkpoints.push_back(std::move(c));
    }
  }
  ASSIGN_OR_RETURN(delta.head, ReadAuditHead(*connection_));
  {
    ASSIGN_OR_RETURN(auto select,
                     connection_->Prepare("SELECT id, rule, actor_id, time_us, summary, "
                                          "acknowledged_by, acknowledged_at_us FROM alerts WHERE "
                                          "id > ?1 OR acknowledged_at_us >= ?2 ORDER BY id",
                                          "read alerts"));
    select->BindInt64(1, after_alert_id);
    select->BindInt64(2, acknowledged_since_us);
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) break;
      AlertRow alert;
      alert.id = select->ColumnInt64(0);
      alert.rule = select->ColumnBytes(1);
      alert.actor_id = select->ColumnBytes(2);
      alert.time_us = select->ColumnInt64(3);
      alert.summary = select->ColumnBytes(4);
      alert.acknowledged_by = select->ColumnBytes(5);
      alert.acknowledged_at_us = select->ColumnInt64(6);
      delta.alerts.push_back(std::move(alert));
    }
  }
  {
    ASSIGN_OR_RETURN(auto select, connection_->Prepare("SELECT actor_id, source_ip FROM login_ips "
                                                       "ORDER BY actor_id, source_ip",
                                                       "read login IPs"));
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) break;
      delta.login_ips.push_back({select->ColumnBytes(0), select->ColumnBytes(1)});
    }
  }
  return delta;
}

// ---- RestoredDatabase ----

namespace {

struct ApplyContext {
  int64_t deletes_already_gone = 0;
  std::string conflict;  // what went wrong, for the error
};

int OnConflict(void* context, int conflict, sqlite3_changeset_iter* iter) {
  auto* apply = static_cast<ApplyContext*>(context);
  const char* table = nullptr;
  int columns = 0, op = 0, indirect = 0;
  sqlite3changeset_op(iter, &table, &columns, &op, &indirect);
  if (op == SQLITE_DELETE && conflict == SQLITE_CHANGESET_NOTFOUND) {
    ++apply->deletes_already_gone;
    return SQLITE_CHANGESET_OMIT;
  }
  const char* kind = conflict == SQLITE_CHANGESET_DATA         ? "data"
                     : conflict == SQLITE_CHANGESET_NOTFOUND   ? "row not found"
                     : conflict == SQLITE_CHANGESET_CONFLICT   ? "row exists"
                     : conflict == SQLITE_CHANGESET_CONSTRAINT ? "constraint"
                     : conflict == SQLITE_CHANGESET_FOREIGN_KEY ? "foreign key"
                                                                : "conflict";
  const char* operation = op == SQLITE_INSERT ? "insert" : op == SQLITE_UPDATE ? "update" : "delete";
  apply->conflict = std::string(operation) + " into " + (table != nullptr ? table : "?") + ": " + kind;
  return SQLITE_CHANGESET_ABORT;
}

}  // namespace

RestoredDatabase::RestoredDatabase(std::unique_ptr<Connection> connection)
    : connection_(std::move(connection)) {}
RestoredDatabase::~RestoredDatabase() = default;

Result<std::unique_ptr<RestoredDatabase>> RestoredDatabase::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, OpenWriter(path));
  ASSIGN_OR_RETURN(auto mode, connection->Prepare("PRAGMA journal_mode = WAL", "set WAL mode"));
  ASSIGN_OR_RETURN(const bool has_row, mode->Step());
  if (!has_row || mode->ColumnBytes(0) != "wal") return Internal("restored database: no WAL mode");
  mode.reset();
  RETURN_IF_ERROR(connection->Exec("PRAGMA synchronous = NORMAL", "set synchronous"));
  RETURN_IF_ERROR(connection->Exec("PRAGMA foreign_keys = OFF", "foreign keys off"));
  RETURN_IF_ERROR(connection->Exec("PRAGMA cache_size = -131072", "set cache_size"));
  RETURN_IF_ERROR(DisableTriggers(*connection));
  return std::unique_ptr<RestoredDatabase>(new RestoredDatabase(std::move(connection)));
}

Status RestoredDatabase::BeginBatch() { return connection_->Exec("BEGIN", "begin restore batch"); }
Status RestoredDatabase::CommitBatch() {
  return connection_->Exec("COMMIT", "commit restore batch");
}

Status RestoredDatabase::Apply(std::string_view patchset) {
  if (patchset.empty()) return Status::Ok();
  ApplyContext context;
  const int rc = sqlite3changeset_apply(
      connection_->handle(), static_cast<int>(patchset.size()), const_cast<char*>(patchset.data()),
      nullptr, &OnConflict, &context);
  deletes_already_gone_ += context.deletes_already_gone;
  if (rc != SQLITE_OK) {
    if (!context.conflict.empty()) return Conflict("change does not apply: " + context.conflict);
    return SqliteError(rc, connection_->handle(), "apply change journal");
  }
  return Status::Ok();
}

Result<int64_t> RestoredDatabase::Shred(const std::vector<ShredEntry>& entries) {
  // Every table with a customer_id column holds the customer's data, as
  // the journal's attribution says (change_journal.cc), except the ledger
  // itself and approval items.
  std::vector<std::string> tables;
  {
    ASSIGN_OR_RETURN(auto select,
                     connection_->Prepare(
                         "SELECT m.name FROM sqlite_schema m JOIN pragma_table_info(m.name) p "
                         "WHERE m.type = 'table' AND p.name = 'customer_id' AND m.name NOT IN "
                         "('shredded_customers', 'approval_items', 'change_journal') ORDER BY "
                         "m.name",
                         "list customer tables"));
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) break;
      tables.push_back(select->ColumnBytes(0));
    }
  }
  int64_t shredded = 0;
  RETURN_IF_ERROR(connection_->Exec("BEGIN IMMEDIATE", "begin shred"));
  for (const ShredEntry& entry : entries) {
    {
      ASSIGN_OR_RETURN(auto record, connection_->Prepare("INSERT OR IGNORE INTO shredded_customers "
                                                         "(customer_id, deleted_at_us) VALUES "
                                                         "(?1, ?2)",
                                                         "record shred"));
      record->BindText(1, entry.customer_id);
      record->BindInt64(2, entry.deleted_at_us);
      RETURN_IF_ERROR(record->Run());
    }
    ASSIGN_OR_RETURN(auto find, connection_->Prepare("SELECT created_at_us FROM customers WHERE "
                                                     "id = ?1",
                                                     "find shredded customer"));
    find->BindText(1, entry.customer_id);
    ASSIGN_OR_RETURN(const bool exists, find->Step());
    // An id drawn again after the deletion belongs to a newer customer.
    if (!exists || find->ColumnInt64(0) > entry.deleted_at_us) continue;
    find.reset();
    for (const std::string& table : tables) {
      std::string sql = "DELETE FROM \"";
      for (char c : table) sql += c == '"' ? std::string("\"\"") : std::string(1, c);
      sql += "\" WHERE customer_id = ?1";
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v2(connection_->handle(), sql.c_str(), -1, &stmt, nullptr);
      if (rc == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, entry.customer_id.data(),
                          static_cast<int>(entry.customer_id.size()), SQLITE_STATIC);
        rc = sqlite3_step(stmt);
      }
      sqlite3_finalize(stmt);
      if (rc != SQLITE_DONE) return SqliteError(rc, connection_->handle(), "shred " + table);
    }
    ASSIGN_OR_RETURN(auto remove, connection_->Prepare("DELETE FROM customers WHERE id = ?1",
                                                       "shred customer"));
    remove->BindText(1, entry.customer_id);
    RETURN_IF_ERROR(remove->Run());
    ++shredded;
  }
  RETURN_IF_ERROR(connection_->Exec("COMMIT", "commit shred"));
  return shredded;
}

Status RestoredDatabase::ClearSourceState() {
  RETURN_IF_ERROR(connection_->Exec("BEGIN IMMEDIATE", "begin clear"));
  RETURN_IF_ERROR(connection_->Exec(kClearSourceState, "clear source state"));
  RETURN_IF_ERROR(ClearAuditOutbox(*connection_));
  RETURN_IF_ERROR(connection_->Exec("COMMIT", "commit clear"));
  const int rc = sqlite3_wal_checkpoint_v2(connection_->handle(), nullptr,
                                           SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, connection_->handle(), "checkpoint restored database");
  return Status::Ok();
}

Result<int64_t> RestoredDatabase::CountCustomers() {
  return SingleInt(*connection_, kCountCustomers, "count customers");
}

Result<std::vector<ShredEntry>> RestoredDatabase::ShreddedCustomers() {
  std::vector<ShredEntry> entries;
  ASSIGN_OR_RETURN(auto select, connection_->Prepare(kSelectShredded, "read shredded customers"));
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    entries.push_back({select->ColumnBytes(0), select->ColumnInt64(1)});
  }
  return entries;
}

Result<std::vector<StoredKey>> RestoredDatabase::Keys() {
  std::vector<StoredKey> keys;
  ASSIGN_OR_RETURN(auto select, connection_->Prepare("SELECT purpose, version, wrapped, "
                                                     "created_at_us FROM keys ORDER BY purpose, "
                                                     "version",
                                                     "read restored keys"));
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    keys.push_back({select->ColumnBytes(0), static_cast<uint32_t>(select->ColumnInt64(1)),
                    select->ColumnBytes(2), select->ColumnInt64(3)});
  }
  return keys;
}

// ---- RestoredAuditDatabase ----

RestoredAuditDatabase::RestoredAuditDatabase(std::unique_ptr<Connection> connection)
    : connection_(std::move(connection)) {}
RestoredAuditDatabase::~RestoredAuditDatabase() = default;

Result<std::unique_ptr<RestoredAuditDatabase>> RestoredAuditDatabase::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, OpenWriter(path));
  ASSIGN_OR_RETURN(auto mode, connection->Prepare("PRAGMA journal_mode = WAL", "set WAL mode"));
  ASSIGN_OR_RETURN(const bool has_row, mode->Step());
  if (!has_row || mode->ColumnBytes(0) != "wal") return Internal("restored audit: no WAL mode");
  mode.reset();
  RETURN_IF_ERROR(connection->Exec("PRAGMA synchronous = NORMAL", "set synchronous"));
  RETURN_IF_ERROR(DisableTriggers(*connection));
  return std::unique_ptr<RestoredAuditDatabase>(new RestoredAuditDatabase(std::move(connection)));
}

Status RestoredAuditDatabase::Begin() { return connection_->Exec("BEGIN IMMEDIATE", "begin"); }
Status RestoredAuditDatabase::Commit() { return connection_->Exec("COMMIT", "commit"); }

Status RestoredAuditDatabase::InsertEntry(const AuditEntryRow& entry) {
  return InsertAuditEntry(*connection_, entry);
}

Status RestoredAuditDatabase::InsertCheckpoint(const AuditCheckpointRow& c) {
  return InsertAuditCheckpoint(*connection_, c);
}

Status RestoredAuditDatabase::PutHead(const AuditHeadRow& head) {
  return PutAuditHead(*connection_, head);
}

Status RestoredAuditDatabase::UpsertAlert(const AlertRow& a) {
  ASSIGN_OR_RETURN(auto put, connection_->Prepare(
                                 "INSERT INTO alerts (id, rule, actor_id, time_us, summary, "
                                 "acknowledged_by, acknowledged_at_us) VALUES (?1, ?2, ?3, ?4, "
                                 "?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET acknowledged_by = "
                                 "excluded.acknowledged_by, acknowledged_at_us = "
                                 "excluded.acknowledged_at_us",
                                 "restore alert"));
  put->BindInt64(1, a.id);
  put->BindText(2, a.rule);
  put->BindText(3, a.actor_id);
  put->BindInt64(4, a.time_us);
  put->BindText(5, a.summary);
  put->BindText(6, a.acknowledged_by);
  put->BindInt64(7, a.acknowledged_at_us);
  return put->Run();
}

Status RestoredAuditDatabase::InsertLoginIp(const LoginIpRow& login) {
  ASSIGN_OR_RETURN(auto put, connection_->Prepare("INSERT OR IGNORE INTO login_ips (actor_id, "
                                                  "source_ip) VALUES (?1, ?2)",
                                                  "restore login IP"));
  put->BindText(1, login.actor_id);
  put->BindText(2, login.source_ip);
  return put->Run();
}

Result<std::optional<AuditEntryRow>> RestoredAuditDatabase::LastEntry() {
  ASSIGN_OR_RETURN(auto select,
                   connection_->Prepare("SELECT " CV_AUDIT_ENTRY_COLUMNS
                                        " FROM audit_entries ORDER BY seq DESC LIMIT 1",
                                        "read last audit entry"));
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return std::optional<AuditEntryRow>();
  return std::optional<AuditEntryRow>(ReadAuditEntry(*select));
}

Result<std::optional<AuditHeadRow>> RestoredAuditDatabase::Head() {
  return ReadAuditHead(*connection_);
}

Result<std::optional<AuditEntryRow>> RestoredAuditDatabase::CutAfter(int64_t at_us) {
  {
    ASSIGN_OR_RETURN(auto cut, connection_->Prepare("DELETE FROM audit_entries WHERE time_us > ?1",
                                                    "cut audit entries"));
    cut->BindInt64(1, at_us);
    RETURN_IF_ERROR(cut->Run());
  }
  ASSIGN_OR_RETURN(std::optional<AuditEntryRow> last, LastEntry());
  ASSIGN_OR_RETURN(auto cut, connection_->Prepare("DELETE FROM audit_checkpoints WHERE seq > ?1",
                                                  "cut audit checkpoints"));
  cut->BindInt64(1, last ? last->seq : 0);
  RETURN_IF_ERROR(cut->Run());
  return last;
}

Result<int64_t> RestoredAuditDatabase::EntryCount() {
  return SingleInt(*connection_, "SELECT count(*) FROM audit_entries", "count audit entries");
}

Status RestoredAuditDatabase::Checkpoint() {
  const int rc = sqlite3_wal_checkpoint_v2(connection_->handle(), nullptr,
                                           SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, connection_->handle(), "checkpoint restored audit");
  return Status::Ok();
}

}  // namespace custvault::store::sqlite
