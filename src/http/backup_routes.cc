#include "http/backup_routes.h"

#include <boost/json.hpp>

#include "common/encoding.h"
#include "common/env.h"
#include "http/audit_routes.h"

namespace custvault::http {
namespace json = boost::json;
namespace {

constexpr size_t kReasonBytesMax = 512;

Status Invalid(std::string_view field) {
  return Status(ErrorCode::kValidationFailed, "invalid request", {{std::string(field), "invalid"}});
}

Response Run(service::BackupService& backups, service::BackupOperations& operations,
             Request& request, const service::Actor& actor) {
  Result<json::value> body = ParseJsonBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  std::string kind;
  for (const auto& [key, value] : body->as_object()) {
    if (key == "kind" && value.is_string()) {
      kind = std::string(value.as_string());
    } else {
      return ErrorResponse(Invalid(std::string(key).substr(0, 32)));
    }
  }
  if (kind != "full" && kind != "incremental") return ErrorResponse(Invalid("kind"));
  Result<backup::BackupResult> result = backups.Run(actor, {.full = kind == "full"});
  if (!result.ok()) return ErrorResponse(result.status());
  json::object out = BackupManifestJson(result->manifest);
  out["manifest_sm3"] = HexEncode(result->manifest_sm3);
  out["seconds"] = result->seconds;
  out["journal_rows_pruned"] = result->journal_rows_pruned;
  // R-BAK-1: a backup taken by hand goes off-site at once, as the timed
  // ones do. The backup stands even when the copy fails; "offsite" says so.
  Status offsite_failed;
  out["offsite"] = operations.CopyTakenBackupOffsite(actor, result->manifest.id, &offsite_failed);
  return JsonResponse(201, out);
}

Response List(service::BackupService& backups, Request& request, const service::Actor& actor) {
  if (!request.query.empty()) {
    return ErrorResponse(InvalidArgument("listing backups takes no query parameters"));
  }
  Result<std::vector<backup::BackupListing>> listings = backups.List(actor);
  if (!listings.ok()) return ErrorResponse(listings.status());
  json::array items;
  for (const backup::BackupListing& listing : *listings) items.push_back(BackupListingJson(listing));
  return JsonResponse(200, json::object{{"items", std::move(items)}});
}

Response Verify(service::BackupService& backups, Request& request, const service::Actor& actor) {
  const std::string& id = request.path_params.at("id");
  if (!backup::IsValidBackupId(id)) return ErrorResponse(NotFound("no such backup"));
  Result<backup::VerifyResult> result = backups.Verify(actor, id);
  if (!result.ok()) {
    if (result.status().code() == ErrorCode::kDataLoss) {
      // Damage is the answer, not a server fault: say what is wrong.
      return JsonResponse(200, json::object{{"id", id},
                                            {"intact", false},
                                            {"problem", result.status().message()}});
    }
    return ErrorResponse(result.status());
  }
  return JsonResponse(200, json::object{{"id", id},
                                        {"intact", true},
                                        {"chunks", result->chunks_checked},
                                        {"raw_bytes", result->raw_bytes},
                                        {"records", result->records},
                                        {"manifest_sm3", HexEncode(result->manifest_sm3)},
                                        {"seconds", result->seconds}});
}

Response RequestRestore(service::BackupService& backups, Request& request,
                        const service::Actor& actor) {
  service::RestoreRequest restore;
  if (!request.body.empty()) {
    Result<json::value> body = ParseJsonBody(request);
    if (!body.ok()) return ErrorResponse(body.status());
    for (const auto& [key, value] : body->as_object()) {
      if (key == "at" && value.is_string()) {
        std::optional<int64_t> at = ParseRfc3339(value.as_string());
        if (!at) return ErrorResponse(Invalid("at"));
        restore.at_us = at;
      } else if (key == "full_id" && value.is_string() &&
                 backup::IsValidBackupId(value.as_string())) {
        restore.full_id = std::string(value.as_string());
      } else if (key == "reason" && value.is_string() && value.as_string().size() <= kReasonBytesMax) {
        restore.reason = std::string(value.as_string());
      } else {
        return ErrorResponse(Invalid(std::string(key).substr(0, 32)));
      }
    }
  }
  Result<service::ApprovalView> filed = backups.RequestRestore(actor, restore);
  if (!filed.ok()) return ErrorResponse(filed.status());
  return JsonResponse(202, json::object{{"approval_id", filed->id},
                                        {"kind", filed->kind},
                                        {"status", filed->status},
                                        {"summary", filed->summary},
                                        {"expires_at", FormatRfc3339(filed->expires_at_us)}});
}

}  // namespace

json::object BackupManifestJson(const backup::Manifest& m) {
  json::object out;
  out["id"] = m.id;
  out["kind"] = backup::BackupKindName(m.kind);
  out["created_at"] = FormatRfc3339(m.created_at_us);
  out["base_id"] = m.base_id;
  out["previous_id"] = m.previous_id;
  out["point"] = m.point_us > 0 ? FormatRfc3339(m.point_us) : std::string();
  out["journal_after_seq"] = m.journal_after_seq;
  out["journal_to_seq"] = m.journal_to_seq;
  out["audit_after_seq"] = m.audit_after_seq;
  out["audit_to_seq"] = m.audit_to_seq;
  if (m.customers >= 0) out["customers"] = m.customers;
  out["journal_rows"] = m.journal_rows;
  out["audit_entries"] = m.audit_entries;
  out["raw_bytes"] = m.raw_bytes;
  out["stored_bytes"] = m.stored_bytes;
  out["algorithm"] = crypto::AeadAlgorithmName(m.algorithm);
  return out;
}

json::object BackupListingJson(const backup::BackupListing& listing) {
  json::object out = listing.manifest ? BackupManifestJson(*listing.manifest) : json::object();
  out["id"] = listing.id;
  out["complete"] = listing.problem.empty();
  if (!listing.problem.empty()) out["problem"] = listing.problem;
  return out;
}

void RegisterBackupRoutes(Router& router, service::BackupService& backups,
                          service::BackupOperations& operations, Authenticator authenticate) {
  auto bind = [&backups, &authenticate](Response (*fn)(service::BackupService&, Request&,
                                                       const service::Actor&)) {
    return WithAuth(authenticate, [&backups, fn](Request& r, const service::Actor& a) {
      return fn(backups, r, a);
    });
  };
  router.Add("POST", "/api/v1/backups",
             WithAuth(authenticate, [&backups, &operations](Request& r, const service::Actor& a) {
               return Run(backups, operations, r, a);
             }),
             RouteClass::kExpensive);
  router.Add("GET", "/api/v1/backups", bind(List));
  router.Add("POST", "/api/v1/backups/{id}/verify", bind(Verify), RouteClass::kExpensive);
  router.Add("POST", "/api/v1/restores", bind(RequestRestore));
}

}  // namespace custvault::http
