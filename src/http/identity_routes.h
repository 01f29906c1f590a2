// The identity and access-control API (R-ACC-1..4): login, logout,
// password change, TOTP enrolment, accounts, reviews, role requests and
// channel systems. Handlers shape JSON and call service::AccountService,
// which makes every decision (policy included) on the server.
//
// Authentication: /auth/login takes none; /auth/logout, /auth/password and
// /auth/totp/* take a session token and accept a limited session (one that
// must change its password or enrol TOTP first); every other route needs a
// full session. Responses that carry a secret (a token, a one-time
// password, a TOTP secret, an API key) are sent with Cache-Control:
// no-store.
#pragma once

#include <boost/json/object.hpp>

#include "http/router.h"
#include "service/account_service.h"

namespace custvault::http {

// Registers every identity route. `accounts` must outlive the router.
void RegisterIdentityRoutes(Router& router, service::AccountService& accounts);

// The shapes the API (and the CLI) print.
boost::json::object AccountJson(const service::AccountView& account);
boost::json::object RoleRequestJson(const service::RoleRequestView& request);
boost::json::object ChannelJson(const service::ChannelView& channel);

}  // namespace custvault::http
