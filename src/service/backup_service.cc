#include "service/backup_service.h"

#include <boost/json.hpp>

#include "audit/entry.h"
#include "common/encoding.h"
#include "common/log.h"
#include "policy/policy.h"

namespace custvault::service {
namespace {

namespace json = boost::json;

constexpr size_t kReasonBytesMax = 512;
constexpr int kAuditAttempts = 3;

// Another process appending to the same audit log (the CLI beside the
// server) can make one append meet a stale head; the log reloads it, and
// the next attempt goes through.
Status RecordWithRetry(AuditService& audit, const Actor& actor, std::string_view operation,
                       std::string_view result, const json::object& details) {
  Status last;
  for (int attempt = 0; attempt < kAuditAttempts; ++attempt) {
    Result<int64_t> seq = audit.Record(actor, operation, "", result, details);
    if (seq.ok()) return Status::Ok();
    last = seq.status();
    if (last.code() != ErrorCode::kConflict && last.code() != ErrorCode::kUnavailable) break;
  }
  return last;
}

json::object ManifestDetails(const backup::Manifest& m) {
  json::object details;
  details["id"] = m.id;
  details["kind"] = backup::BackupKindName(m.kind);
  if (!m.base_id.empty()) details["base_id"] = m.base_id;
  if (!m.previous_id.empty()) details["previous_id"] = m.previous_id;
  details["journal_to_seq"] = m.journal_to_seq;
  details["audit_to_seq"] = m.audit_to_seq;
  details["point"] = m.point_us > 0 ? FormatRfc3339(m.point_us) : std::string();
  details["raw_bytes"] = m.raw_bytes;
  details["stored_bytes"] = m.stored_bytes;
  if (m.customers >= 0) details["customers"] = m.customers;
  details["journal_rows"] = m.journal_rows;
  details["audit_entries"] = m.audit_entries;
  return details;
}

std::string RestorePayload(const RestoreRequest& request) {
  json::object payload;
  if (request.at_us) payload["at_us"] = *request.at_us;
  payload["full_id"] = request.full_id;
  return json::serialize(payload);
}

Result<RestoreRequest> ParseRestorePayload(const std::string& text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) return InvalidArgument("restore approval: bad payload");
  RestoreRequest request;
  const json::object& object = parsed.as_object();
  if (const json::value* at = object.if_contains("at_us"); at != nullptr && at->is_int64()) {
    request.at_us = at->as_int64();
  }
  if (const json::value* full = object.if_contains("full_id"); full != nullptr && full->is_string()) {
    request.full_id = std::string(full->as_string());
  }
  return request;
}

}  // namespace

std::string OnlineRestoreTarget(const Config& config, const std::string& approval_id) {
  return config.DataPath(kOnlineRestoreDirName) + "/" + approval_id;
}

// Runs an approved online restore into a new directory under the local
// backup location. Idempotent: after a crash mid-restore the approval is
// applied again, and a target that already holds a finished restore counts
// as done (Restore itself never writes a half-finished target).
class BackupService::RestoreHandler final : public ApprovalHandler {
 public:
  explicit RestoreHandler(BackupService& service) : service_(service) {}

