// The approvals, tag and rules HTTP API (R-APR-1, R-TAG-1/3/4) over
// service::ApprovalService and service::TagService:
//   GET  /api/v1/approvals                 list (status, kind, cursor, limit)
//   GET  /api/v1/approvals/{id}            one, with a page of its items
//                                          (items_cursor, limit)
//   POST /api/v1/approvals/{id}/decision   {"decision":"approve"|"reject",
//                                          "items":["1","3"]?, "comment":"..."}
//   GET  /api/v1/rules                     the active rules and every version
//   POST /api/v1/rules                     {"text": toml} -> 202, a rules_change approval
//   POST /api/v1/rules/dry-run             {"text": toml} -> counts of changes
//   POST /api/v1/tags/reclassify           {"dry_run": bool} -> 200 (dry run) or
//                                          202 (a tag_batch approval filed)
//   POST /api/v1/customers/{id}/tags       {"dimension","value","reason"} -> 202
// Role checks, validation and auditing are the services'; handlers decode
// JSON (unknown members and wrong types are 422 details) and shape answers.
#pragma once

#include <boost/json/object.hpp>

#include "http/auth.h"
#include "http/router.h"
#include "service/approval_service.h"
#include "service/tag_service.h"

namespace custvault::http {

// Both services must outlive the router.
void RegisterTagRoutes(Router& router, service::ApprovalService& approvals,
                       service::TagService& tags, Authenticator authenticate);

// As the API (and the CLI) print them. Times are RFC 3339 (null when unset).
boost::json::object ApprovalJson(const service::ApprovalView& view);
boost::json::object ApprovalDetailJson(const service::ApprovalDetail& detail);
boost::json::object ReclassifyReportJson(const service::ReclassifyReport& report);
boost::json::object RulesVersionJson(const service::RulesVersionView& view);

}  // namespace custvault::http
