// Restore (R-BAK-2, R-BAK-3, R-CRY-5): a full backup and the incrementals
// that follow it, to the newest point or to a chosen moment, into a NEW
// data directory that `custvault serve --data-dir` then opens.
//
// Order of work, and what is refused:
//   1. Plan, touching nothing: the target must be absent or an empty
//      directory; every backup of the location is read; the full is the
//      one named, or the newest whose snapshot is not after the chosen
//      moment, or the newest; its chain is followed by each incremental's
//      predecessor. A damaged manifest newer than the full, two backups
//      following one, an incremental of this full outside the chain (its
//      predecessor is missing), a predecessor whose manifest SM3 or
//      journal/audit positions do not continue, a manifest MAC that does
//      not verify, a piece file that is missing or of the wrong size: each
//      is refused, naming the backup (and piece). The shred ledgers are
//      read here, and the restore is refused (kConflict) when none of them
//      claims ("@as-of", store/shred_ledger.h) to hold every deletion up
//      to the newest backup of the location, unless accept_stale_ledger.
//   2. Everything is rebuilt in a hidden sibling of the target
//      (.<name>.restoring-<random>); every chunk's SM3 and tag is checked
//      as it is read (a flipped bit, a truncated or reordered chunk, a
//      chunk from another piece or backup is refused naming the backup,
//      piece and chunk), and nothing reaches the target unless all of it
//      verified and applied: the sibling is renamed onto the target last.
//   3. The snapshots are written, then the journal rows are applied in
//      order (committed_at_us <= the chosen moment), then the audit rows
//      (time_us <= the moment; the head is re-MACed when the log is cut).
//   4. Shredding: every customer in the union of the shred ledgers (the
//      location's copy, the source data directory's file, files given,
//      the restored table, and every shred record in the chain's journal,
//      also after the chosen moment) that was created at or before its
//      deletion is deleted with all its rows (R-CRY-5).
//   5. The journal, login sessions and backup cursors of the source are
//      emptied; the audit chain is verified (audit/verify.h) under the
//      restored keys; the configuration, the union shred ledger and the
//      master key are written.
//
// Thread safety: one restore per target. Errors: kInvalidArgument for a
// target that is not empty or a bad option; kNotFound for no usable full
// backup; kDataLoss for anything damaged (named); kConflict for a change
// that does not apply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backup/backup_engine.h"
#include "common/env.h"
#include "common/status.h"

namespace custvault::backup {

struct RestoreOptions {
  std::string from;  // a backup location
  std::string to;    // the new data directory
  std::optional<int64_t> at_us;  // the moment to restore to (default: the newest)
  std::string full_id;           // restore this full backup's chain (default: chosen)
  std::string master_key_path;   // required: the key is never inside a backup
  std::vector<std::string> shred_ledgers;  // more shred-ledger files to honour
  std::string source_data_dir;             // its shred-ledger is honoured when given
  // Restore even when no ledger read is known to be as new as the newest
  // backup of the location (reported, and audited by the caller).
  bool accept_stale_ledger = false;
  int threads = 2;
  ProgressFn progress;
};

struct RestoreReport {
  std::vector<std::string> chain;  // full first
  std::string full_id;
  int64_t restored_to_us = 0;  // the newest commit in the restored database
  int64_t journal_rows_applied = 0;
  int64_t journal_rows_after_point = 0;  // read (for shred records), not applied
  int64_t deletes_already_gone = 0;
  int64_t audit_entries = 0;      // in the restored log
  int64_t audit_entries_cut = 0;  // from the snapshot, after the chosen moment
  int64_t customers = 0;          // in the restored database
  int64_t customers_in_full = -1;
  int64_t shred_entries = 0;   // distinct ledger entries honoured
  int64_t shredded = 0;        // customers deleted by them
  int64_t ledger_as_of_us = 0;       // the newest "@as-of" of the ledgers read; 0: none
  bool stale_ledger_accepted = false;  // older than the newest backup, by --accept-stale-ledger
  int64_t raw_bytes = 0;       // bytes read out of the backups
  int64_t audit_entries_checked = 0;
  double seconds = 0;
  std::string custvault_db_path;  // in the target
  std::string audit_db_path;
};

Result<RestoreReport> Restore(Env* env, const RestoreOptions& options);

}  // namespace custvault::backup
