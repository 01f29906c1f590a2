// Status and Result<T>: the one way fallible code reports failure.
//
// Expected failures (bad input, missing rows, broken ciphertext, I/O) are
// values, never exceptions. Exactly one place, http/message.cc (ErrorResponse), turns
// an ErrorCode into an HTTP status; everything below http/ speaks only this.
//
// A Status message must never contain plaintext personal data: name the
// field and the reason, never the value.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace custvault {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,   // malformed request (400)
  kUnauthenticated,   // no or bad credentials (401)
  kPermissionDenied,  // authenticated but not allowed (403)
  kNotFound,          // (404)
  kConflict,          // (409)
  kTooLarge,          // body, field or page over its limit (413)
  kValidationFailed,  // well-formed but invalid fields; details name them (422)
  kLocked,            // account locked or lockdown (423)
  kRateLimited,       // (429)
  kUnavailable,       // overloaded or shutting down; retry later (503)
  kDataLoss,          // integrity failure: tampered ciphertext, corrupt file
  kInternal,          // a bug or an environment failure (500)
};

// Stable machine-readable name, used as the "code" of API errors.
std::string_view ErrorCodeName(ErrorCode code);

// One failing field of a validation error: which field and why (a short
// machine reason such as "checksum", "required", "too_long").
struct FieldError {
  std::string field;
  std::string reason;
  bool operator==(const FieldError&) const = default;
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  Status(ErrorCode code, std::string message, std::vector<FieldError> details)
      : code_(code), message_(std::move(message)), details_(std::move(details)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<FieldError>& details() const { return details_; }

  // "not_found: customer does not exist" (for logs and tests).
  std::string ToString() const;

  // Marks a status as deliberately unused.
  void IgnoreError() const {}

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::vector<FieldError> details_;
};

// Shorthands that read well at call sites: return InvalidArgument("...").
inline Status InvalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Status Conflict(std::string m) { return {ErrorCode::kConflict, std::move(m)}; }
inline Status TooLarge(std::string m) { return {ErrorCode::kTooLarge, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {ErrorCode::kUnauthenticated, std::move(m)}; }
inline Status PermissionDenied(std::string m) {
  return {ErrorCode::kPermissionDenied, std::move(m)};
}
inline Status Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
inline Status DataLoss(std::string m) { return {ErrorCode::kDataLoss, std::move(m)}; }
inline Status Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace custvault

// Return early on failure. RETURN_IF_ERROR(expr) for Status;
// ASSIGN_OR_RETURN(lhs, expr) for Result<T>.
#define CUSTVAULT_CONCAT_INNER(a, b) a##b
#define CUSTVAULT_CONCAT(a, b) CUSTVAULT_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::custvault::Status custvault_status_ = (expr);        \
    if (!custvault_status_.ok()) return custvault_status_; \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(CUSTVAULT_CONCAT(custvault_result_, __LINE__), lhs, expr)
