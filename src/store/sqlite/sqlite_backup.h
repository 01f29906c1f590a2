// The SQL side of backups (backup/ holds the archive format, crypto and
// chains; this file is where backups speak SQLite): consistent snapshots of
// custvault.db and audit.db, reading the change journal and the audit log
// after a position, the backup cursors and journal pruning, and on the
// restore side applying snapshots, patchsets and audit rows to a new data
// directory. docs/formats/backup-archive.md describes the design.
//
// Every function opens its own connections by path, so a backup works the
// same from the server and from the CLI while the server runs: a read
// transaction in WAL mode is a consistent snapshot beside the writer, and
// the few writes here (cursors, pruning) wait through the busy timeout like
// any second writer.
//
// Thread safety: free functions and objects used by one thread each.
// Errors: kDataLoss for a file that is not what it should be, kConflict for
// a patchset that does not apply, kInternal for I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/audit_store.h"
#include "store/shred_ledger.h"
#include "store/store.h"

struct sqlite3;

namespace custvault::store::sqlite {

class Connection;

inline constexpr int kBackupBusyTimeoutMs = 10000;

// ---- snapshots ----

struct DatabaseSnapshotInfo {
  int64_t journal_seq = 0;         // the last journal row the snapshot includes (0: none)
  int64_t journal_point_us = 0;    // its committed_at_us (0: none)
  int64_t customers = 0;
  int schema_version = 0;
  std::vector<ShredEntry> shredded;  // the shredded_customers table of the snapshot
  int64_t bytes = 0;                 // size of the copy
};

// Copies custvault.db as one consistent snapshot (sqlite3_backup from a
// read-only connection, all pages in one step, so one read transaction)
// into `dest` (created 0600; must not exist), then, in the copy only:
// reads the figures above, and removes what a backup must not carry (the
// journal rows, whose contents the snapshot holds anyway, the login
// sessions and this vault's backup cursors; freed pages are zeroed by
// secure_delete) and folds the copy into one file.
Result<DatabaseSnapshotInfo> SnapshotCustomerDatabase(const std::string& source,
                                                      const std::string& dest);

struct AuditSnapshotInfo {
  int64_t last_seq = 0;
  int64_t last_time_us = 0;
  int64_t checkpoint_rowid = 0;  // the last checkpoint row included
  int64_t alert_id = 0;          // the last alert included
  int64_t entries = 0;
  int64_t bytes = 0;
};
// The same for audit.db (nothing removed).
Result<AuditSnapshotInfo> SnapshotAuditDatabase(const std::string& source,
                                                const std::string& dest);

// ---- the change journal (source side) ----

struct JournalBounds {
  int64_t first_seq = 0;  // 0 when empty
  int64_t last_seq = 0;   // the highest seq ever written (sqlite_sequence), 0 if none
  int64_t last_committed_at_us = 0;
  int schema_version = 0;
};

struct JournalRow {
  int64_t seq = 0;
  int64_t committed_at_us = 0;
  std::string_view patchset;  // valid during the visit only
};

// Reads custvault.db's journal with its own read-only connection.
class JournalReader {
 public:
  static Result<std::unique_ptr<JournalReader>> Open(const std::string& path);
  ~JournalReader();

  Result<JournalBounds> Bounds();
  // Rows with after_seq < seq <= up_to_seq in seq order, in one read
  // transaction.
  Status Scan(int64_t after_seq, int64_t up_to_seq,
              const std::function<Status(const JournalRow&)>& visit);

