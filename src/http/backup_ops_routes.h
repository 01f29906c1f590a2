// Owned by the shipping/operations work (issue 6, R-BAK-2, R-OPS-2): the
// HTTP API of restore tests and continuous shipping.
//   GET /api/v1/backups/restore-tests   records, newest first (?limit=1..160,
//                                       default 20), with the overdue status
//   GET /api/v1/backups/shipping        the shipper's progress and lag
// Both need Operation::kBackupRead (auditor, security officer, sys admin).
// They read only ids, counts and times: no personal data.
#pragma once

#include "http/auth.h"
#include "http/router.h"
#include "service/vault.h"

namespace custvault::http {

// `vault` must outlive the router.
void RegisterBackupOpsRoutes(Router& router, service::Vault& vault, Authenticator authenticate);

}  // namespace custvault::http
