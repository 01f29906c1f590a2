// The customer self-service API (R-SELF-1), for a web page or a kiosk: no
// bearer token (the customer has no account); the proof is the one-time
// code, then the change token.
//
//   POST /api/v1/self-service/challenges {customer_id, id_last4, phone}
//        -> 202 {challenge_id, expires_in}, the same for a match and a decoy
//   POST /api/v1/self-service/challenges/{id}/verify {code}
//        -> 200 {token, expires_in}; every failure the same 401
//   POST /api/v1/self-service/changes {token, phone?, address?}
//        -> 200 {customer_id, fields (masked contact fields)}
//
// Every body is at most kSelfServiceBodyBytesMax and every member has its
// own limit (413 / 422 naming it); unknown members are refused (422). 429
// carries Retry-After. Bodies are wiped after use and every answer is
// Cache-Control: no-store. All decisions are SelfServiceService's.
#pragma once

#include "http/router.h"
#include "service/vault.h"

namespace custvault::http {

inline constexpr size_t kSelfServiceBodyBytesMax = 4096;

// Registers the three routes, and installs the HTTP SMS gateway when the
// config asks for it (sms.gateway = "http"). `vault` must outlive the
// router; call before the server starts.
void RegisterSelfServiceRoutes(Router& router, service::Vault& vault);

}  // namespace custvault::http
