#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string_view>
#include <unordered_set>

#include "store/cursor.h"
#include "store/fields_blob.h"
#include "store/shred_ledger.h"
#include "store/sqlite/change_journal.h"
#include "store/sqlite/migrations.h"

namespace custvault::store::sqlite {
namespace {

// ---- limits on what a record may carry (checked before any write) ----
constexpr size_t kStatusBytesMax = 32;
constexpr size_t kChannelBytesMax = 256;
constexpr size_t kWrappedKeyBytesMax = 1024;
constexpr size_t kDigestBytesMax = 64;
constexpr size_t kTagsMax = 64;
constexpr size_t kTagDimensionBytesMax = 64;
constexpr size_t kTagValueBytesMax = 256;
constexpr size_t kBatchRecordsMax = 50000;
constexpr size_t kKeyPurposeBytesMax = 64;
constexpr size_t kSettingNameBytesMax = 128;
constexpr size_t kSettingValueBytesMax = 64 * 1024;
constexpr int kReadersMax = 64;
constexpr int kTimeoutMsMax = 10 * 60 * 1000;
constexpr int kCheckpointAfterDeleteWaitMs = 250;

// ---- SQL: constants only; every value is a bound parameter ----
#define CUSTOMER_COLUMNS \
  "id, status, channel, created_at_us, updated_at_us, key_version, kek_version, fields"
#define CUSTOMER_COLUMNS_OF_C                                                                   \
  "c.id, c.status, c.channel, c.created_at_us, c.updated_at_us, c.key_version, c.kek_version, " \
  "c.fields"

constexpr char kInsertCustomer[] =
    "INSERT INTO customers (" CUSTOMER_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr char kInsertCustomerKey[] =
    "INSERT INTO customer_keys (customer_id, kek_version, wrapped) VALUES (?1, ?2, ?3)";
constexpr char kInsertBlindIndex[] =
    "INSERT INTO blind_index (field_key, digest, customer_id) VALUES (?1, ?2, ?3)";
constexpr char kInsertTag[] =
    "INSERT INTO customer_tags (customer_id, dimension, value) VALUES (?1, ?2, ?3)";
constexpr char kUpsertTag[] =
    "INSERT INTO customer_tags (customer_id, dimension, value) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (customer_id, dimension) DO UPDATE SET value = excluded.value";
constexpr char kDeleteTag[] = "DELETE FROM customer_tags WHERE customer_id = ?1 AND dimension = ?2";

constexpr char kInsertAuditOutbox[] =
    "INSERT INTO audit_outbox (token, written_at_us, actor_id, actor_role, source_ip, operation, "
    "customer_id, result, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr char kDeleteAuditOutboxRow[] = "DELETE FROM audit_outbox WHERE id = ?1";
constexpr char kDeleteAuditOutboxThrough[] = "DELETE FROM audit_outbox WHERE id <= ?1";
constexpr char kSelectAuditOutbox[] =
    "SELECT id, token, written_at_us, actor_id, actor_role, source_ip, operation, customer_id, "
    "result, details FROM audit_outbox WHERE id > ?1 ORDER BY id LIMIT ?2";
constexpr int kAuditOutboxPageMax = 1000;
constexpr size_t kAuditOutboxTokenBytes = 16;

constexpr char kSelectCustomer[] = "SELECT " CUSTOMER_COLUMNS " FROM customers WHERE id = ?1";
constexpr char kSelectCustomerKey[] =
    "SELECT kek_version, wrapped FROM customer_keys WHERE customer_id = ?1";
constexpr char kSelectBlindIndexes[] =
    "SELECT field_key, digest FROM blind_index WHERE customer_id = ?1";
constexpr char kSelectTags[] = "SELECT dimension, value FROM customer_tags WHERE customer_id = ?1";
constexpr char kListCustomers[] =
    "SELECT " CUSTOMER_COLUMNS " FROM customers WHERE id > ?1 ORDER BY id LIMIT ?2";
constexpr char kListCustomersByTag[] =
    "SELECT " CUSTOMER_COLUMNS_OF_C
    " FROM customer_tags t JOIN customers c ON c.id = t.customer_id"
    " WHERE t.dimension = ?1 AND t.value = ?2 AND t.customer_id > ?3 ORDER BY t.customer_id LIMIT "
    "?4";
constexpr char kFindByBlindIndex[] = "SELECT " CUSTOMER_COLUMNS_OF_C
                                     " FROM blind_index b JOIN customers c ON c.id = b.customer_id"
                                     " WHERE b.field_key = ?1 AND b.digest = ?2 AND b.customer_id "
                                     "> ?3 ORDER BY b.customer_id LIMIT ?4";
constexpr char kCountCustomers[] = "SELECT count(*) FROM customers";
constexpr char kCustomerExists[] = "SELECT 1 FROM customers WHERE id = ?1";

// One savepoint per write of a group commit (see SqliteStore).
constexpr char kSavepoint[] = "SAVEPOINT single_row_write";
constexpr char kReleaseSavepoint[] = "RELEASE single_row_write";
constexpr char kRollbackToSavepoint[] = "ROLLBACK TO single_row_write";

constexpr char kSelectFieldsForUpdate[] = "SELECT fields FROM customers WHERE id = ?1";
constexpr char kUpdateFields[] =
    "UPDATE customers SET fields = ?2, updated_at_us = ?3 WHERE id = ?1";
constexpr char kDeleteBlindIndexOfField[] =
    "DELETE FROM blind_index WHERE customer_id = ?1 AND field_key = ?2";

constexpr char kDeleteCustomerKey[] = "DELETE FROM customer_keys WHERE customer_id = ?1";
constexpr char kDeleteBlindIndexes[] = "DELETE FROM blind_index WHERE customer_id = ?1";
constexpr char kDeleteTags[] = "DELETE FROM customer_tags WHERE customer_id = ?1";
constexpr char kDeleteCustomer[] = "DELETE FROM customers WHERE id = ?1";
constexpr char kInsertShredded[] =
    "INSERT OR IGNORE INTO shredded_customers (customer_id, deleted_at_us) VALUES (?1, ?2)";
constexpr char kSelectShredded[] =
    "SELECT customer_id, deleted_at_us FROM shredded_customers ORDER BY deleted_at_us, customer_id";

constexpr char kInsertStoredKey[] =
    "INSERT INTO keys (purpose, version, wrapped, created_at_us) VALUES (?1, ?2, ?3, ?4)";
constexpr char kSelectStoredKeys[] =
    "SELECT purpose, version, wrapped, created_at_us FROM keys ORDER BY purpose, version";
constexpr char kUpsertSetting[] =
    "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = "
    "excluded.value";
constexpr char kSelectSetting[] = "SELECT value FROM settings WHERE name = ?1";

// ---- validation ----

Status ValidateId(std::string_view id) {
  if (id.empty() || id.size() > kCustomerIdBytesMax)
    return InvalidArgument("customer id must be 1 to 128 bytes");
  return Status::Ok();
}

Status ValidateBlindIndexes(const std::map<std::string, std::string>& indexes) {
  if (indexes.size() > kFieldsBlobFieldsMax) return InvalidArgument("too many blind indexes");
  for (const auto& [field, digest] : indexes) {
    if (field.empty() || field.size() > kFieldKeyBytesMax)
      return InvalidArgument("bad blind index field key");
    if (digest.empty() || digest.size() > kDigestBytesMax) {
      return InvalidArgument("blind index digest of field '" + field + "' has a bad length");
    }
  }
  return Status::Ok();
}

Status ValidateTag(const std::string& dimension, const std::string& value) {
  if (dimension.empty() || dimension.size() > kTagDimensionBytesMax)
    return InvalidArgument("bad tag dimension");
  if (value.size() > kTagValueBytesMax)
    return InvalidArgument("tag value of '" + dimension + "' too long");
  return Status::Ok();
}

Status ValidateRecord(const CustomerRecord& record) {
  RETURN_IF_ERROR(ValidateId(record.id));
  if (record.status.empty() || record.status.size() > kStatusBytesMax)
    return InvalidArgument("bad customer status");
  if (record.channel.size() > kChannelBytesMax) return InvalidArgument("customer channel too long");
  if (record.wrapped_key.size() > kWrappedKeyBytesMax)
    return InvalidArgument("wrapped key too large");
  RETURN_IF_ERROR(ValidateFields(record.fields));
  RETURN_IF_ERROR(ValidateBlindIndexes(record.blind_indexes));
  if (record.tags.size() > kTagsMax) return InvalidArgument("too many tags");
  for (const auto& [dimension, value] : record.tags) RETURN_IF_ERROR(ValidateTag(dimension, value));
  return Status::Ok();
}

// ---- row helpers ----

// Reads the CUSTOMER_COLUMNS of the current row into a record (no key,
// indexes or tags yet).
Result<CustomerRecord> ReadCustomerRow(const Statement& row) {
  CustomerRecord record;
  record.id = row.ColumnBytes(0);
  record.status = row.ColumnBytes(1);
  record.channel = row.ColumnBytes(2);
  record.created_at_us = row.ColumnInt64(3);
  record.updated_at_us = row.ColumnInt64(4);
  record.key_version = static_cast<uint32_t>(row.ColumnInt64(5));
  record.kek_version = static_cast<uint32_t>(row.ColumnInt64(6));
  if (!row.ColumnIsBlobOrText(7))
    return DataLoss("customer " + record.id + ": fields column is not a blob");
  Result<std::map<std::string, std::string>> fields = DecodeFieldsBlob(row.ColumnView(7));
  if (!fields.ok()) return DataLoss("customer " + record.id + ": " + fields.status().message());
  record.fields = std::move(fields).value();
  return record;
}

// Adds the wrapped key, blind indexes and tags to a record read by
// ReadCustomerRow. The kek version of the key row wins: it is the one that
// actually wraps the key (a rewrap job updates only customer_keys).
Status LoadCustomerDetails(Connection& connection, CustomerRecord& record) {
  {
    ASSIGN_OR_RETURN(auto key, connection.Prepare(kSelectCustomerKey, "read customer key"));
    key->BindText(1, record.id);
    ASSIGN_OR_RETURN(const bool has_key, key->Step());
    if (has_key) {
      record.kek_version = static_cast<uint32_t>(key->ColumnInt64(0));
      record.wrapped_key = key->ColumnBytes(1);
    }
  }
  {
    ASSIGN_OR_RETURN(auto indexes, connection.Prepare(kSelectBlindIndexes, "read blind indexes"));
    indexes->BindText(1, record.id);
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, indexes->Step());
      if (!has_row) break;
      record.blind_indexes[indexes->ColumnBytes(0)] = indexes->ColumnBytes(1);
    }
  }
  ASSIGN_OR_RETURN(auto tags, connection.Prepare(kSelectTags, "read tags"));
  tags->BindText(1, record.id);
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, tags->Step());
    if (!has_row) break;
    record.tags[tags->ColumnBytes(0)] = tags->ColumnBytes(1);
  }
  return Status::Ok();
}

