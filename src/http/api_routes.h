// The HTTP API of api-conventions.md: every route, its authentication and
// its JSON shapes. Handlers parse and shape JSON and call the services;
// they hold no business rules.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "http/router.h"
#include "service/vault.h"

namespace custvault::http {

// Registers every route. `vault` must outlive the router.
void RegisterApiRoutes(Router& router, service::Vault& vault);

// A customer and a page of customers as the API (and the CLI) print them.
boost::json::object CustomerJson(const service::CustomerView& view);
boost::json::object CustomerPageJson(const service::CustomerListPage& page);

// The OpenAPI 3 document served at /api/v1/openapi.json (compiled in).
std::string_view OpenApiDocument();

}  // namespace custvault::http
