// Owned by the shipping/operations work (issue 6, R-BAK-2, R-BAK-2a,
// R-OPS-2): the HTTP API of restore tests and continuous shipping, over
// service::BackupOperations (which asks the policy):
//   GET  /api/v1/backups/restore-tests   records, newest first (?limit=1..160,
//                                        default 20), with the overdue status
//                                        (backup.read: auditor, security
//                                        officer, sys admin)
//   POST /api/v1/backups/restore-tests   run one now and return its record
//                                        (backup.run: sys admin); body {} or
//                                        {"backup_id":..,"samples":..}
//   GET  /api/v1/backups/shipping        the shipper's progress and lag
//                                        (backup.read)
// Only ids, counts and times go out: no personal data.
#pragma once

#include "http/auth.h"
#include "http/router.h"
#include "service/vault.h"

namespace custvault::http {

// `vault` must outlive the router.
void RegisterBackupOpsRoutes(Router& router, service::Vault& vault, Authenticator authenticate);

}  // namespace custvault::http