// Runs a page query already bound except for its last parameter (the row
// limit, bound here to limit + 1 to learn whether another page follows) and
// fills the page.
Result<CustomerPage> RunPageQuery(Connection& connection, Statement& query, int limit_parameter,
                                  int limit) {
  query.BindInt64(limit_parameter, static_cast<int64_t>(limit) + 1);
  CustomerPage page;
  bool more = false;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, query.Step());
    if (!has_row) break;
    if (static_cast<int>(page.items.size()) == limit) {
      more = true;
      break;
    }
    ASSIGN_OR_RETURN(CustomerRecord record, ReadCustomerRow(query));
    page.items.push_back(std::move(record));
  }
  for (CustomerRecord& record : page.items)
    RETURN_IF_ERROR(LoadCustomerDetails(connection, record));
  if (more) page.next_cursor = EncodeCursor(page.items.back().id);
  return page;
}

// Inserts one validated record inside the caller's write transaction.
Status InsertRecord(Connection& writer, const CustomerRecord& record) {
  const std::string fields = EncodeFieldsBlob(record.fields);
  {
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertCustomer, "insert customer"));
    insert->BindText(1, record.id);
    insert->BindText(2, record.status);
    insert->BindText(3, record.channel);
    insert->BindInt64(4, record.created_at_us);
    insert->BindInt64(5, record.updated_at_us);
    insert->BindInt64(6, record.key_version);
    insert->BindInt64(7, record.kek_version);
    insert->BindBlob(8, fields);
    Status status = insert->Run();
    if (status.code() == ErrorCode::kConflict) return Conflict("customer id already exists");
    RETURN_IF_ERROR(status);
  }
  if (!record.wrapped_key.empty()) {
    ASSIGN_OR_RETURN(auto key, writer.Prepare(kInsertCustomerKey, "insert customer key"));
    key->BindText(1, record.id);
    key->BindInt64(2, record.kek_version);
    key->BindBlob(3, record.wrapped_key);
    RETURN_IF_ERROR(key->Run());
  }
  for (const auto& [field, digest] : record.blind_indexes) {
    ASSIGN_OR_RETURN(auto index, writer.Prepare(kInsertBlindIndex, "insert blind index"));
    index->BindText(1, field);
    index->BindBlob(2, digest);
    index->BindText(3, record.id);
    RETURN_IF_ERROR(index->Run());
  }
  for (const auto& [dimension, value] : record.tags) {
    ASSIGN_OR_RETURN(auto tag, writer.Prepare(kInsertTag, "insert tag"));
    tag->BindText(1, record.id);
    tag->BindText(2, dimension);
    tag->BindText(3, value);
    RETURN_IF_ERROR(tag->Run());
  }
  return Status::Ok();
}

