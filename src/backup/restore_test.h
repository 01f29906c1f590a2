// Owned by the shipping/operations work (issue 6, R-BAK-2, R-OPS-2).
//
// RestoreTester: proves that a backup can be restored, the way an auditor
// asks it to be proved (GB/T 22239: "regularly test the restore"). It
// restores a chain into a scratch directory, checks what came back, records
// the result (restore_test_log.h) and audits it (backup.restore_test), and
// removes the scratch directory whatever happened.
//
// Checks, in order; the first one that fails names the failure, every
// figure is recorded either way:
//   1. the restore itself (the core's restore checks every hash and refuses
//      a corrupted, truncated, reordered or missing piece, naming it);
//   2. PRAGMA integrity_check on custvault.db and audit.db;
//   3. the audit chain verifies (audit/verify.h) under the restored keys;
//   4. customers and audit entries number what the manifest says;
//   5. `samples` customers drawn uniformly at random (reservoir sampling
//      over one pass by id) decrypt in full: the wrapped key unwraps under
//      the restored customer-kek and every protected field opens;
//   6. no customer in the shred ledger (created at or before its deletion)
//      is back (R-CRY-5: deleted customers stay deleted).
// Nothing decrypted leaves this class; only counts and customer ids
// (random, not personal) appear in the record.
//
// The restore is a callback, so the checks do not depend on how the chain
// is chosen or applied (the CLI and the job pass the core's restore).
//
// Thread safety: Run may be called from one thread at a time per tester.
// Errors: Run returns a record (passed or not) whenever it could check;
// an error only when not even a record could be written (then the record
// it meant to write is lost and the error says why).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "backup/restore_test_log.h"
#include "catalog/catalog.h"
#include "common/env.h"
#include "common/status.h"
#include "crypto/keyring.h"

namespace custvault::backup {

inline constexpr int kRestoreTestSamplesDefault = 100;
inline constexpr int kRestoreTestSamplesMax = 10'000;

// What a restore into the scratch directory produced.
struct RestoredData {
  std::string custvault_db_path;
  std::string audit_db_path;
  std::string backup_id;           // the newest backup of the chain
  std::vector<std::string> chain;  // full first
  int64_t segments_applied = 0;
  int64_t customers_expected = -1;      // -1: the manifest does not say
  int64_t audit_entries_expected = -1;  // -1: the manifest does not say
  int64_t restored_bytes = 0;
};

// Restores into `scratch_dir` (empty, created by the tester).
using RestoreIntoFn = std::function<Result<RestoredData>(const std::string& scratch_dir)>;

struct RestoreTestOptions {
  std::string scratch_parent;  // the scratch directory is made inside (e.g. the local backup dir)
  int samples = kRestoreTestSamplesDefault;  // 0..kRestoreTestSamplesMax
  std::string trigger = "cli";               // "job" | "cli" | "api"
  std::string actor_id;                      // for the record and the audit entry
  std::string actor_role;
  std::string source_ip = "local";
  std::string shred_ledger_path;  // "" to skip check 6
  std::string location;           // recorded: "local" or "offsite" (never a server path)
  bool keep_scratch = false;      // for debugging a failure; never in a job
};

class RestoreTester {
 public:
  // `master_key_path`: the master key that wraps the restored domain keys
  // (the live vault's). `audit`: where the backup.restore_test entry goes
  // (nullptr in tests that do not audit). All must outlive the tester.
  RestoreTester(Env* env, const catalog::Catalog& catalog, std::string master_key_path,
                crypto::CryptoProfile profile, RestoreTestLog& log, audit::AuditLog* audit);

  Result<RestoreTestRecord> Run(const RestoreIntoFn& restore, const RestoreTestOptions& options);

 private:
  // Checks 2-6 on what was restored; fills the figures and, on the first
  // failing check, record->failure.
  void Check(const RestoredData& restored, const RestoreTestOptions& options,
             RestoreTestRecord* record);
  Status Audit(const RestoreTestRecord& record, const RestoreTestOptions& options);

  Env* const env_;
  const catalog::Catalog& catalog_;
  const std::string master_key_path_;
  const crypto::CryptoProfile profile_;
  RestoreTestLog& log_;
  audit::AuditLog* const audit_;
};

}  // namespace custvault::backup
