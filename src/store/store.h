// Store: the only interface the services use to reach the database. Nothing
// SQL- or SQLite-specific appears above store/; sqlite/ implements it now,
// postgres/ will implement it next without touching the services.
//
// The store sees only ciphertext envelopes, blind-index digests, wrapped
// keys and non-personal columns: it never receives a plaintext value.
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "store/audit_store.h"
#include "store/shred_ledger.h"

namespace custvault::store {

// One customer as stored. `fields` maps a catalog field key to its stored
// bytes: an envelope for protected fields, the plain value for plain ones.
struct CustomerRecord {
  std::string id;
  std::string status = "active";
  std::string channel;  // who collected it: "staff:<user>" or "channel:<name>"
  int64_t created_at_us = 0;
  int64_t updated_at_us = 0;
  uint32_t key_version = 1;  // version of the customer's data key
  uint32_t kek_version = 0;  // version of the customer-kek that wraps it
  std::string wrapped_key;   // the customer's data key, wrapped
  std::map<std::string, std::string> fields;
  std::map<std::string, std::string> blind_indexes;  // field key -> 32-byte digest
  std::map<std::string, std::string> tags;           // dimension -> value
};

struct CustomerPage {
  std::vector<CustomerRecord> items;
  std::optional<std::string> next_cursor;  // opaque; absent on the last page
};

// A change to one customer: fields to set, fields to remove, and the blind
// indexes that go with them (an index present for a field replaces the old
// one; a removed field loses its index).
struct CustomerUpdate {
  std::string id;
  int64_t updated_at_us = 0;
  std::map<std::string, std::string> set_fields;
  std::map<std::string, std::string> set_blind_indexes;
  std::vector<std::string> removed_fields;
  // Tags to set (dimension -> value, replacing that dimension's value) and
  // dimensions to remove; applied in the same transaction.
  std::map<std::string, std::string> set_tags;
  std::vector<std::string> removed_tags;
};

struct StoredKey {
  std::string purpose;
  uint32_t version = 0;
  std::string wrapped;
  int64_t created_at_us = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Brings the schema to the newest version (numbered migrations).
  virtual Status Migrate() = 0;
  virtual Result<int> SchemaVersion() = 0;

  // ---- keys ----
  virtual Status PutKey(const StoredKey& key) = 0;  // kConflict if (purpose, version) exists
  virtual Result<std::vector<StoredKey>> ListKeys() = 0;

  // ---- settings (small non-secret key/value pairs, e.g. bootstrap token hash) ----
  virtual Status PutSetting(const std::string& name, const std::string& value) = 0;
  virtual Result<std::optional<std::string>> GetSetting(const std::string& name) = 0;

