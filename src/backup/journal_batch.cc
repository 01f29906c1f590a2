#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "backup/journal_batch.h"

#include <sqlite3.h>

#include <string>

#include "store/sqlite/change_journal.h"
#include "store/sqlite/patchset.h"

namespace custvault::backup {

namespace sql = store::sqlite;

PatchsetBatch::~PatchsetBatch() {
  if (group_ != nullptr) sqlite3changegroup_delete(group_);
}

Status PatchsetBatch::Add(std::string_view patchset) {
  if (patchset.empty()) return Status::Ok();
  if (group_ == nullptr && sqlite3changegroup_new(&group_) != SQLITE_OK) {
    return Internal("cannot start a change group");
  }
  const int rc = sqlite3changegroup_add(group_, static_cast<int>(patchset.size()),
                                        const_cast<char*>(patchset.data()));
  if (rc != SQLITE_OK) return DataLoss("a journal row is not a valid patchset");
  ++rows_;
  bytes_ += patchset.size();
  return Status::Ok();
}

Status PatchsetBatch::ApplyTo(sql::RestoredDatabase& db) {
  if (group_ == nullptr) return Status::Ok();
  int size = 0;
  void* merged = nullptr;
  const int rc = sqlite3changegroup_output(group_, &size, &merged);
  sqlite3changegroup_delete(group_);
  group_ = nullptr;
  rows_ = 0;
  bytes_ = 0;
  if (rc != SQLITE_OK) {
    sqlite3_free(merged);
    return Internal("cannot merge journal rows");
  }
  Status status =
      db.Apply(std::string_view(static_cast<const char*>(merged), static_cast<size_t>(size)));
  sqlite3_free(merged);
  return status;
}

Status CollectShredRecords(std::string_view patchset, std::set<store::ShredEntry>* out) {
  return sql::ForEachPatchsetChange(patchset, [&](const sql::PatchsetChange& change) -> Status {
    if (change.table->name != sql::kShreddedCustomersTable || change.op != sql::kPatchsetInsert ||
        change.values.size() < 2) {
      return Status::Ok();
    }
    if (change.values[0].type == sql::PatchsetValue::kText &&
        change.values[1].type == sql::PatchsetValue::kInteger) {
      out->insert({std::string(change.values[0].bytes), change.values[1].integer});
    }
    return Status::Ok();
  });
}

}  // namespace custvault::backup