Status RunWithId(Connection& writer, const char* sql, std::string_view what,
                 const std::string& id) {
  ASSIGN_OR_RETURN(auto statement, writer.Prepare(sql, what));
  statement->BindText(1, id);
  return statement->Run();
}

// Checks what UpdateCustomer can check before touching the database.
Status ValidateUpdate(const CustomerUpdate& update) {
  RETURN_IF_ERROR(ValidateId(update.id));
  RETURN_IF_ERROR(ValidateBlindIndexes(update.set_blind_indexes));
  if (update.removed_fields.size() > kFieldsBlobFieldsMax)
    return InvalidArgument("too many removed fields");
  for (const std::string& field : update.removed_fields) {
    if (update.set_fields.count(field) != 0)
      return InvalidArgument("field '" + field + "' both set and removed");
  }
  if (update.set_tags.size() > kTagsMax || update.removed_tags.size() > kTagsMax)
    return InvalidArgument("too many tags");
  for (const auto& [dimension, value] : update.set_tags)
    RETURN_IF_ERROR(ValidateTag(dimension, value));
  for (const std::string& dimension : update.removed_tags) {
    if (update.set_tags.count(dimension) != 0)
      return InvalidArgument("tag '" + dimension + "' both set and removed");
  }
  return Status::Ok();
}

// Applies a validated update inside the caller's write transaction (BEGIN
// IMMEDIATE: the read of the blob and its rewrite are one unit, with no
// other writer in between, not even another process).
Status ApplyUpdate(Connection& writer, const CustomerUpdate& update) {
  std::map<std::string, std::string> fields;
  {
    ASSIGN_OR_RETURN(auto select,
                     writer.Prepare(kSelectFieldsForUpdate, "read customer for update"));
    select->BindText(1, update.id);
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) return NotFound("customer does not exist");
    if (!select->ColumnIsBlobOrText(0))
      return DataLoss("customer " + update.id + ": fields column is not a blob");
    Result<std::map<std::string, std::string>> decoded = DecodeFieldsBlob(select->ColumnView(0));
    if (!decoded.ok()) return DataLoss("customer " + update.id + ": " + decoded.status().message());
    fields = std::move(decoded).value();
  }
  for (const auto& [field, value] : update.set_fields) fields[field] = value;
  for (const std::string& field : update.removed_fields) fields.erase(field);
  RETURN_IF_ERROR(ValidateFields(fields));
  const std::string blob = EncodeFieldsBlob(fields);
  {
    ASSIGN_OR_RETURN(auto write, writer.Prepare(kUpdateFields, "update customer"));
    write->BindText(1, update.id);
    write->BindBlob(2, blob);
    write->BindInt64(3, update.updated_at_us);
    RETURN_IF_ERROR(write->Run());
  }
  // A changed or removed field's old digest goes (a stale digest would make
  // search find the customer by a value it no longer has); a new digest,
  // when given, takes its place. Indexes given without a field change are
  // replaced as well (re-indexing after a blind-index key rotation).
  std::set<std::string> unindex(update.removed_fields.begin(), update.removed_fields.end());
  for (const auto& [field, value] : update.set_fields) unindex.insert(field);
  for (const auto& [field, digest] : update.set_blind_indexes) unindex.insert(field);
  for (const std::string& field : unindex) {
    ASSIGN_OR_RETURN(auto remove, writer.Prepare(kDeleteBlindIndexOfField, "remove blind index"));
    remove->BindText(1, update.id);
    remove->BindText(2, field);
    RETURN_IF_ERROR(remove->Run());
  }
  for (const auto& [field, digest] : update.set_blind_indexes) {
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertBlindIndex, "insert blind index"));
    insert->BindText(1, field);
    insert->BindBlob(2, digest);
    insert->BindText(3, update.id);
    RETURN_IF_ERROR(insert->Run());
  }
  for (const auto& [dimension, value] : update.set_tags) {
    ASSIGN_OR_RETURN(auto upsert, writer.Prepare(kUpsertTag, "set tag"));
    upsert->BindText(1, update.id);
    upsert->BindText(2, dimension);
    upsert->BindText(3, value);
    RETURN_IF_ERROR(upsert->Run());
  }
  for (const std::string& dimension : update.removed_tags) {
    ASSIGN_OR_RETURN(auto remove, writer.Prepare(kDeleteTag, "remove tag"));
    remove->BindText(1, update.id);
    remove->BindText(2, dimension);
    RETURN_IF_ERROR(remove->Run());
  }
  return Status::Ok();
}

