// The business-records HTTP API (R-TAG-2) over service::BusinessService:
//   POST /api/v1/customers/{id}/transactions            add one (201)
//   GET  /api/v1/customers/{id}/transactions            list, newest first
//   POST /api/v1/customers/{id}/complaints              add one (201)
//   GET  /api/v1/customers/{id}/complaints              list, newest first
//   POST /api/v1/customers/{id}/complaints/{cid}/close  close one (200)
//   POST /api/v1/customers/{id}/cooperation             add one (201)
//   GET  /api/v1/customers/{id}/cooperation             list, newest first
// Lists take `limit` and `cursor` and answer {"items":[...],"next_cursor":...}.
// Role checks, validation and auditing are the service's; handlers only
// decode JSON (a wrong JSON type or an unknown member is a 422 detail,
// reported with the service's own findings) and shape the answers.
#pragma once

#include <boost/json/object.hpp>

#include "http/auth.h"
#include "http/router.h"
#include "service/business_service.h"

namespace custvault::http {

// `business` must outlive the router.
void RegisterBusinessRoutes(Router& router, service::BusinessService& business,
                            Authenticator authenticate);

// The records as the API (and the CLI) print them. Times are RFC 3339;
// a hidden summary is absent ("summary_shown" says how it is shown).
boost::json::object TransactionJson(const service::TransactionView& view);
boost::json::object ComplaintJson(const service::ComplaintView& view);
boost::json::object CooperationJson(const service::CooperationView& view);

// Request bodies as the service receives them: every member checked,
// wrong types and unknown members collected as decode errors.
service::NewTransaction TransactionFromJson(const boost::json::object& body);
service::NewComplaint ComplaintFromJson(const boost::json::object& body);
service::NewCooperation CooperationFromJson(const boost::json::object& body);

}  // namespace custvault::http
