// Owned by the shipping/operations work (issue 6, R-BAK-1, R-BAK-2,
// R-BAK-2a, R-OPS-2): the operations half of backups as use cases, shared
// by the HTTP API (http/backup_ops_routes), the CLI (cli/backup_ops_commands)
// and the scheduler's jobs:
//   - off-site copy of finished backups and retention in both locations
//     (backup/offsite.h), run after every backup job;
//   - continuous shipping to the off-site location (backup/shipper.h),
//     started by `custvault serve`;
//   - restore tests (backup/restore_test.h) and their records;
//   - the timed jobs backup_incremental, backup_full, restore_test.
//
// The archive format, the backups and the restore are the backup core's
// (backup/backup_engine.h, restore.h); this class uses them through
// backup/archive_locations.h, segment_archive.h and shipped_restore.h.
// Taking a backup is the core's service, handed over with SetCore; until
// then the backup jobs fail with kUnavailable naming what is missing.
//
// Policy: running anything needs backup.run (sys_admin); reading records
// and status needs backup.read (auditor, security officer, sys_admin).
// Jobs run as ActorKind::kLocalOperator "job:<name>" without a policy
// check (they are the deployment's own schedule) and every run is audited.
// Nothing here reads or logs personal data: ids, counts, times.
//
// Thread safety: every method may be called from many threads; restore
// tests and off-site copies are serialised among themselves.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "backup/offsite.h"
#include "backup/restore_test.h"
#include "backup/restore_test_log.h"
#include "backup/shipper.h"
#include "catalog/catalog.h"
#include "common/config.h"
#include "common/env.h"
#include "crypto/keyring.h"
#include "service/account_service.h"
#include "service/actor.h"
#include "service/audit_service.h"
#include "store/store.h"

namespace custvault::service {

inline constexpr char kJobBackupIncremental[] = "backup_incremental";
inline constexpr char kJobBackupFull[] = "backup_full";
inline constexpr char kJobRestoreTest[] = "restore_test";

// What the backup core's service provides: taking a backup now (audited
// there as backup.run). Set with SetCore; the jobs need it.
struct BackupCore {
  std::function<Result<std::string>(const Actor& actor, bool full)> take_backup;
};

struct RestoreTestRequest {
  std::string backup_id;  // "" = the newest chain
  int samples = backup::kRestoreTestSamplesDefault;
  bool keep_scratch = false;
  bool with_shipped = true;  // apply the shipped segments after the chain
  std::string trigger = "cli";
  std::function<void(std::string_view step)> progress;  // CLI progress lines
};

struct RestoreTestListing {
  std::vector<backup::RestoreTestRecord> records;  // newest first
  backup::RestoreTestStatus status;
};

struct ShippingView {
  bool configured = false;        // backup.shipping and backup.offsite_dir set
  bool running_here = false;      // this process runs the shipper
  backup::ShipperStatus shipper;  // live figures when running here
  int64_t segments_offsite = 0;   // segments found in <offsite>/shipped
  int64_t shipped_journal_seq = 0;
  int64_t shipped_audit_seq = 0;
  int64_t last_segment_at_us = 0;
};

// The JSON shapes the API and the CLI print.
boost::json::object OffsiteReportJson(const backup::OffsiteReport& report);
boost::json::object ShippingViewJson(const ShippingView& view);

class BackupOperations {
 public:
  // All must outlive the object.
  BackupOperations(Env* env, const Config& config, const catalog::Catalog& catalog,
                   const crypto::Keyring& keyring, store::Store& store, AccountService& accounts,
                   AuditService& audit);
  ~BackupOperations();  // stops shipping

  void SetCore(BackupCore core);

  // ---- restore tests (R-BAK-2) ----
  // backup.run. Runs one restore test and returns its record (passed or
  // not); errors only when it could not even be recorded.
  Result<backup::RestoreTestRecord> RestoreTest(const Actor& actor,
                                                const RestoreTestRequest& request);
  // backup.read. Newest first, at most `limit` (1..160), with the overdue
  // status of R-OPS-2.
  Result<RestoreTestListing> RestoreTests(const Actor& actor, int limit);

  // ---- off-site copy and retention (R-BAK-1) ----
  // backup.run. Copies finished backups the off-site location lacks (or
  // only `backup_id`), then applies retention in both locations; audited
  // as backup.ship with the figures.
  Result<backup::OffsiteReport> CopyOffsite(
      const Actor& actor, const std::string& backup_id,
      std::function<void(std::string_view)> progress = {});

  // backup.run. After a backup taken by hand (CLI, API): copies it off-site
  // at once, as the timed jobs do, when an off-site location is set. Returns
  // what the answers carry as "offsite": null when none is set, else the
  // report, or {"ok": false, "error": code} when the copy could not run.
  // `failed` is set when the copy did not succeed; the backup stands either way.
  boost::json::value CopyTakenBackupOffsite(const Actor& actor, const std::string& backup_id,
                                            Status* failed);

  // ---- continuous shipping (R-BAK-2a) ----
  // Starts the shipper when backup.shipping is on and backup.offsite_dir
  // is set (a no-op otherwise); `custvault serve` calls it. The journal is
  // read from custvault.db on its own connection, the audit entries from
  // the audit log's store.
  Status StartShipping();
  void StopShipping();
  // backup.read.
  Result<ShippingView> Shipping(const Actor& actor);
  // The running shipper, if any (tests and the lag benchmark).
  backup::Shipper* shipper() { return shipper_.get(); }

  // ---- jobs ----
  // What the timed jobs run (Vault::Open registers them): a backup, then
  // the off-site copy and retention; or a restore test. Each is audited as
  // job.run with its outcome, besides the entries of what it did.
  Status RunBackupJob(bool full);
  Status RunRestoreTestJob();

  // The directories as configured (resolved against the data directory).
  std::string local_dir() const;
  std::string offsite_dir() const;  // "" when none

 private:
  Result<backup::RestoreTestRecord> RestoreTestAs(const Actor& actor,
                                                  const RestoreTestRequest& request);
  Result<backup::OffsiteReport> CopyOffsiteAs(const Actor& actor, const std::string& backup_id,
                                              std::function<void(std::string_view)> progress);
  Status AuditJob(const std::string& name, const Status& outcome, boost::json::object details);
  // The archive formats, made on first use (they need the stored backup key).
  Result<backup::BackupLocationFormat*> Locations();
  Result<backup::SegmentFormat*> Segments();

  Env* const env_;
  const Config& config_;
  const catalog::Catalog& catalog_;
  const crypto::Keyring& keyring_;
  store::Store& store_;
  AccountService& accounts_;
  AuditService& audit_;
  backup::RestoreTestLog restore_test_log_;

  std::mutex core_mutex_;
  BackupCore core_;  // guarded by core_mutex_ (set once, read copies)
  std::unique_ptr<backup::BackupLocationFormat> locations_;  // guarded by core_mutex_
  std::unique_ptr<backup::SegmentFormat> segments_;          // guarded by core_mutex_

  std::mutex run_mutex_;  // one restore test or off-site copy at a time

  std::mutex shipping_mutex_;
  std::unique_ptr<backup::ChangeSource> change_source_;
  std::unique_ptr<backup::Shipper> shipper_;
};

}  // namespace custvault::service