// Shreds one customer inside the caller's write transaction, and records
// it in the shred ledger table (R-CRY-5) in the same transaction.
Status ApplyDelete(Connection& writer, const std::string& id, int64_t deleted_at_us) {
  // The wrapped key first: it is what makes every copy of the envelopes
  // (backups included) unreadable. The rest is removed explicitly rather
  // than left to ON DELETE CASCADE, so the shred does not depend on the
  // foreign_keys pragma being on.
  RETURN_IF_ERROR(RunWithId(writer, kDeleteCustomerKey, "delete customer key", id));
  RETURN_IF_ERROR(RunWithId(writer, kDeleteBlindIndexes, "delete blind indexes", id));
  RETURN_IF_ERROR(RunWithId(writer, kDeleteTags, "delete tags", id));
  RETURN_IF_ERROR(RunWithId(writer, kDeleteCustomer, "delete customer", id));
  if (writer.Changes() == 0) return NotFound("customer does not exist");
  // The change journal keeps the customer's inserts and updates until the
  // next backup: blank them now, so the wrapped key and envelopes leave
  // this file with the rows (older backups: the shred ledger below).
  RETURN_IF_ERROR(ScrubCustomerFromJournal(writer, id));
  ASSIGN_OR_RETURN(auto shredded, writer.Prepare(kInsertShredded, "record shredded customer"));
  shredded->BindText(1, id);
  shredded->BindInt64(2, deleted_at_us);
  return shredded->Run();
}

Status RunConstant(Connection& writer, const char* sql, std::string_view what) {
  ASSIGN_OR_RETURN(auto statement, writer.Prepare(sql, what));
  return statement->Run();
}

// Runs `apply` inside a savepoint of the open write transaction: on success
// the savepoint is released (its changes join the transaction), on failure
// rolled back alone. *transaction_lost is set when the transaction can no
// longer be trusted to hold exactly the other writes (SQLite ended it, as
// it does on I/O errors or a full disk, or the rollback to the savepoint
// failed, in which case the whole transaction is rolled back here).
template <typename Apply>
Status RunInSavepoint(Connection& writer, Apply apply, bool* transaction_lost) {
  *transaction_lost = false;
  Status status = RunConstant(writer, kSavepoint, "savepoint");
  if (status.ok()) {
    status = apply();
    if (status.ok()) {
      status = RunConstant(writer, kReleaseSavepoint, "release savepoint");
    } else if (writer.InTransaction()) {
      Status undone = RunConstant(writer, kRollbackToSavepoint, "roll back to savepoint");
      if (undone.ok()) undone = RunConstant(writer, kReleaseSavepoint, "release savepoint");
      if (!undone.ok()) writer.Exec("ROLLBACK", "rollback").IgnoreError();
    }
  }
  if (!writer.InTransaction()) *transaction_lost = true;
  return status;
}

// Creates the database file with mode 0600 before SQLite opens it: SQLite
// would use the umask (often 0644), and its -wal and -shm files copy the
// main file's mode, so this one call keeps all three private.
Status CreatePrivateFileIfMissing(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return Status::Ok();
  }
  if (errno == EEXIST) return Status::Ok();
  return Internal("cannot create database file: " + std::string(std::strerror(errno)));
}

Status ValidateOptions(const SqliteOptions& options) {
  if (options.path.empty() || options.path == ":memory:" || options.path.front() == '\0') {
    return InvalidArgument(
        "sqlite store needs a file path (WAL needs a file shared by all connections)");
  }
  if (options.readers < 1 || options.readers > kReadersMax)
    return InvalidArgument("readers must be 1 to 64");
  if (options.busy_timeout_ms < 0 || options.busy_timeout_ms > kTimeoutMsMax) {
    return InvalidArgument("busy_timeout_ms out of range");
  }
  if (options.reader_wait_timeout_ms < 0 || options.reader_wait_timeout_ms > kTimeoutMsMax) {
    return InvalidArgument("reader_wait_timeout_ms out of range");
  }
  return Status::Ok();
}

Status ConfigureWriter(Connection& writer) {
  // 16 KiB pages: a customer row (about 1 KiB of envelopes) and its index
  // entries pack more per page, so B-trees are shallower; bulk insert cost
  // about 20% less CPU than with 4 KiB pages (measured in
  // BulkInsertThroughput). Takes effect only when the file is new.
  RETURN_IF_ERROR(writer.Exec("PRAGMA page_size = 16384", "set page size"));
  // journal_mode answers with the mode now in force; anything but "wal"
  // (e.g. a file system without shared memory) is refused rather than
  // silently running without WAL's reader/writer concurrency.
  {
    ASSIGN_OR_RETURN(auto mode, writer.Prepare("PRAGMA journal_mode = WAL", "set WAL mode"));
    ASSIGN_OR_RETURN(const bool has_row, mode->Step());
    if (!has_row || mode->ColumnBytes(0) != "wal")
      return Internal("database could not be switched to WAL mode");
  }
  // FULL in WAL mode fsyncs the WAL on every commit: an acknowledged create
  // survives power loss. NORMAL would only fsync at checkpoints, so the last
  // commits before a power cut could vanish after the client was told "201".
  RETURN_IF_ERROR(writer.Exec("PRAGMA synchronous = FULL", "set synchronous"));
  RETURN_IF_ERROR(writer.Exec("PRAGMA foreign_keys = ON", "enable foreign keys"));
  // Deleted content is overwritten with zeros, so a shredded customer's
  // envelopes and wrapped key do not linger in free space of the file.
  RETURN_IF_ERROR(writer.Exec("PRAGMA secure_delete = ON", "enable secure_delete"));
  RETURN_IF_ERROR(writer.Exec("PRAGMA temp_store = MEMORY", "set temp_store"));
  RETURN_IF_ERROR(writer.Exec("PRAGMA trusted_schema = OFF", "set trusted_schema"));
  // Bulk import measurements (200,000 customers in 1,000-row transactions,
  // 16 KiB pages, see docs/formats/database-schema.md): the random blind-index
  // digests make every batch dirty pages all over the index, so the cost is
  // the pages written. Checkpointing every 10,000 WAL frames (about 160 MiB)
  // instead of SQLite's 1,000 copies a page rewritten by several batches to
  // the database once: 35% fewer bytes written, about 30% more rows/s. A
  // 128 MiB writer cache (memory used only as pages are touched) saves
  // another ~13% CPU over 32 MiB. (The WAL file keeps the size it reached,
  // about 160 MiB after a large load, until a delete or Checkpoint()
  // truncates it: cutting it back after every checkpoint with
  // journal_size_limit cost ~10% of the import's CPU, measured.)
  RETURN_IF_ERROR(writer.Exec("PRAGMA cache_size = -131072", "set cache_size"));  // 128 MiB
  RETURN_IF_ERROR(writer.Exec("PRAGMA wal_autocheckpoint = 10000", "set wal_autocheckpoint"));
  return Status::Ok();
}

