#include "http/message.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <new>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace custvault::http {
namespace {

// Our request bodies are flat objects with at most a list or two inside, so
// a small nesting limit costs nothing and stops stack-depth games.
constexpr size_t kJsonDepthMax = 32;
// The parsed value of a body is a few times larger than its text; the arena
// starts near that size and grows on demand, up to a hard bound: a value
// takes at most 16 bytes per element of at least 2 bytes of text, so
// kJsonMemoryPerBodyByte times the text plus a little covers every valid
// body, and nothing a client sends can make one request take more.
constexpr size_t kJsonArenaBytesMin = 1024;
constexpr size_t kJsonArenaBytesStartMax = 4 << 20;
constexpr size_t kJsonMemoryPerBodyByte = 32;
constexpr size_t kJsonMemoryBytesExtra = 1 << 20;

// Reported field errors per answer; the rest are counted, not listed.
constexpr size_t kErrorDetailsMax = kErrorDetailsShownMax;

// Allocations over `limit` bytes in all throw std::bad_alloc (the upstream
// of a request's JSON arena).
class BoundedResource final : public boost::json::memory_resource {
 public:
  explicit BoundedResource(size_t limit) : limit_(limit) {}

 private:
  void* do_allocate(size_t bytes, size_t align) override {
    if (bytes > limit_ - used_) throw std::bad_alloc();
    void* p = ::operator new(bytes, std::align_val_t(align));
    used_ += bytes;
    return p;
  }
  // Boost.JSON 1.81's monotonic_resource gives back a block with a smaller
  // size than it asked for (its header left out), so the sized delete would
  // be a size mismatch (ASan's new-delete-type-mismatch): free unsized. The
  // count may then stay a little high, which only makes the bound stricter
  // for the rest of this one request.
  void do_deallocate(void* p, size_t bytes, size_t align) override {
    used_ -= std::min(bytes, used_);
    ::operator delete(p, std::align_val_t(align));
  }
  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override {
    return this == &other;
  }
  const size_t limit_;
  size_t used_ = 0;
};

// A first pass over the text with Boost.JSON's SAX parser that builds
// nothing: it refuses a key repeated in one object, at any depth. A
// repeated key is ambiguous (Boost.JSON keeps the last; a proxy or a filter
// may look at the first) and would let a body pass a rule such as "exactly
// one search field" with one field seen and another used.
class DuplicateKeyCheck {
 public:
  static constexpr size_t max_object_size = size_t(-1);
  static constexpr size_t max_array_size = size_t(-1);
  static constexpr size_t max_key_size = size_t(-1);
  static constexpr size_t max_string_size = size_t(-1);

  bool duplicate = false;

  bool on_document_begin(boost::json::error_code&) { return true; }
  bool on_document_end(boost::json::error_code&) { return true; }
  bool on_object_begin(boost::json::error_code&) {
    keys_.emplace_back();
    return true;
  }
  bool on_object_end(size_t, boost::json::error_code&) {
    keys_.pop_back();
    return true;
  }
  bool on_array_begin(boost::json::error_code&) { return true; }
  bool on_array_end(size_t, boost::json::error_code&) { return true; }
  bool on_key_part(std::string_view part, size_t, boost::json::error_code&) {
    key_.append(part);
    return true;
  }
  bool on_key(std::string_view part, size_t, boost::json::error_code& ec) {
    key_.append(part);
    const bool inserted = keys_.back().insert(std::move(key_)).second;
    key_.clear();
    if (!inserted) {
      duplicate = true;
      ec = boost::json::error::syntax;
      return false;
    }
    return true;
  }
  bool on_string_part(std::string_view, size_t, boost::json::error_code&) { return true; }
  bool on_string(std::string_view, size_t, boost::json::error_code&) { return true; }
  bool on_number_part(std::string_view, boost::json::error_code&) { return true; }
  bool on_int64(int64_t, std::string_view, boost::json::error_code&) { return true; }
  bool on_uint64(uint64_t, std::string_view, boost::json::error_code&) { return true; }
  bool on_double(double, std::string_view, boost::json::error_code&) { return true; }
  bool on_bool(bool, boost::json::error_code&) { return true; }
  bool on_null(boost::json::error_code&) { return true; }
  bool on_comment_part(std::string_view, boost::json::error_code&) { return true; }
  bool on_comment(std::string_view, boost::json::error_code&) { return true; }

 private:
  std::vector<std::unordered_set<std::string>> keys_;  // one set per open object
  std::string key_;
};

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
    // At most kErrorDetailsMax entries: a body with 80,000 bad keys must not
    // make an answer of megabytes. The number left out is given instead.
    const std::vector<FieldError>& all = status.details();
    const size_t shown = std::min(all.size(), kErrorDetailsMax);
    boost::json::array details;
    details.reserve(shown);
    for (size_t i = 0; i < shown; ++i) {
      details.push_back(boost::json::object{{"field", all[i].field}, {"reason", all[i].reason}});
    }
    error["details"] = std::move(details);
    if (all.size() > shown) {
      error["details_truncated"] = static_cast<uint64_t>(all.size() - shown);
    }
  }
  if (hide_message) {
    // The full message goes to the log only; Status messages carry no
    // personal data by convention (common/status.h).
    spdlog::error("request failed: {}", status.ToString());
  }

  Response response = JsonResponse(HttpStatusFor(code), boost::json::object{{"error", error}});
  if (code == ErrorCode::kUnavailable || code == ErrorCode::kRateLimited) {
    // A handler that knows better adds its own Retry-After after this one;
    // the server keeps the last (and adds one to any 429/503 without).
    response.headers.emplace_back("Retry-After", kRetryAfterDefaultSeconds);
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
  boost::json::storage_ptr bound = boost::json::make_shared_resource<BoundedResource>(
      request.body.size() * kJsonMemoryPerBodyByte + kJsonMemoryBytesExtra);
  boost::json::storage_ptr storage =
      boost::json::make_shared_resource<boost::json::monotonic_resource>(arena_bytes, bound);
  boost::json::parse_options options;
  options.max_depth = kJsonDepthMax;
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;

  // Never echo the body or the parser's position: the body may be
  // personal data.
  boost::json::error_code error;
  {
    boost::json::basic_parser<DuplicateKeyCheck> check(options);
    check.write_some(false, request.body.data(), request.body.size(), error);
    if (check.handler().duplicate) {
      return InvalidArgument("request body repeats a member name in one object");
    }
  }
  if (error == boost::json::error::too_deep) {
    return InvalidArgument("request body is nested too deeply");
  }
  if (error) {
    return InvalidArgument("request body is not valid JSON");
  }
  try {
    // Constructed in place: assigning to a value of another storage would
    // copy it out of the bounded arena.
    boost::json::value value = boost::json::parse(request.body, error, storage, options);
    if (error) {
      return InvalidArgument("request body is not valid JSON");
    }
    if (require_object && !value.is_object()) {
      return InvalidArgument("request body must be a JSON object");
    }
    return value;
  } catch (const std::bad_alloc&) {
    return TooLarge("request body takes too much memory to parse");
  }
}

}  // namespace custvault::http
