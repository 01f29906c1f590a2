// Owned by the shipping/operations work (issue 6, R-BAK-2, R-BAK-2a,
// R-CRY-5): restore = the backup core's Restore (restore.h: a full backup
// and its incrementals) followed by the shipped segments that continue the
// chain, so a lost machine is restored to seconds before it was lost.
//
// Order of work:
//   1. The core's Restore into a hidden sibling of the target.
//   2. The segments in `segments_dir` (<offsite>/.shipped) that continue the
//      chain: the first must start at or before the chain's last journal and
//      audit seq + 1; each next one must continue the one before (seqs) and
//      name it with its manifest's SM3 (a swapped or replaced segment is
//      refused, named). Every segment's MAC and every chunk is checked
//      before anything of it is applied. Shipped changes stop, without an
//      error, at a gap (shipping was off and the journal was pruned) or
//      when none reach back to the chain: the report says where and why.
//   3. Journal rows after the chain (committed_at_us <= the chosen moment)
//      are applied to custvault.db in one transaction; audit entries after
//      the chain (time_us <= the moment) with their checkpoints to audit.db
//      in one transaction, and a head for the last one (the shipped head
//      when it is that entry's, else one MACed with the restored audit key,
//      as the core does when it cuts the log).
//   4. Shredding again with the union of every shred ledger (the core's,
//      the off-site copy beside the segments, and the shred records in the
//      segments, also after the moment), the source state cleared, the
//      audit chain verified, the ledger written; then the sibling is
//      renamed onto the target. Nothing reaches the target unless all of it
//      worked.
//
// Thread safety: one restore per target. Errors: those of restore.h, and
// kDataLoss naming the segment for a damaged or swapped one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backup/restore.h"
#include "common/env.h"
#include "common/status.h"

namespace custvault::backup {

struct ShippedRestoreReport {
  RestoreReport chain;                // what the core restored
  std::vector<std::string> segments;  // applied, in order
  int64_t journal_rows_applied = 0;   // from segments
  int64_t journal_rows_after_point = 0;
  int64_t audit_entries_applied = 0;
  int64_t restored_to_us = 0;      // the newest commit in the restored database
  int64_t shredded = 0;            // customers shredded after the segments
  int64_t customers = 0;           // in the restored database
  int64_t audit_entries = 0;       // in the restored log
  std::string stopped;             // why shipped changes stopped early ("" = none left)
  double seconds = 0;
};

// `options` as for Restore; `segments_dir` "" restores the chain alone
// (still through the same finish).
Result<ShippedRestoreReport> RestoreWithShipped(Env* env, const RestoreOptions& options,
                                                const std::string& segments_dir);

}  // namespace custvault::backup