Status ConfigureReader(Connection& reader) {
  RETURN_IF_ERROR(reader.Exec("PRAGMA trusted_schema = OFF", "set trusted_schema"));
  RETURN_IF_ERROR(reader.Exec("PRAGMA temp_store = MEMORY", "set temp_store"));
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  Env* env = options.env != nullptr ? options.env : Env::Default();
  RETURN_IF_ERROR(CreatePrivateFileIfMissing(options.path));
  ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> writer,
      Connection::Open(
          {.path = options.path, .read_only = false, .busy_timeout_ms = options.busy_timeout_ms}));
  RETURN_IF_ERROR(ConfigureWriter(*writer));
  RETURN_IF_ERROR(CheckSchemaNotNewer(*writer));
  if (options.migrate_on_open) RETURN_IF_ERROR(ApplyMigrations(*writer));

  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < options.readers; ++i) {
    ASSIGN_OR_RETURN(
        std::unique_ptr<Connection> reader,
        Connection::Open(
            {.path = options.path, .read_only = true, .busy_timeout_ms = options.busy_timeout_ms}));
    RETURN_IF_ERROR(ConfigureReader(*reader));
    readers.push_back(std::move(reader));
  }
  auto pool = std::make_unique<ConnectionPool>(
      std::move(readers), std::chrono::milliseconds(options.reader_wait_timeout_ms));
  std::vector<ShredLedgerSet::Copy> copies;
  if (!options.shred_ledger_path.empty()) {
    copies.push_back({"data directory", options.shred_ledger_path});
    copies.insert(copies.end(), options.shred_ledger_copies.begin(),
                  options.shred_ledger_copies.end());
  }
  ShredLedgerSet ledgers(std::move(copies));
  auto store = std::unique_ptr<SqliteStore>(
      new SqliteStore(std::move(writer), std::move(pool),
                      std::chrono::milliseconds(options.busy_timeout_ms), env,
                      std::move(ledgers)));
  {
    ASSIGN_OR_RETURN(auto lock, store->LockWriter());
    RETURN_IF_ERROR(store->EnableJournalLocked());
    // A backup location that cannot be written now (an off-site mount
    // down) does not stop the start: the copy is behind, and the next
    // delete retries it (and is not acknowledged until it succeeds).
    const Status synced = store->SyncShredLedgerLocked();
    if (!synced.ok() && !(synced.code() == ErrorCode::kUnavailable &&
                          store->shred_ledgers_.copies().size() > 1)) {
      return synced;
    }
  }
  return store;
}

Status SqliteStore::EnableJournalLocked() {
  writer_->SetWriteJournal(nullptr);
  ASSIGN_OR_RETURN(const bool has_journal, HasChangeJournal(*writer_));
  if (has_journal) writer_->SetWriteJournal(std::make_unique<SessionJournal>(env_));
  return Status::Ok();
}

Status SqliteStore::SyncShredLedger() {
  ASSIGN_OR_RETURN(auto lock, LockWriter());
  return SyncShredLedgerLocked();
}

Result<std::vector<ShredEntry>> SqliteStore::ShreddedLocked() {
  std::vector<ShredEntry> entries;
  ASSIGN_OR_RETURN(auto select, writer_->Prepare(kSelectShredded, "read shredded customers"));
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    entries.push_back({select->ColumnBytes(0), select->ColumnInt64(1)});
  }
  return entries;
}

