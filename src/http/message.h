// Request and Response as the handlers see them: plain structs, no Beast.
// Only server.cc includes Beast/Asio (each such file costs ~13 s to build).
#pragma once

#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace custvault::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as received, path + query
  std::string path;    // decoded path, no query
  std::map<std::string, std::string> query;        // decoded query parameters
  std::map<std::string, std::string> path_params;  // from the route pattern
  std::map<std::string, std::string> headers;      // lower-case names
  std::string body;
  std::string peer_ip;

  // Header value or "" (name in lower case).
  const std::string& Header(const std::string& lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// 200/201/... with a JSON body.
Response JsonResponse(int status, const boost::json::value& body);

// The one place an ErrorCode becomes an HTTP status and the error shape of
// the API conventions: {"error":{"code","message","details":[...]}}.
// At most kErrorDetailsShownMax details are listed; when there are more,
// "details_truncated" gives how many were left out.
// kUnavailable and kRateLimited add Retry-After; kInternal hides its message.
inline constexpr size_t kErrorDetailsShownMax = 100;
inline constexpr char kRetryAfterDefaultSeconds[] = "1";
Response ErrorResponse(const Status& status);
int HttpStatusFor(ErrorCode code);

// Parses a JSON request body: kInvalidArgument if it is not JSON, nests too
// deeply, repeats a member name within one object (at any depth) or (when
// require_object) is not an object; kTooLarge if the parsed value would take
// more memory than a bound proportional to the body's size.
Result<boost::json::value> ParseJsonBody(const Request& request, bool require_object = true);

}  // namespace custvault::http
