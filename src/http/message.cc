#include "http/message.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace custvault::http {
namespace {

// Our request bodies are flat objects with at most a list or two inside, so
// a small nesting limit costs nothing and stops stack-depth games.
constexpr size_t kJsonDepthMax = 32;
// The parsed value of a body is a few times larger than its text; the arena
// starts near that size and grows on demand.
constexpr size_t kJsonArenaBytesMin = 1024;
constexpr size_t kJsonArenaBytesStartMax = 4 << 20;

// What clients see instead of the internal message: internal messages name
// files, SQL and keys, which is nobody's business outside the server.
constexpr char kInternalMessage[] = "internal error";
constexpr char kDataLossMessage[] = "data integrity check failed";

}  // namespace

const std::string& Request::Header(const std::string& lower_name) const {
  static const std::string kEmpty;
  auto it = headers.find(lower_name);
  return it == headers.end() ? kEmpty : it->second;
}

Response JsonResponse(int status, const boost::json::value& body) {
  Response response;
  response.status = status;
  response.content_type = "application/json";
  response.body = boost::json::serialize(body);
  return response;
}

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return 200;
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kTooLarge:
      return 413;
    case ErrorCode::kValidationFailed:
      return 422;
    case ErrorCode::kLocked:
      return 423;
    case ErrorCode::kRateLimited:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kDataLoss:
      return 500;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

Response ErrorResponse(const Status& status) {
  ErrorCode code = status.code();
  if (code == ErrorCode::kOk) {
    // A caller bug: an OK status is no error. Answer as an internal error
    // rather than a 200 with an error body.
    spdlog::error("ErrorResponse called with an OK status");
    code = ErrorCode::kInternal;
  }

  boost::json::object error;
  error["code"] = ErrorCodeName(code);
  const bool hide_message = code == ErrorCode::kInternal || code == ErrorCode::kDataLoss;
  if (code == ErrorCode::kInternal) {
    error["message"] = kInternalMessage;
  } else if (code == ErrorCode::kDataLoss) {
    error["message"] = kDataLossMessage;
  } else {
    error["message"] = status.message();
  }
  if (!hide_message && !status.details().empty()) {
    boost::json::array details;
    details.reserve(status.details().size());
    for (const FieldError& field_error : status.details()) {
      details.push_back(
          boost::json::object{{"field", field_error.field}, {"reason", field_error.reason}});
    }
    error["details"] = std::move(details);
  }
  if (hide_message) {
    // The full message goes to the log only; Status messages carry no
    // personal data by convention (common/status.h).
    spdlog::error("request failed: {}", status.ToString());
  }

  Response response = JsonResponse(HttpStatusFor(code), boost::json::object{{"error", error}});
  if (code == ErrorCode::kUnavailable) {
    response.headers.emplace_back("Retry-After", "1");
  }
  return response;
}

Result<boost::json::value> ParseJsonBody(const Request& request, bool require_object) {
  if (request.body.empty()) {
    return InvalidArgument("request body must be JSON");
  }
  const size_t arena_bytes =
      std::clamp(request.body.size() * 2, kJsonArenaBytesMin, kJsonArenaBytesStartMax);
  // The shared arena lives as long as the returned value (or any copy of
  // it) does: a storage_ptr is reference counted.
  boost::json::storage_ptr storage =
      boost::json::make_shared_resource<boost::json::monotonic_resource>(arena_bytes);
  boost::json::parse_options options;
  options.max_depth = kJsonDepthMax;
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;

  boost::json::error_code error;
  boost::json::value value = boost::json::parse(request.body, error, storage, options);
  // Never echo the body or the parser's position: the body may be
  // personal data.
  if (error == boost::json::error::too_deep) {
    return InvalidArgument("request body is nested too deeply");
  }
  if (error) {
    return InvalidArgument("request body is not valid JSON");
  }
  if (require_object && !value.is_object()) {
    return InvalidArgument("request body must be a JSON object");
  }
  return value;
}

}  // namespace custvault::http