 private:
  explicit JournalReader(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> connection_;
};

// backup_state cursors of custvault.db (0 when unset), and pruning.
Result<int64_t> GetBackupCursor(const std::string& path, std::string_view name);
Status PutBackupCursor(const std::string& path, std::string_view name, int64_t value,
                       int64_t now_us);
// Deletes journal rows with seq <= up_to_seq, always keeping the newest
// row (so a snapshot always knows its journal position). Returns the
// number deleted.
Result<int64_t> PruneJournal(const std::string& path, int64_t up_to_seq);

// ---- the audit log (source side) ----

struct AuditCheckpointWithRowid {
  int64_t rowid = 0;
  AuditCheckpointRow row;
};

struct AuditBounds {
  int64_t last_seq = 0;
  int64_t last_time_us = 0;
  int64_t checkpoint_rowid = 0;
  int64_t alert_id = 0;
};

// What an incremental carries of the audit log: entries with seq in
// (after_seq, up_to_seq], checkpoints with rowid in (after_rowid,
// up_to_rowid], alerts created after after_alert_id or acknowledged at or
// after acknowledged_since_us, every login IP, and the head.
struct AuditDelta {
  std::vector<AuditCheckpointWithRowid> checkpoints;
  std::optional<AuditHeadRow> head;
  std::vector<AlertRow> alerts;
  std::vector<LoginIpRow> login_ips;
};

class AuditReader {
 public:
  static Result<std::unique_ptr<AuditReader>> Open(const std::string& path);
  ~AuditReader();

  // Opens one read transaction: Bounds, ScanEntries and Delta called
  // inside it see one snapshot. End with EndSnapshot.
  Status BeginSnapshot();
  Status EndSnapshot();
  Result<AuditBounds> Bounds();
  Status ScanEntries(int64_t after_seq, int64_t up_to_seq,
                     const std::function<Status(const AuditEntryView&)>& visit);
  Result<AuditDelta> Delta(int64_t after_rowid, int64_t up_to_rowid, int64_t after_alert_id,
                           int64_t acknowledged_since_us);

 private:
  explicit AuditReader(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> connection_;
};

// ---- restore side ----

// The restored custvault.db: patchsets applied in order with foreign keys
// and triggers off (the journal already holds every row a cascade or a
// trigger changed). A conflict is an error (kConflict naming the table and
// the kind), except a delete whose row is already gone, which is counted:
// shredding blanks a deleted customer's earlier journal rows, so the
// delete finds nothing to delete.
class RestoredDatabase {
 public:
  static Result<std::unique_ptr<RestoredDatabase>> Open(const std::string& path);
  ~RestoredDatabase();

  Status BeginBatch();
  // Applies one patchset inside the batch.
  Status Apply(std::string_view patchset);
  Status CommitBatch();
  int64_t deletes_already_gone() const { return deletes_already_gone_; }

  // Shreds every customer with an entry whose deleted_at_us is at or after
  // the customer's created_at_us (rows of every table, via the same
  // deletes as Store::DeleteCustomer plus foreign-key cascades), and adds
  // the entries to shredded_customers. Returns how many were shredded.
  Result<int64_t> Shred(const std::vector<ShredEntry>& entries);
  // Empties what belongs to the source vault only: the journal, login
  // sessions, backup cursors, the audit outbox. Then checkpoints the WAL into the file.
  Status ClearSourceState();
  Result<int64_t> CountCustomers();
  Result<std::vector<ShredEntry>> ShreddedCustomers();
  // The stored domain keys (wrapped), to load into a keyring.
  Result<std::vector<StoredKey>> Keys();

 private:
  explicit RestoredDatabase(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> connection_;
  int64_t deletes_already_gone_ = 0;
};

// The restored audit.db: rows appended as they were (triggers off: the
// point-in-time cut deletes entries after the restore point).
class RestoredAuditDatabase {
 public:
  static Result<std::unique_ptr<RestoredAuditDatabase>> Open(const std::string& path);
  ~RestoredAuditDatabase();

  Status Begin();
  Status Commit();
  Status InsertEntry(const AuditEntryRow& entry);
  Status InsertCheckpoint(const AuditCheckpointRow& checkpoint);
  Status PutHead(const AuditHeadRow& head);
  Status UpsertAlert(const AlertRow& alert);
  Status InsertLoginIp(const LoginIpRow& login);
  // Removes entries with time_us > at_us and the checkpoints past the
  // last remaining entry; returns the last remaining entry (seq, hash,
  // time) so the caller can write a head for it.
  Result<std::optional<AuditEntryRow>> CutAfter(int64_t at_us);
  Result<std::optional<AuditEntryRow>> LastEntry();
  Result<std::optional<AuditHeadRow>> Head();
  Result<int64_t> EntryCount();
  Status Checkpoint();

 private:
  explicit RestoredAuditDatabase(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> connection_;
};

}  // namespace custvault::store::sqlite
