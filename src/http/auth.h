// Authentication middleware: every route but /healthz is wrapped in
// WithAuth, which turns the bearer token into a service::Actor before the
// handler runs (401 in the API error shape otherwise). Role checks happen
// in the services, on the Actor.
#pragma once

#include <functional>

#include "http/router.h"
#include "service/actor.h"

namespace custvault::http {

// Turns a request's credentials into an Actor, or kUnauthenticated (or
// another error, e.g. kLocked, kPermissionDenied for an IP not allowed).
using Authenticator = std::function<Result<service::Actor>(const Request&)>;
using AuthedHandler = std::function<Response(Request&, const service::Actor&)>;

// The token after "Bearer ", or "" when the header is absent or malformed.
std::string_view BearerToken(const Request& request);

// `authenticate` is copied into the handler.
Handler WithAuth(Authenticator authenticate, AuthedHandler handler);

}  // namespace custvault::http
