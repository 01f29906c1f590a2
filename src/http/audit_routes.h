// The auditors' HTTP API (R-AUD-2, R-AUD-4) over service::AuditService:
//   GET  /api/v1/audit/entries      search (actor, customer_id, operation,
//                                   from, to (RFC 3339), ip, limit, cursor)
//   GET  /api/v1/audit/export.csv   the same filters, as CSV (audited)
//   GET  /api/v1/audit/verify       chain verification report (audited)
//   GET  /api/v1/audit/alerts       alerts (open=true: unacknowledged only)
//   POST /api/v1/audit/alerts/{id}/ack
// Role checks are the service's; handlers only parse and shape JSON.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

#include "http/auth.h"
#include "http/router.h"
#include "service/audit_service.h"

namespace custvault::http {

// `audit` must outlive the router.
void RegisterAuditRoutes(Router& router, service::AuditService& audit, Authenticator authenticate);

// An audit entry and an alert as the API (and the CLI) print them.
boost::json::object AuditEntryJson(const store::AuditEntryRow& row);
boost::json::object AlertJson(const store::AlertRow& row);

}  // namespace custvault::http