  // ---- customers ----
  // Inserts the row, its wrapped key, blind indexes and tags in one
  // transaction. kConflict if the id exists (the caller retries another id).
  // (InsertCustomer, UpdateCustomer and DeleteCustomer may share one commit
  // with other callers' single-row writes; each still succeeds or fails on
  // its own and returns only once durable.)
  // `audit`, when given, is written to the audit outbox in the same
  // transaction (its id and token set); an id collision or any failure
  // writes neither (R-AUD-6). The same holds for InsertCustomers (one entry
  // for the whole batch), UpdateCustomer and DeleteCustomer.
  virtual Status InsertCustomer(const CustomerRecord& record, AuditOutboxEntry* audit = nullptr) = 0;
  // Many at once in one transaction (bulk import); all or nothing. At most
  // 50,000 records per call (kTooLarge); an error names the failing record
  // by its position in `records` ("record 17: ...").
  // Both: kInvalidArgument for a record over a limit (id 1..128 bytes,
  // field keys 1..128 bytes, values <= 4 MiB, <= 1024 fields, digests
  // 1..64 bytes, <= 64 tags), checked before anything is written.
  virtual Status InsertCustomers(const std::vector<CustomerRecord>& records,
                                 AuditOutboxEntry* audit = nullptr) = 0;
  // Which of `ids` exist now, in the order given, each once: a bulk import
  // redraws only those before InsertCustomers (a write may still race in
  // between; InsertCustomers stays all or nothing and says kConflict).
  // At most kExistingIdsQueryMax ids per call (kTooLarge); kInvalidArgument
  // for an id outside 1..128 bytes.
  static constexpr size_t kExistingIdsQueryMax = 50000;
  virtual Result<std::vector<std::string>> ExistingCustomerIds(
      const std::vector<std::string>& ids) = 0;
  virtual Result<CustomerRecord> GetCustomer(const std::string& id) = 0;  // kNotFound
  // Ordered by id; `tag` filters by dimension and value when given.
  virtual Result<CustomerPage> ListCustomers(
      const std::optional<std::pair<std::string, std::string>>& tag,
      const std::optional<std::string>& cursor, int limit) = 0;
  // Customers whose blind index for `field_key` equals `digest`, by id.
  virtual Result<CustomerPage> FindByBlindIndex(const std::string& field_key,
                                                const std::string& digest,
                                                const std::optional<std::string>& cursor,
                                                int limit) = 0;
  // One write transaction. A set or removed field loses its old blind
  // index; set_blind_indexes supplies the new ones. kNotFound if absent;
  // kInvalidArgument if a field or tag is both set and removed.
  virtual Status UpdateCustomer(const CustomerUpdate& update, AuditOutboxEntry* audit = nullptr) = 0;
  // Crypto-shredding: removes the wrapped key, every field, index and tag,
  // in one transaction; kNotFound if absent. The same transaction records
  // the id and time in the shred ledger (R-CRY-5: a restore of an older
  // backup shreds the customer again), which is also appended to the
  // ledger file when SqliteOptions::shred_ledger_path is set, and to every
  // copy in shred_ledger_copies: when a file cannot be written the delete
  // has committed but answers kUnavailable (IsShredLedgerBehind). `audit`,
  // when given, is written to the audit outbox in the same transaction.
  virtual Status DeleteCustomer(const std::string& id, AuditOutboxEntry* audit = nullptr) = 0;
  virtual Result<int64_t> CountCustomers() = 0;

  // ---- audit outbox (R-AUD-6, docs/formats/audit-chain.md) ----
  // Outbox rows with id > after_id, oldest first, at most `limit` (1..1000).
  virtual Result<std::vector<AuditOutboxEntry>> AuditOutbox(int64_t after_id, int limit) = 0;
  // Deletes every outbox row with id <= through_id (all chained).
  virtual Status DeleteAuditOutboxThrough(int64_t through_id) = 0;
  // The entry of outbox row `id` is chained: a later write transaction
  // deletes the row (no extra commit per write); rows a crash leaves go at
  // the next open's recovery.
  virtual void AuditOutboxChained(int64_t id) = 0;
};

struct SqliteOptions {
  std::string path;
  int readers = 4;                    // 1..64 read-only connections
  int busy_timeout_ms = 5000;         // SQLite busy handler and writer-lock wait
  int reader_wait_timeout_ms = 2000;  // wait for a free reader, then kUnavailable
  bool migrate_on_open = true;        // apply missing migrations when opening
  // Clock of the change journal and the shred ledger (nullptr: Env::Default()).
  Env* env = nullptr;
  // Where DeleteCustomer also appends the shredded id (the shred ledger kept
  // beside the master key, store/shred_ledger.h); "" for none.
  std::string shred_ledger_path;
  // The copies in the backup locations (issue 10.2): every delete reaches
  // them before it is acknowledged (ShredLedgerSet).
  std::vector<ShredLedgerSet::Copy> shred_ledger_copies;
};

// Opens (creating if missing, mode 0600) an SQLite database in WAL mode with
// one writer connection and a pool of `readers` read-only connections.
// Errors: kInvalidArgument for bad options, kDataLoss if the file is not an
// SQLite database or is corrupt, kInternal if its schema is newer than this
// code knows.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace custvault::store
