// The backup core's HTTP API (R-BAK-1..3) over service::BackupService:
//   POST /api/v1/backups              take a backup now: {"kind":"full"|"incremental"}
//                                     (backup.run: sys_admin); 201 with the manifest and,
//                                     when an off-site location is set, "offsite": the
//                                     report of copying it there (null when none is set)
//   GET  /api/v1/backups              every backup of the local location
//                                     (backup.read: auditor, security officer, sys admin)
//   POST /api/v1/backups/{id}/verify  check every chunk of one backup (backup.read; audited)
//   POST /api/v1/restores             file an online restore for approval:
//                                     {"at": RFC 3339?, "full_id"?, "reason"?}
//                                     (backup.restore: sys_admin); 202 with the approval,
//                                     which the security officer decides through
//                                     /api/v1/approvals/{id}/decision
// Role checks are the service's; handlers only parse and shape JSON.
// Nothing personal leaves: ids, positions, counts, sizes, hashes.
#pragma once

#include <boost/json/object.hpp>

#include "backup/backup_engine.h"
#include "http/auth.h"
#include "http/router.h"
#include "service/backup_ops.h"
#include "service/backup_service.h"

namespace custvault::http {

// `backups` and `operations` must outlive the router.
void RegisterBackupRoutes(Router& router, service::BackupService& backups,
                          service::BackupOperations& operations, Authenticator authenticate);

// A backup as the API and the CLI show it.
boost::json::object BackupManifestJson(const backup::Manifest& manifest);
boost::json::object BackupListingJson(const backup::BackupListing& listing);

}  // namespace custvault::http
