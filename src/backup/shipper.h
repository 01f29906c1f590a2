// Owned by the shipping/operations work (issue 6, R-BAK-2a): continuous
// shipping of committed changes to the off-site location, so a lost
// machine loses seconds, not a day (GB/T 22239 level 3 "real-time off-site
// backup").
//
// Every interval (backup.shipping_interval_ms) the shipper reads what was
// committed after its position: change-journal rows of custvault.db
// (store/sqlite/change_journal.h) and audit entries of audit.db with the
// checkpoints and head of the same snapshot, and writes them as ONE
// segment in <offsite_dir>/shipped/ through the archive format (encrypted
// and hashed like every backup piece: docs/formats/backup-archive.md).
// A segment is durable (written under a temporary name, fsynced, renamed,
// directory fsynced) before the shipper moves its position. Nothing new:
// no segment. A shred-ledger change (data_dir/shred-ledger) is merged into
// <offsite_dir>/shred-ledger BEFORE the segment that carries the deletion,
// so an off-site restore never lacks a deletion it has the data for.
//
// Position and restart: the segments themselves are the record of
// progress. At Start the shipper lists <offsite_dir>/shipped, checks that
// the segments continue one another (journal and audit seqs without gap or
// overlap) and resumes after the last; a segment cut short by a crash has
// no name yet (temporary files are removed). So a restart neither skips
// nor repeats a change. If the journal was pruned past the last shipped
// seq (shipping was off for long), the shipper records the gap, starts a
// new chain from the journal's first row, and says so in its status: a
// restore then uses segments only after a backup that covers the gap.
//
// Compaction: every kCompactEvery segments the oldest small ones are merged
// into one (written first, then the small ones removed; a restore skips
// seqs it has already applied, so an overlap after a crash is harmless).
//
// Lag: for every journal row shipped, lag = (segment durable) -
// committed_at_us. The shipper keeps the last kLagWindow lags for p50/p99/
// max (GET /api/v1/backups/shipping, `custvault backup shipping-status`).
//
// Thread safety: Start/Stop from one thread; CurrentStatus() from any
// thread. Errors: a failed tick is logged and retried at the next interval
// (the position does not move); CurrentStatus() shows the last error.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "store/audit_store.h"
#include "backup/records.h"
#include "store/sqlite/sqlite_backup.h"