Status SqliteStore::SyncShredLedgerLocked() {
  if (shred_ledgers_.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(const bool has_table, HasChangeJournal(*writer_));  // same migration
  if (!has_table) return Status::Ok();
  // Read under the writer lease: every delete committed before now is in
  // the table, so the copies may claim to be complete as of now.
  const int64_t as_of_us = env_->NowMicros();
  ASSIGN_OR_RETURN(std::vector<ShredEntry> entries, ShreddedLocked());
  return shred_ledgers_.Sync(entries, as_of_us);
}

Result<SqliteStore::WriterLease> SqliteStore::LockWriter() {
  std::unique_lock lock(writer_mutex_);
  if (!writer_released_.wait_for(lock, writer_wait_timeout_, [this] { return !writer_in_use_; })) {
    return Unavailable("database writer is busy; retry later");
  }
  writer_in_use_ = true;
  return WriterLease(this);
}

SqliteStore::WriterLease::~WriterLease() {
  if (store_ == nullptr) return;
  {
    std::lock_guard lock(store_->writer_mutex_);
    store_->writer_in_use_ = false;
  }
  store_->writer_released_.notify_one();
}

Status SqliteStore::WithWriter(const std::function<Status(Connection&)>& work) {
  ASSIGN_OR_RETURN(auto lock, LockWriter());
  return work(*writer_);
}

Status SqliteStore::Migrate() {
  ASSIGN_OR_RETURN(auto lock, LockWriter());
  // Migrations run unjournaled: the journal carries data changes, and a
  // schema change needs a new full backup (docs/formats/backup-archive.md).
  writer_->SetWriteJournal(nullptr);
  const Status migrated = ApplyMigrations(*writer_);
  RETURN_IF_ERROR(EnableJournalLocked());
  return migrated;
}

Result<int> SqliteStore::SchemaVersion() {
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  return ReadSchemaVersion(*reader);
}

Status SqliteStore::PutKey(const StoredKey& key) {
  if (key.purpose.empty() || key.purpose.size() > kKeyPurposeBytesMax)
    return InvalidArgument("bad key purpose");
  if (key.wrapped.empty() || key.wrapped.size() > kWrappedKeyBytesMax)
    return InvalidArgument("bad wrapped key size");
  ASSIGN_OR_RETURN(auto lock, LockWriter());
  ASSIGN_OR_RETURN(auto insert, writer_->Prepare(kInsertStoredKey, "insert key"));
  insert->BindText(1, key.purpose);
  insert->BindInt64(2, key.version);
  insert->BindBlob(3, key.wrapped);
  insert->BindInt64(4, key.created_at_us);
  Status status = insert->Run();
  if (status.code() == ErrorCode::kConflict)
    return Conflict("key " + key.purpose + " version exists already");
  return status;
}

Result<std::vector<StoredKey>> SqliteStore::ListKeys() {
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectStoredKeys, "list keys"));
  std::vector<StoredKey> keys;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    keys.push_back({.purpose = select->ColumnBytes(0),
                    .version = static_cast<uint32_t>(select->ColumnInt64(1)),
                    .wrapped = select->ColumnBytes(2),
                    .created_at_us = select->ColumnInt64(3)});
  }
  return keys;
}

Status SqliteStore::PutSetting(const std::string& name, const std::string& value) {
  if (name.empty() || name.size() > kSettingNameBytesMax)
    return InvalidArgument("bad setting name");
  if (value.size() > kSettingValueBytesMax) return InvalidArgument("setting value too large");
  ASSIGN_OR_RETURN(auto lock, LockWriter());
  ASSIGN_OR_RETURN(auto upsert, writer_->Prepare(kUpsertSetting, "put setting"));
  upsert->BindText(1, name);
  upsert->BindText(2, value);
  return upsert->Run();
}

Result<std::optional<std::string>> SqliteStore::GetSetting(const std::string& name) {
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectSetting, "get setting"));
  select->BindText(1, name);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return std::optional<std::string>();
  return std::optional<std::string>(select->ColumnBytes(0));
}

Status SqliteStore::InsertCustomer(const CustomerRecord& record, AuditOutboxEntry* audit) {
  RETURN_IF_ERROR(ValidateRecord(record));
  PendingWrite write{.write = &record, .audit = audit};
  return SubmitSingleRowWrite(write);
}

Status SqliteStore::SubmitSingleRowWrite(PendingWrite& write) {
  std::unique_lock lock(group_mutex_);
  group_queue_.push_back(&write);
  while (!write.done) {
    if (group_leader_active_) {
      // A group is being committed; this write waits for the next one (or
      // was taken into the current one and waits for its result).
      group_done_.wait(lock);
      continue;
    }
    // Leader: take what is queued (this write included, unless more than a
    // group's worth queued before it) and commit it as one group.
    group_leader_active_ = true;
    std::vector<PendingWrite*> batch;
    while (!group_queue_.empty() && batch.size() < kGroupCommitWritesMax) {
      batch.push_back(group_queue_.front());
      group_queue_.pop_front();
    }
    lock.unlock();
    CommitGroup(batch);
    lock.lock();
    for (PendingWrite* done : batch) done->done = true;
    group_leader_active_ = false;
    group_done_.notify_all();
  }
  return std::move(write.status);
}

void SqliteStore::CommitGroup(const std::vector<PendingWrite*>& batch) {
  auto fail_from = [&batch](size_t first, const Status& status) {
    for (size_t i = first; i < batch.size(); ++i) batch[i]->status = status;
  };
  Result<WriterLease> lease = LockWriter();
  if (!lease.ok()) return fail_from(0, lease.status());
  Transaction transaction(*writer_);
  if (Status begun = transaction.Begin(Transaction::Kind::kWrite); !begun.ok()) {
    return fail_from(0, begun);
  }
  bool deleted_any = false;
  std::vector<ShredEntry> shredded;
  const int64_t now_us = env_->NowMicros();
  for (size_t i = 0; i < batch.size(); ++i) {
    PendingWrite& pending = *batch[i];
    bool transaction_lost = false;
    Status status = RunInSavepoint(
        *writer_,
        [&]() -> Status {
          Status written;
          if (const auto* record = std::get_if<const CustomerRecord*>(&pending.write)) {
            written = InsertRecord(*writer_, **record);
          } else if (const auto* update = std::get_if<const CustomerUpdate*>(&pending.write)) {
            written = ApplyUpdate(*writer_, **update);
          } else {
            written = ApplyDelete(*writer_, *std::get<const std::string*>(pending.write), now_us);
          }
          // The change and its audit entry share the savepoint: both or neither.
          if (!written.ok()) return written;
          return WriteAuditOutbox(*writer_, pending.audit);
        },
        &transaction_lost);
    if (transaction_lost) {
      // Nothing of this group is written: the writes that had succeeded
      // are lost with the transaction, and the rest are not tried.
      const Status lost(status.ok() ? ErrorCode::kInternal : status.code(),
                        "write not committed: " +
                            (status.ok() ? std::string("transaction ended") : status.message()));
      for (size_t j = 0; j < i; ++j) {
        if (batch[j]->status.ok()) batch[j]->status = lost;
      }
      pending.status = status.ok() ? lost : status;
      return fail_from(i + 1, lost);
    }
    if (status.ok() && std::holds_alternative<const std::string*>(pending.write)) {
      deleted_any = true;
      shredded.push_back({*std::get<const std::string*>(pending.write), now_us});
    }
    pending.status = std::move(status);
  }
  if (Status committed = transaction.Commit(); !committed.ok()) {
    for (PendingWrite* pending : batch) {
      if (pending->status.ok()) pending->status = committed;
    }
    return;
  }
  if (!shredded.empty() && !shred_ledgers_.empty()) {
    // The deletes have committed; every file copy of the ledger (the data
    // directory's, and one in each backup location a restore reads)
    // follows, and the deletes are acknowledged only when all hold them
    // (issue 10.2). A copy that fails (or a process that dies first) is
    // brought up to the table by the next append, backup or open.
    const Status appended = shred_ledgers_.Append(
        shredded, env_->NowMicros(), [this] { return ShreddedLocked(); });
    if (!appended.ok()) {
      for (PendingWrite* pending : batch) {
        if (pending->status.ok() && std::holds_alternative<const std::string*>(pending->write)) {
          pending->status = appended;
        }
      }
    }
  }
  if (deleted_any) {
    // secure_delete zeroed the pages in the new WAL frames, but older
    // frames still hold the envelopes until the WAL is checkpointed and
    // truncated. The deletes have committed either way; a busy checkpoint
    // is retried by the next delete, by SQLite's automatic checkpoints or by
    // Checkpoint(). The wait for readers is kept short because it holds the
    // writer lock.
    CheckpointLocked(kCheckpointAfterDeleteWaitMs).IgnoreError();
  }
}

