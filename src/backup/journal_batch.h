// Applying change-journal rows during a restore (the core's chain restore,
// restore.h, and the restore with shipped segments, shipped_restore.h).
#pragma once

#include <cstddef>
#include <set>
#include <string_view>

#include "common/status.h"
#include "store/shred_ledger.h"
#include "store/sqlite/sqlite_backup.h"

struct sqlite3_changegroup;

namespace custvault::backup {

// Journal rows merged into one patchset before they are applied:
// sqlite3changeset_apply prepares its statements on every call, so one call
// per row would cost more than the rows.
inline constexpr size_t kApplyBatchRows = 4096;
inline constexpr size_t kApplyBatchBytes = size_t{16} << 20;

// Consecutive journal rows (patchsets) merged with sqlite3changegroup:
// applying the merge equals applying them in order.
class PatchsetBatch {
 public:
  PatchsetBatch() = default;
  ~PatchsetBatch();
  PatchsetBatch(const PatchsetBatch&) = delete;
  PatchsetBatch& operator=(const PatchsetBatch&) = delete;

  // kDataLoss when `patchset` is not a valid patchset.
  Status Add(std::string_view patchset);
  bool Full() const { return rows_ >= kApplyBatchRows || bytes_ >= kApplyBatchBytes; }
  size_t rows() const { return rows_; }
  // Applies what was added (nothing when empty) and starts over.
  Status ApplyTo(store::sqlite::RestoredDatabase& db);

 private:
  sqlite3_changegroup* group_ = nullptr;
  size_t rows_ = 0;
  size_t bytes_ = 0;
};

// The shred records (inserts into shredded_customers) a journal row carries.
Status CollectShredRecords(std::string_view patchset, std::set<store::ShredEntry>* out);

}  // namespace custvault::backup