namespace custvault::backup {

// Hidden, so that listing the location for backups (backup_engine.h
// ListBackups) never takes it for a damaged backup.
inline constexpr char kShippedDirName[] = ".shipped";

// What one segment carries.
struct ShippedSegment {
  // Journal rows journal_from_seq..journal_to_seq (empty when to < from).
  int64_t journal_from_seq = 0;
  int64_t journal_to_seq = 0;
  std::vector<JournalRecord> journal;
  // Audit entries audit_from_seq..audit_to_seq, with the checkpoints among
  // them and the head as it was when they were read.
  int64_t audit_from_seq = 0;
  int64_t audit_to_seq = 0;
  std::vector<store::AuditEntryRow> audit_entries;
  std::vector<store::AuditCheckpointRow> audit_checkpoints;
  std::optional<store::AuditHeadRow> audit_head;
  int64_t created_at_us = 0;
  bool new_chain = false;  // the first segment after a gap (or the first ever)
  // The segment this one follows (set by the shipper; "" for a new
  // chain) and the SM3 of its manifest file, so the stored segments link
  // like a chain of incrementals and a swapped or replaced one is found.
  std::string previous_name;
  std::string previous_manifest_sm3;
  std::string chain_id;  // the first segment of the chain ("" for a new chain: itself)
};

// A stored segment as listed (without its contents).
struct ShippedSegmentInfo {
  std::string name;
  int64_t journal_from_seq = 0;
  int64_t journal_to_seq = 0;
  int64_t audit_from_seq = 0;
  int64_t audit_to_seq = 0;
  int64_t created_at_us = 0;
  int64_t bytes = 0;
  bool new_chain = false;
  std::string chain_id;
  std::string previous_name;
  std::string manifest_sm3;  // SM3 of its manifest file (32 bytes)
};

// Orders segments as they were shipped: by journal then audit start, and
// among segments starting together (a merged one and the first it merged)
// the longest first.
void SortSegments(std::vector<ShippedSegmentInfo>* segments);

// How segments are stored: the archive format, implemented with the
// backup core's writer and reader.
class SegmentFormat {
 public:
  virtual ~SegmentFormat() = default;
  // Writes the segment into `dir` durably (temporary name, fsync, rename,
  // fsync of the directory) and returns its info.
  virtual Result<ShippedSegmentInfo> Write(const std::string& dir,
                                           const ShippedSegment& segment) = 0;
  // Every finished segment in `dir`, ordered by journal then audit seq.
  // kNotFound if `dir` is missing. Changes nothing.
  virtual Result<std::vector<ShippedSegmentInfo>> List(const std::string& dir) = 0;
  // Removes what a writer that died left (never a finished segment); the
  // shipper calls it at start, before anyone else writes there.
  virtual Status RemoveLeftovers(const std::string& /*dir*/) { return Status::Ok(); }
  // Reads and verifies one segment (kDataLoss naming it when damaged).
  virtual Result<ShippedSegment> Read(const std::string& dir, const std::string& name) = 0;
  virtual Status Remove(const std::string& dir, const std::string& name) = 0;
};

// Where the shipper reads committed changes from.
class ChangeSource {
 public:
  virtual ~ChangeSource() = default;
  virtual Result<store::sqlite::JournalBounds> Bounds() = 0;
  // Rows with seq > after_seq in seq order: at most max_rows, and no more
  // once their patchsets reach max_bytes (at least one when there is one).
  // kDataLoss when the first row is not after_seq + 1 (pruned unread).
  virtual Result<std::vector<JournalRecord>> JournalAfter(int64_t after_seq, int max_rows,
                                                          size_t max_bytes) = 0;
  // Audit entries with seq > after_seq (at most max_entries) and the
  // checkpoints among them and head, from one snapshot.
  virtual Status AuditAfter(int64_t after_seq, int max_entries, ShippedSegment* into) = 0;
};

// The production ChangeSource: custvault.db's journal on its own read-only
// connection, and the audit store.
std::unique_ptr<ChangeSource> MakeChangeSource(std::unique_ptr<store::sqlite::JournalReader> journal,
                                               store::AuditStore& audit);

struct ShipperOptions {
  std::string offsite_dir;        // segments go to <offsite_dir>/shipped
  std::string shred_ledger_path;  // data_dir/shred-ledger ("" to not ship it)
  int interval_ms = 500;
  int max_rows_per_segment = 20'000;
  size_t max_bytes_per_segment = 32 << 20;
  int max_audit_entries_per_segment = 20'000;
  int compact_every = 600;  // merge this many small segments into one; 0 = never
  // Tells the source how far shipping got (the backup core prunes the
  // journal only up to it: backup_state "ship.journal_seq"). Called after a
  // segment is durable, at most every position_every_ms, and at Stop.
  std::function<Status(int64_t journal_seq)> record_position;
  int position_every_ms = 5'000;
};

struct ShipperStatus {
  bool running = false;
  int64_t journal_seq = 0;  // last journal seq shipped
  int64_t audit_seq = 0;    // last audit seq shipped
  int64_t segments = 0;     // in the shipped directory
  int64_t segments_written = 0;  // by this process
  int64_t rows_shipped = 0;      // by this process
  int64_t last_shipped_at_us = 0;
  int64_t ledger_entries_shipped = 0;
  int64_t gaps = 0;  // new chains started because the journal was pruned past us
  std::string last_error;  // "" when the last tick succeeded
  int64_t lag_samples = 0;
  int64_t lag_p50_ms = 0;
  int64_t lag_p99_ms = 0;
  int64_t lag_max_ms = 0;
};

class Shipper {
 public:
  static constexpr size_t kLagWindow = 100'000;

  // All must outlive the shipper.
  Shipper(Env* env, ChangeSource& source, SegmentFormat& format, ShipperOptions options);
  ~Shipper();  // Stop()

  // Lists what is off-site and resumes after it (Recover), then starts the
  // thread. kInvalidArgument without an off-site directory. When Recover
  // fails (the directory is missing: kUnavailable, never created here; the
  // stored segments do not continue one another: kDataLoss, named) the
  // thread starts anyway and every round tries again; CurrentStatus() and
  // the log carry the reason.
  Status Start();
  // Ships what is committed so far one last time, then stops. Idempotent.
  void Stop();

  // One round (what the thread does each interval); for tests and for the
  // CLI. Returns the number of journal rows shipped.
  Result<int64_t> ShipOnce();

  ShipperStatus CurrentStatus() const;

  // Reads the stored segments and sets the position after them.
  Status Recover();

 private:
  Status RecoverLocked();
  Result<int64_t> ShipOnceLocked();
  void Loop();
  Status ShipLedger();
  Status Compact();
  void SetError(const Status& status);
  void RecordPosition(bool force);
  void RecordLags(const std::vector<JournalRecord>& rows, int64_t durable_us);

  Env* const env_;
  ChangeSource& source_;
  SegmentFormat& format_;
  const ShipperOptions options_;
  const std::string shipped_dir_;

  // Position, owned by whoever ships (the thread, or ShipOnce's caller:
  // ship_mutex_ serialises them).
  std::mutex ship_mutex_;
  int64_t journal_seq_ = 0;
  int64_t audit_seq_ = 0;
  bool recovered_ = false;
  bool next_is_new_chain_ = false;
  std::optional<ShippedSegmentInfo> last_;  // the newest stored segment
  int64_t ledger_bytes_shipped_ = -1;
  int64_t small_segments_ = 0;
  int64_t position_recorded_seq_ = -1;
  int64_t position_recorded_at_us_ = 0;

  mutable std::mutex status_mutex_;
  ShipperStatus status_;           // guarded by status_mutex_
  std::deque<int64_t> lags_ms_;    // guarded by status_mutex_

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by wake_mutex_
  std::thread thread_;
};

}  // namespace custvault::backup