  Result<ApplyOutcome> Apply(const Actor& approver, const ApprovalRecord& approval,
                             const std::vector<ApprovalItemRecord>& /*chosen*/) override {
    const Config& config = service_.config_;
    const std::string location = config.DataPath(config.backup.local_dir);
    // In the data directory, never in a backup location: the restored
    // vault holds a copy of the master key (issue 11.5).
    const std::string target = OnlineRestoreTarget(config, approval.id);
    if (service_.env_->FileExists(target + "/custvault.toml")) {
      return ApplyOutcome{{}, "restored into " + std::string(kOnlineRestoreDirName) + "/" + approval.id +
                                   " in the data directory"};
    }
    ASSIGN_OR_RETURN(RestoreRequest request, ParseRestorePayload(approval.payload));
    backup::RestoreOptions options;
    options.from = location;
    options.to = target;
    options.at_us = request.at_us;
    options.full_id = request.full_id;
    options.master_key_path = config.DataPath(config.crypto.master_key_file);
    options.source_data_dir = config.data_dir;
    Result<backup::RestoreReport> report = backup::Restore(service_.env_, options);
    if (!report.ok()) {
      json::object details;
      details["approval"] = approval.id;
      details["error"] = std::string(ErrorCodeName(report.status().code()));
      details["message"] = report.status().message();
      RecordWithRetry(service_.audit_, approver, audit::op::kBackupRestore, audit::result::kFailed,
                      details)
          .IgnoreError();
      // A refused restore (damaged or missing backups) is a clean failure
      // of the approval, not something to retry at every open.
      if (report.status().code() == ErrorCode::kDataLoss ||
          report.status().code() == ErrorCode::kInvalidArgument ||
          report.status().code() == ErrorCode::kConflict ||
          report.status().code() == ErrorCode::kNotFound) {
        return NotFound("restore refused: " + report.status().message());
      }
      return report.status();
    }
    RETURN_IF_ERROR(AuditRestore(service_.audit_, approver, *report, target));
    return ApplyOutcome{{}, "restored into " + std::string(kOnlineRestoreDirName) + "/" + approval.id +
                                   " in the data directory"};
  }

 private:
  BackupService& service_;
};

BackupService::BackupService(Env* env, const Config& config, const crypto::Keyring& keyring,
                             store::Store& store, AccountService& accounts, AuditService& audit,
                             ApprovalService& approvals)
    : env_(env),
      config_(config),
      keyring_(keyring),
      store_(store),
      accounts_(accounts),
      audit_(audit),
      approvals_(approvals),
      restore_handler_(std::make_unique<RestoreHandler>(*this)) {}

BackupService::~BackupService() = default;

ApprovalHandler* BackupService::restore_handler() { return restore_handler_.get(); }

Status BackupService::Allow(const Actor& actor, policy::Operation operation) {
  if (ApprovalService::IsJobActor(actor)) return Status::Ok();
  return accounts_.Authorize(actor, operation);
}

Result<backup::BackupEngine> BackupService::Engine() {
  ASSIGN_OR_RETURN(crypto::WrappedKey key, backup::CurrentBackupKey(store_));
  return backup::BackupEngine(env_, backup::EngineOptionsFromConfig(config_), keyring_,
                              std::move(key));
}

Result<backup::BackupResult> BackupService::Run(const Actor& actor, const BackupRequest& request) {
  RETURN_IF_ERROR(Allow(actor, policy::Operation::kBackupRun));
  ASSIGN_OR_RETURN(backup::BackupEngine engine, Engine());
  Result<backup::BackupResult> result =
      request.full ? engine.RunFull(request.progress) : engine.RunIncremental(request.progress);
  if (!result.ok()) {
    json::object details;
    details["kind"] = request.full ? "full" : "incremental";
    details["error"] = std::string(ErrorCodeName(result.status().code()));
    details["message"] = result.status().message();
    RecordWithRetry(audit_, actor, audit::op::kBackupRun, audit::result::kFailed, details)
        .IgnoreError();  // the backup failed either way
    return result.status();
  }
  json::object details = ManifestDetails(result->manifest);
  details["manifest_sm3"] = HexEncode(result->manifest_sm3);
  details["seconds"] = result->seconds;
  details["journal_rows_pruned"] = result->journal_rows_pruned;
  // The backup exists and is complete; an audit failure is reported, and
  // the entry's absence is itself visible (no backup.run for this id).
  RETURN_IF_ERROR(RecordWithRetry(audit_, actor, audit::op::kBackupRun, audit::result::kOk, details));
  return result;
}

Result<std::vector<backup::BackupListing>> BackupService::List(const Actor& actor) {
  RETURN_IF_ERROR(Allow(actor, policy::Operation::kBackupRead));
  return backup::ListBackups(config_.DataPath(config_.backup.local_dir));
}