Status SqliteStore::InsertCustomers(const std::vector<CustomerRecord>& records,
                                    AuditOutboxEntry* audit) {
  if (records.size() > kBatchRecordsMax)
    return TooLarge("batch over " + std::to_string(kBatchRecordsMax) + " records");
  for (size_t i = 0; i < records.size(); ++i) {
    Status status = ValidateRecord(records[i]);
    if (!status.ok())
      return Status(status.code(), "record " + std::to_string(i) + ": " + status.message());
  }
  ASSIGN_OR_RETURN(auto lock, LockWriter());
  Transaction transaction(*writer_);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
  // Inserting in id order makes neighbouring rows land on the same B-tree
  // pages of customers, customer_keys, customer_tags and the per-customer
  // indexes, instead of one random page per row: fewer page visits, less
  // cache churn. Errors still name the caller's position of the record.
  std::vector<size_t> order(records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&records](size_t a, size_t b) { return records[a].id < records[b].id; });
  for (size_t i : order) {
    Status status = InsertRecord(*writer_, records[i]);
    if (!status.ok())
      return Status(status.code(), "record " + std::to_string(i) + ": " + status.message());
  }
  RETURN_IF_ERROR(WriteAuditOutbox(*writer_, audit));
  return transaction.Commit();
}

Result<std::vector<std::string>> SqliteStore::ExistingCustomerIds(
    const std::vector<std::string>& ids) {
  if (ids.size() > kExistingIdsQueryMax)
    return TooLarge("more than " + std::to_string(kExistingIdsQueryMax) + " ids in one query");
  for (size_t i = 0; i < ids.size(); ++i) {
    Status status = ValidateId(ids[i]);
    if (!status.ok())
      return Status(status.code(), "id " + std::to_string(i) + ": " + status.message());
  }
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  // One snapshot for the whole answer; each id is a primary-key lookup.
  Transaction transaction(*reader);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kRead));
  std::vector<std::string> existing;
  std::unordered_set<std::string_view> asked;
  asked.reserve(ids.size());
  for (const std::string& id : ids) {
    if (!asked.insert(id).second) continue;
    ASSIGN_OR_RETURN(auto lookup, reader->Prepare(kCustomerExists, "look up customer id"));
    lookup->BindText(1, id);
    ASSIGN_OR_RETURN(const bool exists, lookup->Step());
    if (exists) existing.push_back(id);
  }
  RETURN_IF_ERROR(transaction.Commit());
  return existing;
}

Result<CustomerRecord> SqliteStore::GetCustomer(const std::string& id) {
  RETURN_IF_ERROR(ValidateId(id));
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  // One read transaction, so the row, key, indexes and tags are one snapshot.
  Transaction transaction(*reader);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kRead));
  CustomerRecord record;
  {
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectCustomer, "read customer"));
    select->BindText(1, id);
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) return NotFound("customer does not exist");
    ASSIGN_OR_RETURN(record, ReadCustomerRow(*select));
  }
  RETURN_IF_ERROR(LoadCustomerDetails(*reader, record));
  RETURN_IF_ERROR(transaction.Commit());
  return record;
}

Result<CustomerPage> SqliteStore::ListCustomers(
    const std::optional<std::pair<std::string, std::string>>& tag,
    const std::optional<std::string>& cursor, int limit) {
  RETURN_IF_ERROR(ValidatePageLimit(limit));
  std::string after;  // "" sorts before every (non-empty) id
  if (cursor.has_value()) {
    ASSIGN_OR_RETURN(after, DecodeCursor(*cursor));
  }
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  Transaction transaction(*reader);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kRead));
  CustomerPage page;
  if (tag.has_value()) {
    ASSIGN_OR_RETURN(auto query, reader->Prepare(kListCustomersByTag, "list customers by tag"));
    query->BindText(1, tag->first);
    query->BindText(2, tag->second);
    query->BindText(3, after);
    ASSIGN_OR_RETURN(page, RunPageQuery(*reader, *query, 4, limit));
  } else {
    ASSIGN_OR_RETURN(auto query, reader->Prepare(kListCustomers, "list customers"));
    query->BindText(1, after);
    ASSIGN_OR_RETURN(page, RunPageQuery(*reader, *query, 2, limit));
  }
  RETURN_IF_ERROR(transaction.Commit());
  return page;
}

