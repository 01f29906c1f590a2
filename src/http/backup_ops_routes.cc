// Owned by the shipping/operations work (issue 6).
#include "http/backup_ops_routes.h"

#include <boost/json.hpp>
#include <charconv>

#include "backup/restore_test_log.h"

namespace custvault::http {
namespace json = boost::json;
namespace {

constexpr int kRestoreTestsDefaultLimit = 20;
constexpr size_t kBackupIdBytesMax = 64;

Response RestoreTests(service::Vault& vault, Request& request, const service::Actor& actor) {
  int limit = kRestoreTestsDefaultLimit;
  for (const auto& [name, value] : request.query) {
    if (name != "limit") {
      return ErrorResponse(InvalidArgument("unknown query parameter: " + name.substr(0, 32)));
    }
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), limit);
    if (error != std::errc() || end != value.data() + value.size()) {
      return ErrorResponse(InvalidArgument("limit must be an integer"));
    }
  }
  Result<service::RestoreTestListing> listing = vault.backup_ops().RestoreTests(actor, limit);
  if (!listing.ok()) return ErrorResponse(listing.status());
  json::array items;
  for (const backup::RestoreTestRecord& record : listing->records) {
    items.push_back(backup::RestoreTestRecordJson(record));
  }
  return JsonResponse(200, json::object{{"items", std::move(items)},
                                        {"status", backup::RestoreTestStatusJson(listing->status)}});
}

Response RunRestoreTest(service::Vault& vault, Request& request, const service::Actor& actor) {
  service::RestoreTestRequest run;
  run.trigger = "api";
  if (!request.body.empty()) {
    Result<json::value> body = ParseJsonBody(request);
    if (!body.ok()) return ErrorResponse(body.status());
    for (const auto& [key, value] : body->as_object()) {
      if (key == "backup_id" && value.is_string() && value.as_string().size() <= kBackupIdBytesMax) {
        run.backup_id = std::string(value.as_string());
      } else if (key == "samples" && value.is_int64() && value.as_int64() >= 0 &&
                 value.as_int64() <= backup::kRestoreTestSamplesMax) {
        run.samples = static_cast<int>(value.as_int64());
      } else {
        return ErrorResponse(Status(ErrorCode::kValidationFailed, "invalid restore-test request",
                                    {{std::string(key).substr(0, 32), "invalid"}}));
      }
    }
  }
  Result<backup::RestoreTestRecord> record = vault.backup_ops().RestoreTest(actor, run);
  if (!record.ok()) return ErrorResponse(record.status());
  return JsonResponse(record->passed ? 201 : 200, backup::RestoreTestRecordJson(*record));
}

Response Shipping(service::Vault& vault, Request& request, const service::Actor& actor) {
  if (!request.query.empty()) {
    return ErrorResponse(InvalidArgument("shipping takes no query parameters"));
  }
  Result<service::ShippingView> view = vault.backup_ops().Shipping(actor);
  if (!view.ok()) return ErrorResponse(view.status());
  return JsonResponse(200, service::ShippingViewJson(*view));
}

}  // namespace

void RegisterBackupOpsRoutes(Router& router, service::Vault& vault, Authenticator authenticate) {
  auto bind = [&vault, &authenticate](Response (*fn)(service::Vault&, Request&,
                                                     const service::Actor&)) {
    return WithAuth(authenticate,
                    [&vault, fn](Request& r, const service::Actor& a) { return fn(vault, r, a); });
  };
  router.Add("GET", "/api/v1/backups/restore-tests", bind(RestoreTests));
  router.Add("POST", "/api/v1/backups/restore-tests", bind(RunRestoreTest),
             RouteClass::kExpensive);
  router.Add("GET", "/api/v1/backups/shipping", bind(Shipping));
}

}  // namespace custvault::http
