// Owned by the shipping/operations work (issue 6).
#include "http/backup_ops_routes.h"

#include <boost/json.hpp>
#include <charconv>

#include "backup/restore_test_log.h"
#include "policy/policy.h"

namespace custvault::http {
namespace json = boost::json;
namespace {

constexpr int kRestoreTestsDefaultLimit = 20;

Response RestoreTests(service::Vault& vault, Request& request, const service::Actor& actor) {
  const Status allowed = vault.accounts().Authorize(actor, policy::Operation::kBackupRead);
  if (!allowed.ok()) return ErrorResponse(allowed);
  int limit = kRestoreTestsDefaultLimit;
  for (const auto& [name, value] : request.query) {
    if (name != "limit") {
      return ErrorResponse(InvalidArgument("unknown query parameter: " + name.substr(0, 32)));
    }
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), limit);
    if (error != std::errc() || end != value.data() + value.size() || limit < 1 ||
        static_cast<size_t>(limit) > backup::kRestoreTestRecordsMax) {
      return ErrorResponse(InvalidArgument("limit must be an integer 1.." +
                                           std::to_string(backup::kRestoreTestRecordsMax)));
    }
  }
  backup::RestoreTestLog log(Env::Default(), backup::RestoreTestDirectories(vault.config()));
  Result<std::vector<backup::RestoreTestRecord>> records = log.List(limit);
  if (!records.ok()) return ErrorResponse(records.status());
  Result<backup::RestoreTestStatus> status = log.CurrentStatus(Env::Default()->NowMicros());
  if (!status.ok()) return ErrorResponse(status.status());
  json::array items;
  for (const backup::RestoreTestRecord& record : *records) {
    items.push_back(backup::RestoreTestRecordJson(record));
  }
  return JsonResponse(200, json::object{{"items", std::move(items)},
                                        {"status", backup::RestoreTestStatusJson(*status)}});
}

}  // namespace

void RegisterBackupOpsRoutes(Router& router, service::Vault& vault, Authenticator authenticate) {
  router.Add("GET", "/api/v1/backups/restore-tests",
             WithAuth(authenticate, [&vault](Request& request, const service::Actor& actor) {
               return RestoreTests(vault, request, actor);
             }));
}

}  // namespace custvault::http