Result<CustomerPage> SqliteStore::FindByBlindIndex(const std::string& field_key,
                                                   const std::string& digest,
                                                   const std::optional<std::string>& cursor,
                                                   int limit) {
  RETURN_IF_ERROR(ValidatePageLimit(limit));
  if (field_key.empty() || field_key.size() > kFieldKeyBytesMax)
    return InvalidArgument("bad blind index field key");
  if (digest.empty() || digest.size() > kDigestBytesMax)
    return InvalidArgument("bad blind index digest length");
  std::string after;
  if (cursor.has_value()) {
    ASSIGN_OR_RETURN(after, DecodeCursor(*cursor));
  }
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  Transaction transaction(*reader);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kRead));
  ASSIGN_OR_RETURN(auto query, reader->Prepare(kFindByBlindIndex, "find by blind index"));
  query->BindText(1, field_key);
  query->BindBlob(2, digest);
  query->BindText(3, after);
  ASSIGN_OR_RETURN(CustomerPage page, RunPageQuery(*reader, *query, 4, limit));
  query.reset();
  RETURN_IF_ERROR(transaction.Commit());
  return page;
}

Status SqliteStore::UpdateCustomer(const CustomerUpdate& update, AuditOutboxEntry* audit) {
  RETURN_IF_ERROR(ValidateUpdate(update));
  PendingWrite write{.write = &update, .audit = audit};
  return SubmitSingleRowWrite(write);
}

Status SqliteStore::DeleteCustomer(const std::string& id, AuditOutboxEntry* audit) {
  RETURN_IF_ERROR(ValidateId(id));
  PendingWrite write{.write = &id, .audit = audit};
  return SubmitSingleRowWrite(write);
}

Status SqliteStore::WriteAuditOutbox(Connection& writer, AuditOutboxEntry* audit,
                                     int64_t record_id) {
  if (audit == nullptr) return Status::Ok();
  std::vector<int64_t> chained;
  {
    std::lock_guard lock(chained_mutex_);
    chained.swap(chained_outbox_);
  }
  // Rows whose entries are chained go with this write (no commit of their
  // own). Should this transaction roll back, they stay until the recovery
  // at the next open finds them chained and deletes them.
  for (const int64_t id : chained) {
    ASSIGN_OR_RETURN(auto remove, writer.Prepare(kDeleteAuditOutboxRow, "prune audit outbox"));
    remove->BindInt64(1, id);
    RETURN_IF_ERROR(remove->Run());
  }
  if (audit->details_for_id) audit->row.details = audit->details_for_id(record_id);
  uint8_t token[kAuditOutboxTokenBytes];
  RETURN_IF_ERROR(env_->RandomBytes(token));
  audit->token.assign(reinterpret_cast<const char*>(token), sizeof token);
  audit->written_at_us = env_->NowMicros();
  const AuditEntryRow& row = audit->row;
  ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertAuditOutbox, "write audit outbox"));
  insert->BindBlob(1, audit->token);
  insert->BindInt64(2, audit->written_at_us);
  insert->BindText(3, row.actor_id);
  insert->BindText(4, row.actor_role);
  insert->BindText(5, row.source_ip);
  insert->BindText(6, row.operation);
  insert->BindText(7, row.customer_id);
  insert->BindText(8, row.result);
  insert->BindText(9, row.details);
  RETURN_IF_ERROR(insert->Run());
  audit->id = sqlite3_last_insert_rowid(writer.handle());
  return Status::Ok();
}

Result<std::vector<AuditOutboxEntry>> SqliteStore::AuditOutbox(int64_t after_id, int limit) {
  if (limit < 1 || limit > kAuditOutboxPageMax) {
    return InvalidArgument("audit outbox limit must be 1.." + std::to_string(kAuditOutboxPageMax));
  }
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectAuditOutbox, "read audit outbox"));
  select->BindInt64(1, after_id);
  select->BindInt64(2, limit);
  std::vector<AuditOutboxEntry> rows;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    AuditOutboxEntry entry;
    entry.id = select->ColumnInt64(0);
    entry.token = select->ColumnBytes(1);
    entry.written_at_us = select->ColumnInt64(2);
    entry.row.actor_id = select->ColumnBytes(3);
    entry.row.actor_role = select->ColumnBytes(4);
    entry.row.source_ip = select->ColumnBytes(5);
    entry.row.operation = select->ColumnBytes(6);
    entry.row.customer_id = select->ColumnBytes(7);
    entry.row.result = select->ColumnBytes(8);
    entry.row.details = select->ColumnBytes(9);
    rows.push_back(std::move(entry));
  }
  return rows;
}

Status SqliteStore::DeleteAuditOutboxThrough(int64_t through_id) {
  ASSIGN_OR_RETURN(auto lock, LockWriter());
  ASSIGN_OR_RETURN(auto remove, writer_->Prepare(kDeleteAuditOutboxThrough, "prune audit outbox"));
  remove->BindInt64(1, through_id);
  return remove->Run();
}

void SqliteStore::AuditOutboxChained(int64_t id) {
  std::lock_guard lock(chained_mutex_);
  chained_outbox_.push_back(id);
}

Result<int64_t> SqliteStore::CountCustomers() {
  ASSIGN_OR_RETURN(PooledConnection reader, readers_->Acquire());
  ASSIGN_OR_RETURN(auto count, reader->Prepare(kCountCustomers, "count customers"));
  ASSIGN_OR_RETURN(const bool has_row, count->Step());
  if (!has_row) return Internal("count customers: no row");
  return count->ColumnInt64(0);
}

Status SqliteStore::Checkpoint() {
  ASSIGN_OR_RETURN(auto lock, LockWriter());
  return CheckpointLocked(static_cast<int>(writer_wait_timeout_.count()));
}

Status SqliteStore::CheckpointLocked(int reader_wait_ms) {
  // TRUNCATE waits (through the busy handler) for readers on older
  // snapshots; the handler's timeout bounds that wait, then goes back to
  // the configured value.
  sqlite3_busy_timeout(writer_->handle(), reader_wait_ms);
  const int rc = sqlite3_wal_checkpoint_v2(writer_->handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                           nullptr, nullptr);
  sqlite3_busy_timeout(writer_->handle(), static_cast<int>(writer_wait_timeout_.count()));
  if (rc != SQLITE_OK) return SqliteError(rc, writer_->handle(), "checkpoint");
  return Status::Ok();
}

}  // namespace custvault::store::sqlite

namespace custvault::store {

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::SqliteStore> store, sqlite::SqliteStore::Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace custvault::store
