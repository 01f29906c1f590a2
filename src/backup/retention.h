// Owned by the shipping/operations work (issue 6, R-BAK-1): which backups
// a location may delete.
//
// Retention keeps the newest `keep_full` full backups with every
// incremental that hangs off them, in each location on its own. It is a
// pure function over what a location holds (read from the manifests), so
// the same plan is made for the local and the off-site directory and can
// be tested without files.
//
// Rules, in order of precedence:
//   1. A piece that a kept piece depends on (its base, transitively) is
//      never deleted.
//   2. The newest full chain is always kept, whatever keep_full says (0 or
//      less counts as 1).
//   3. Full chains beyond the newest keep_full go, with their incrementals.
//   4. An incremental whose base is missing (an orphan) cannot be restored;
//      it goes only when it is older than the oldest kept full backup
//      (a newer orphan may belong to a chain still being copied).
//   5. Shipped segments (continuous shipping) go when no kept chain can
//      need them: every change they carry is at or before the oldest kept
//      full backup's journal position, or inside the range of kept
//      incrementals (an incremental carries the same journal rows, so a
//      point-in-time restore has them there). Only the oldest such run
//      goes: the segments that stay are one unbroken sequence.
//
// Thread safety: pure functions. Errors: none (input is taken as given;
// cycles in the base links are treated as orphans).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace custvault::backup {

enum class PieceKind { kFull, kIncremental };

// What retention needs to know of one backup in a location.
struct RetentionPiece {
  std::string id;
  PieceKind kind = PieceKind::kFull;
  std::string base_id;        // the piece an incremental applies to ("" for a full)
  int64_t created_at_us = 0;  // when the backup was taken
  // The highest change-journal seq the piece includes (a full: the journal
  // position of its snapshot). Used to decide which shipped segments are
  // still needed.
  int64_t journal_seq = 0;
  // The highest audit entry seq the piece includes (its manifest's
  // audit_to_seq): segments also carry audit entries a backup lacks.
  int64_t audit_seq = 0;
};

// A shipped segment: changes from_seq..to_seq of the journal and audit
// entries audit_from_seq..audit_to_seq (empty when from > to).
struct RetentionSegment {
  std::string name;
  int64_t from_seq = 0;
  int64_t to_seq = 0;
  int64_t audit_from_seq = 1;
  int64_t audit_to_seq = 0;
};

struct RetentionPlan {
  std::vector<std::string> keep;            // piece ids, oldest first
  std::vector<std::string> remove;          // piece ids, oldest first
  std::vector<std::string> remove_segments; // segment names
  std::vector<std::string> orphans_kept;    // orphan incrementals kept by rule 4
};

// keep_full: how many full chains to keep (<= 0 counts as 1).
RetentionPlan PlanRetention(const std::vector<RetentionPiece>& pieces, int keep_full,
                            const std::vector<RetentionSegment>& segments = {});

}  // namespace custvault::backup