Result<backup::VerifyResult> BackupService::Verify(const Actor& actor, const std::string& id,
                                                   const backup::ProgressFn& progress) {
  RETURN_IF_ERROR(Allow(actor, policy::Operation::kBackupRead));
  if (!backup::IsValidBackupId(id)) return InvalidArgument("not a backup id");
  ASSIGN_OR_RETURN(backup::BackupEngine engine, Engine());
  Result<backup::VerifyResult> result = engine.Verify(id, progress);
  json::object details;
  details["id"] = id;
  if (result.ok()) {
    details["chunks"] = result->chunks_checked;
    details["raw_bytes"] = result->raw_bytes;
    details["manifest_sm3"] = HexEncode(result->manifest_sm3);
  } else {
    details["error"] = std::string(ErrorCodeName(result.status().code()));
    details["message"] = result.status().message();
  }
  RETURN_IF_ERROR(RecordWithRetry(audit_, actor, audit::op::kBackupVerify,
                                  result.ok() ? audit::result::kOk : audit::result::kFailed,
                                  details));
  return result;
}

Result<int64_t> BackupService::PruneJournal(const Actor& actor) {
  RETURN_IF_ERROR(Allow(actor, policy::Operation::kBackupRun));
  ASSIGN_OR_RETURN(backup::BackupEngine engine, Engine());
  return engine.PruneJournal();
}

Result<ApprovalView> BackupService::RequestRestore(const Actor& actor,
                                                   const RestoreRequest& request) {
  if (request.reason.size() > kReasonBytesMax) return TooLarge("reason over 512 bytes");
  if (!request.full_id.empty() && !backup::IsValidBackupId(request.full_id))
    return InvalidArgument("full_id is not a backup id");
  NewApproval approval;
  approval.kind = policy::ApprovalKind::kRestore;
  approval.subject = request.full_id;
  approval.summary = "restore " + (request.full_id.empty() ? std::string("the newest chain")
                                                           : "the chain of " + request.full_id) +
                     (request.at_us ? " to " + FormatRfc3339(*request.at_us) : std::string()) +
                     (request.reason.empty() ? std::string() : ": " + request.reason) +
                     ". On approval it becomes a new data directory, restores/<this approval's "
                     "id> inside the data directory (mode 0700, with a copy of the master key; "
                     "never in a backup location), kept until an operator removes it; a failed "
                     "restore leaves nothing";
  approval.payload = RestorePayload(request);
  return approvals_.Submit(actor, approval);
}

Status BackupService::AuditRestore(AuditService& audit, const Actor& actor,
                                   const backup::RestoreReport& report, const std::string& target) {
  json::object details;
  details["full_id"] = report.full_id;
  details["pieces"] = static_cast<int64_t>(report.chain.size());
  details["last_id"] = report.chain.empty() ? std::string() : report.chain.back();
  details["restored_to"] = report.restored_to_us > 0 ? FormatRfc3339(report.restored_to_us) : "";
  details["journal_rows_applied"] = report.journal_rows_applied;
  details["audit_entries"] = report.audit_entries;
  details["customers"] = report.customers;
  details["shredded"] = report.shredded;
  details["ledger_as_of"] = report.ledger_as_of_us > 0 ? FormatRfc3339(report.ledger_as_of_us) : "";
  details["stale_ledger_accepted"] = report.stale_ledger_accepted;
  details["raw_bytes"] = report.raw_bytes;
  details["seconds"] = report.seconds;
  details["target"] = target;
  return RecordWithRetry(audit, actor, audit::op::kBackupRestore, audit::result::kOk, details);
}

BackupCore BackupService::Core() {
  BackupCore core;
  core.take_backup = [this](const Actor& actor, bool full) -> Result<std::string> {
    ASSIGN_OR_RETURN(backup::BackupResult result, Run(actor, {.full = full, .progress = {}}));
    return result.manifest.id;
  };
  return core;
}

}  // namespace custvault::service
