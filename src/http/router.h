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

struct RouteInfo {
  std::string method;
  std::string pattern;
};

class Router {
 public:
  void Add(std::string method, std::string pattern, Handler handler);
  // Fills request.path_params and runs the handler; 404/405 otherwise.
  // A handler that throws gets a 500 with no detail (logged by id only).
  Response Dispatch(Request& request) const;
  // Every registered route, for the OpenAPI consistency test.
  std::vector<RouteInfo> Routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace custvault::http
