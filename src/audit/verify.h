// Verification of the audit chain (R-AUD-2): streams every entry in seq
// order and checks each entry's hash, its link to the one before, seq
// continuity, every checkpoint's MAC and that it signs the hash the chain
// has at its seq, and the head (MAC, and that the last entry is the head).
// It names the FIRST bad entry and what is wrong with it; the kinds are
// described in docs/formats/audit-chain.md.
//
// After a purge, verification starts at the purge checkpoint: the first
// remaining entry's prev_hash must be the hash that checkpoint signs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/keyring.h"
#include "store/audit_store.h"

namespace custvault::audit {

enum class Damage {
  kNone,
  kEdited,            // an entry's content (or the chain before a checkpoint) was changed
  kMissing,           // entries were deleted (a seq gap, or the rest renumbered)
  kInserted,          // an entry that does not belong (the chain goes on from its predecessor)
  kReordered,         // two entries swapped places
  kTruncated,         // the log ends before its head or a checkpoint
  kForgedCheckpoint,  // a checkpoint or the head whose MAC does not verify, or no head
};

// "none", "edited", "missing", "inserted", "reordered", "truncated",
// "forged_checkpoint" (stable: the API and CLI print them).
std::string_view DamageName(Damage damage);

struct VerifyReport {
  bool intact() const { return damage == Damage::kNone; }

  Damage damage = Damage::kNone;
  int64_t first_bad_seq = 0;  // the first bad entry (or checkpoint) when damaged
  std::string detail;         // one sentence: what was found there
  int64_t entries_checked = 0;
  int64_t checkpoints_checked = 0;  // MACs verified
  int64_t first_seq = 0;            // first entry present (0 if none)
  int64_t last_seq = 0;             // last entry present (0 if none)
  int64_t head_seq = 0;
  int64_t anchor_seq = 0;  // the purge checkpoint verification started from (0: genesis)
};

inline constexpr int64_t kVerifyProgressEvery = 1'000'000;
// Called every kVerifyProgressEvery entries with the number checked so far.
using VerifyProgress = std::function<void(int64_t entries_checked)>;

// Reads the whole log in one snapshot. The Result is an error only when
// the log cannot be read; damage is in the report.
Result<VerifyReport> VerifyChain(store::AuditStore& store, const crypto::Keyring& keyring,
                                 const VerifyProgress& progress = {});

}  // namespace custvault::audit
