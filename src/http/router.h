// Router: method + path pattern -> handler. Patterns are literal segments
// and {name} placeholders ("/api/v1/customers/{id}"). A path that matches
// no route answers 404; a path that matches with another method, 405.
// Thread safety: routes are added before the server starts; Dispatch is
// then safe from many threads.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/message.h"

namespace custvault::http {

using Handler = std::function<Response(Request&)>;

// Splits request.target ("/path?query") into request.path (each segment
// percent-decoded) and request.query ('+' is a space, then percent-decoded).
// kInvalidArgument for a target that is not origin-form ("/..."), a
// malformed escape, %00 or a control character in the path, text that is
// not UTF-8 after decoding, a repeated query parameter, or more than
// kQueryParamsMax parameters. Dispatch calls it; exposed for tests.
inline constexpr int kQueryParamsMax = 32;
inline constexpr int kPathSegmentsMax = 32;
Status ParseTarget(Request& request);

// The cost class of a route, given at registration. The server runs
// kExpensive routes (dry runs, rules, exports, backups, verification: work
// that grows with the data or the input) on a small separate worker pool
// with its own queue limit, so they can never occupy every general worker.
enum class RouteClass { kNormal, kExpensive };

struct RouteInfo {
  std::string method;
  std::string pattern;
  RouteClass route_class = RouteClass::kNormal;
};

class Router {
 public:
  void Add(std::string method, std::string pattern, Handler handler,
           RouteClass route_class = RouteClass::kNormal);
  // The class of the route a request would be dispatched to (kNormal for a
  // target that matches no route or does not parse: those answer at once).
  // Cheap: the server calls it on the I/O thread to choose the pool.
  RouteClass ClassOf(const std::string& method, const std::string& target) const;
  // Parses request.target (see ParseTarget; a request built without a
  // target is matched on request.path and request.query as given), fills
  // request.path_params and runs the handler; 404/405 otherwise. When
  // several routes match, the one with a literal segment where the others
  // have a placeholder wins ("/customers/search" before "/customers/{id}").
  // A handler that throws gets a 500 with no detail (logged by id only).
  Response Dispatch(Request& request) const;
  // Every registered route, for the OpenAPI consistency test.
  std::vector<RouteInfo> Routes() const;
  // Runs on every request before matching (e.g. to replace peer_ip with the
  // client address a trusted proxy reports). Set before the server starts.
  void SetRequestFilter(std::function<void(Request&)> filter) { filter_ = std::move(filter); }

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    RouteClass route_class = RouteClass::kNormal;
  };
  // The most specific route for `method` and the decoded `segments`;
  // nullptr if none (the methods of routes matching the path go to
  // `allowed_methods` when given).
  const Route* Match(const std::string& method, const std::vector<std::string>& segments,
                     std::vector<std::string>* allowed_methods) const;
  std::vector<Route> routes_;
  std::function<void(Request&)> filter_;
};

}  // namespace custvault::http
