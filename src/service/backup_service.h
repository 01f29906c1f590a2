// BackupService: the use cases of the backup core (R-BAK-1..3, R-CRY-5) as
// the API, the CLI and the timed jobs call them: take a full or incremental
// backup, list, verify, prune the change journal, and the online restore
// (filed for approval, run when the security officer approves). The work
// itself is backup/ (backup_engine.h, restore.h); this class asks the
// policy and audits.
//
// Policy: backup.run (sys_admin) takes backups and prunes; backup.read
// (auditor, security officer, sys admin) lists and verifies;
// backup.restore files an online restore, which ApprovalKind::kRestore's
// approver (the security officer) decides. A scheduler job
// (ApprovalService::JobActor) runs backups without a policy check: it is
// the deployment's own schedule, and it is audited like anyone.
//
// Audit: backup.run (kind, id, manifest SM3, sizes, counts, seconds; or the
// error), backup.verify (id and the outcome), backup.restore (the chain,
// the point, the figures, the target). Never personal data: ids, counts,
// sizes, times, hashes.
//
// Thread safety: every method may be called from many threads; backups
// into one location run one at a time (backup_engine.h's lock: a second
// one gets kUnavailable).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backup/backup_engine.h"
#include "backup/restore.h"
#include "common/config.h"
#include "common/env.h"
#include "crypto/keyring.h"
#include "service/account_service.h"
#include "service/actor.h"
#include "service/approval_service.h"
#include "service/audit_service.h"
#include "service/backup_ops.h"
#include "store/store.h"

namespace custvault::service {

// Where online restores go: <data_dir>/restores/<approval id>, in the data
// directory with its modes (0700), never in a backup location: a restored
// vault holds a copy of the master key (issue 11.5).
inline constexpr char kOnlineRestoreDirName[] = "restores";
std::string OnlineRestoreTarget(const Config& config, const std::string& approval_id);

struct BackupRequest {
  bool full = false;
  backup::ProgressFn progress;
};

struct RestoreRequest {
  std::optional<int64_t> at_us;  // the moment; absent: the newest
  std::string full_id;           // a full backup's chain; "": chosen by the moment
  std::string reason;            // why (<= 512 bytes, no personal data)
};

class BackupService {
 public:
  // All must outlive the service.
  BackupService(Env* env, const Config& config, const crypto::Keyring& keyring,
                store::Store& store, AccountService& accounts, AuditService& audit,
                ApprovalService& approvals);
  ~BackupService();

  // backup.run. Into [backup] local_dir.
  Result<backup::BackupResult> Run(const Actor& actor, const BackupRequest& request);
  // backup.read. Every backup of the local location, oldest first.
  Result<std::vector<backup::BackupListing>> List(const Actor& actor);
  // backup.read. Checks every chunk of one backup (audited backup.verify).
  Result<backup::VerifyResult> Verify(const Actor& actor, const std::string& id,
                                      const backup::ProgressFn& progress = {});
  // backup.run. Prunes the change journal up to what backups and shipping
  // have passed; returns the rows deleted.
  Result<int64_t> PruneJournal(const Actor& actor);

  // backup.restore. Files an online restore for approval (kind restore,
  // decided by the security officer). On approval the restore runs into
  // <data_dir>/restores/<approval id> (a new data directory); the
  // approval's summary says so.
  Result<ApprovalView> RequestRestore(const Actor& actor, const RestoreRequest& request);

  // Audits a restore done outside a running vault (the CLI) into the
  // restored vault's log: `audit` is that vault's AuditService.
  static Status AuditRestore(AuditService& audit, const Actor& actor,
                             const backup::RestoreReport& report, const std::string& target);

  ApprovalHandler* restore_handler();
  // What BackupOperations needs from the core (its jobs take backups).
  BackupCore Core();

 private:
  class RestoreHandler;
  Result<backup::BackupEngine> Engine();
  Status Allow(const Actor& actor, policy::Operation operation);

  Env* const env_;
  const Config& config_;
  const crypto::Keyring& keyring_;
  store::Store& store_;
  AccountService& accounts_;
  AuditService& audit_;
  ApprovalService& approvals_;
  std::unique_ptr<RestoreHandler> restore_handler_;
};

}  // namespace custvault::service
