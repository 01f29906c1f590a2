// Owned by the shipping/operations work (issue 6).
#include "service/backup_ops.h"

#include "audit/entry.h"
#include "common/log.h"
#include "policy/policy.h"
#include "service/approval_service.h"
#include "store/shred_ledger.h"
#include "backup/archive_locations.h"
#include "backup/backup_engine.h"
#include "backup/segment_archive.h"
#include "backup/shipped_restore.h"
#include "store/sqlite/sqlite_backup.h"

namespace custvault::service {
namespace {

namespace json = boost::json;

Status CoreMissing(std::string_view what) {
  return Unavailable(std::string(what) +
                     " is not available: the backup core has not been wired into this vault");
}

json::array Strings(const std::vector<std::string>& items) {
  json::array out;
  for (const std::string& item : items) out.push_back(json::string(item));
  return out;
}

json::value Time(int64_t us) { return us > 0 ? json::value(FormatRfc3339(us)) : json::value(nullptr); }

}  // namespace

json::object OffsiteReportJson(const backup::OffsiteReport& report) {
  json::array copied;
  for (const backup::OffsiteCopyResult& result : report.copied) {
    copied.push_back(json::object{{"id", result.id},
                                  {"bytes", result.bytes},
                                  {"duration_ms", result.duration_ms},
                                  {"ok", result.error.empty()},
                                  {"error", result.error}});
  }
  return json::object{{"ok", report.ok()},
                      {"copied", std::move(copied)},
                      {"already_offsite", Strings(report.already_offsite)},
                      {"removed_local", Strings(report.removed_local)},
                      {"removed_offsite", Strings(report.removed_offsite)},
                      {"removed_segments", static_cast<int64_t>(report.removed_segments.size())}};
}

json::object ShippingViewJson(const ShippingView& view) {
  json::object out;
  out["configured"] = view.configured;
  out["running_here"] = view.running_here;
  out["segments_offsite"] = view.segments_offsite;
  out["shipped_journal_seq"] = view.shipped_journal_seq;
  out["shipped_audit_seq"] = view.shipped_audit_seq;
  out["last_segment_at"] = Time(view.last_segment_at_us);
  if (view.running_here) {
    const backup::ShipperStatus& s = view.shipper;
    out["shipper"] = json::object{
        {"running", s.running},
        {"journal_seq", s.journal_seq},
        {"audit_seq", s.audit_seq},
        {"segments_written", s.segments_written},
        {"rows_shipped", s.rows_shipped},
        {"last_shipped_at", Time(s.last_shipped_at_us)},
        {"ledger_entries_shipped", s.ledger_entries_shipped},
        {"gaps", s.gaps},
        {"last_error", s.last_error},
        {"lag_ms", json::object{{"samples", s.lag_samples},
                                {"p50", s.lag_p50_ms},
                                {"p99", s.lag_p99_ms},
                                {"max", s.lag_max_ms}}}};
  } else {
    out["shipper"] = nullptr;
  }
  return out;
}

BackupOperations::BackupOperations(Env* env, const Config& config,
                                   const catalog::Catalog& catalog,
                                   const crypto::Keyring& keyring, store::Store& store,
                                   AccountService& accounts, AuditService& audit)
    : env_(env),
      config_(config),
      catalog_(catalog),
      keyring_(keyring),
      store_(store),
      accounts_(accounts),
      audit_(audit),
      restore_test_log_(env, backup::RestoreTestDirectories(config)) {}

BackupOperations::~BackupOperations() { StopShipping(); }

void BackupOperations::SetCore(BackupCore core) {
  std::lock_guard lock(core_mutex_);
  core_ = std::move(core);
}

Result<backup::BackupLocationFormat*> BackupOperations::Locations() {
  std::lock_guard lock(core_mutex_);
  if (!locations_) {
    ASSIGN_OR_RETURN(crypto::WrappedKey backup_key, backup::CurrentBackupKey(store_));
    locations_ = std::make_unique<backup::ArchiveLocationFormat>(env_, config_, keyring_,
                                                                 std::move(backup_key));
  }
  return locations_.get();
}

Result<backup::SegmentFormat*> BackupOperations::Segments() {
  std::lock_guard lock(core_mutex_);
  if (!segments_) {
    ASSIGN_OR_RETURN(crypto::WrappedKey backup_key, backup::CurrentBackupKey(store_));
    ASSIGN_OR_RETURN(const int schema_version, store_.SchemaVersion());
    backup::SegmentArchiveOptions options;
    options.crypto_profile = config_.crypto.profile;
    options.schema_version = schema_version;
    options.piece.zstd_level = config_.backup.zstd_level;
    segments_ = std::make_unique<backup::ArchiveSegmentFormat>(env_, keyring_,
                                                               std::move(backup_key), options);
  }
  return segments_.get();
}

std::string BackupOperations::local_dir() const {
  return config_.DataPath(config_.backup.local_dir);
}

std::string BackupOperations::offsite_dir() const {
  return config_.backup.offsite_dir.empty() ? std::string()
                                            : config_.DataPath(config_.backup.offsite_dir);
}

// ---------------------------------------------------------------- restore tests

Result<backup::RestoreTestRecord> BackupOperations::RestoreTest(const Actor& actor,
                                                                const RestoreTestRequest& request) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kBackupRun));
  return RestoreTestAs(actor, request);
}

Result<backup::RestoreTestRecord> BackupOperations::RestoreTestAs(
    const Actor& actor, const RestoreTestRequest& request) {
  // Only a backup id reaches the record, never a caller's free text (issue 10.13).
  if (!request.backup_id.empty() && !backup::IsValidBackupId(request.backup_id)) {
    return Status(ErrorCode::kValidationFailed, "backup_id is not a backup id",
                  {{"backup_id", "format"}});
  }
  ASSIGN_OR_RETURN(backup::BackupLocationFormat * locations, Locations());
  std::lock_guard run(run_mutex_);
  // The off-site copy is what a lost machine is restored from, so that is
  // what is tested when there is one holding backups; else the local one.
  std::string location = local_dir();
  const std::string offsite = offsite_dir();
  if (!offsite.empty()) {
    Result<std::vector<backup::LocatedBackup>> listed = locations->List(offsite);
    if (listed.ok() && !listed->empty()) location = offsite;
  }
  const std::string segments_dir =
      request.with_shipped && !offsite.empty() ? offsite + "/" + backup::kShippedDirName : "";
  if (request.progress) {
    request.progress("restore test: restoring " +
                     (request.backup_id.empty() ? std::string("the newest chain")
                                                : "the chain of " + request.backup_id) +
                     " from " + location + (segments_dir.empty() ? "" : " with shipped changes"));
  }
  RETURN_IF_ERROR(env_->CreateDirectories(local_dir(), 0700));
  backup::RestoreTester tester(env_, catalog_, config_.DataPath(config_.crypto.master_key_file),
                               keyring_.profile(), restore_test_log_, &audit_.log());
  backup::RestoreTestOptions options;
  // In the data directory, not the backup location: the scratch restore
  // holds a copy of the master key until it is removed (issue 11.5).
  options.scratch_parent = config_.data_dir;
  options.samples = request.samples;
  options.trigger = request.trigger;
  options.actor_id = actor.id;
  options.actor_role = actor.kind == ActorKind::kStaff ? std::string(RoleName(actor.role)) : "";
  options.source_ip = actor.ip.empty() ? "local" : actor.ip;
  options.shred_ledger_path = config_.DataPath(store::kShredLedgerFileName);
  options.keep_scratch = request.keep_scratch;
  // The record names the location, never its server path (issue 10.13).
  options.location = location == local_dir() ? "local" : "offsite";
  const std::string master_key = config_.DataPath(config_.crypto.master_key_file);
  const std::string data_dir = config_.data_dir;
  const std::string full_id = request.backup_id;
  auto progress = request.progress;
  return tester.Run(
      [&](const std::string& scratch) -> Result<backup::RestoredData> {
        backup::RestoreOptions restore;
        restore.from = location;
        restore.to = scratch + "/data";
        restore.full_id = full_id;
        restore.master_key_path = master_key;
        restore.source_data_dir = data_dir;
        ASSIGN_OR_RETURN(backup::ShippedRestoreReport report,
                         backup::RestoreWithShipped(env_, restore, segments_dir));
        if (progress) {
          progress("restored " + std::to_string(report.chain.chain.size()) + " backups and " +
                   std::to_string(report.segments.size()) + " shipped segments (" +
                   std::to_string(report.chain.raw_bytes) + " bytes); checking");
        }
        backup::RestoredData data;
        data.custvault_db_path = report.chain.custvault_db_path;
        data.audit_db_path = report.chain.audit_db_path;
        // The core renamed its result onto the target we chose.
        data.custvault_db_path = restore.to + data.custvault_db_path.substr(
                                                  data.custvault_db_path.rfind('/'));
        data.audit_db_path =
            restore.to + data.audit_db_path.substr(data.audit_db_path.rfind('/'));
        data.chain = report.chain.chain;
        data.backup_id = report.chain.chain.empty() ? "" : report.chain.chain.back();
        data.segments_applied = static_cast<int64_t>(report.segments.size());
        data.restored_bytes = report.chain.raw_bytes;
        // The manifests state the customers of a full backup; with nothing
        // after it, the restored count must be that less what was shredded.
        if (report.chain.chain.size() == 1 && report.segments.empty() &&
            report.chain.customers_in_full >= 0) {
          data.customers_expected =
              report.chain.customers_in_full - report.chain.shredded - report.shredded;
        }
        // Audit entries: every manifest of the chain counts its own, and
        // the segments add theirs.
        int64_t audit_expected = 0;
        for (const std::string& id : report.chain.chain) {
          ASSIGN_OR_RETURN(backup::Manifest manifest, backup::ReadManifest(location, id));
          audit_expected += manifest.audit_entries;
        }
        data.audit_entries_expected =
            audit_expected + report.audit_entries_applied - report.chain.audit_entries_cut;
        return data;
      },
      options);
}

Result<RestoreTestListing> BackupOperations::RestoreTests(const Actor& actor, int limit) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kBackupRead));
  RestoreTestListing listing;
  ASSIGN_OR_RETURN(listing.records, restore_test_log_.List(limit));
  ASSIGN_OR_RETURN(listing.status, restore_test_log_.CurrentStatus(env_->NowMicros()));
  return listing;
}

// ---------------------------------------------------------------- off-site

Result<backup::OffsiteReport> BackupOperations::CopyOffsite(
    const Actor& actor, const std::string& backup_id,
    std::function<void(std::string_view)> progress) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kBackupRun));
  return CopyOffsiteAs(actor, backup_id, std::move(progress));
}

json::value BackupOperations::CopyTakenBackupOffsite(const Actor& actor,
                                                    const std::string& backup_id,
                                                    Status* failed) {
  if (offsite_dir().empty()) return nullptr;
  Result<backup::OffsiteReport> copied = CopyOffsite(actor, backup_id);
  if (!copied.ok()) {
    *failed = copied.status();
    return json::object{{"ok", false},
                        {"error", std::string(ErrorCodeName(copied.status().code()))}};
  }
  if (!copied->ok()) *failed = Unavailable("the off-site copy failed (see backup.ship)");
  return OffsiteReportJson(*copied);
}

Result<backup::OffsiteReport> BackupOperations::CopyOffsiteAs(
    const Actor& actor, const std::string& backup_id,
    std::function<void(std::string_view)> progress) {
  ASSIGN_OR_RETURN(backup::BackupLocationFormat * locations, Locations());
  const std::string offsite = offsite_dir();
  std::lock_guard run(run_mutex_);
  backup::OffsiteCopier copier(env_, *locations, local_dir(), offsite);
  if (progress) copier.SetProgress(progress);
  backup::OffsiteReport report;
  if (!offsite.empty()) {
    ASSIGN_OR_RETURN(report, copier.CopyMissing(backup_id));
  }
  // Retention, also without an off-site location (the local one alone).
  backup::OffsiteCopier::SegmentLister list_segments;
  backup::OffsiteCopier::SegmentRemover remove_segment;
  if (!offsite.empty()) {
    const std::string shipped = offsite + "/" + backup::kShippedDirName;
    ASSIGN_OR_RETURN(backup::SegmentFormat * segments, Segments());
    list_segments = [segments, shipped]() -> Result<std::vector<backup::RetentionSegment>> {
      std::vector<backup::RetentionSegment> out;
      Result<std::vector<backup::ShippedSegmentInfo>> listed = segments->List(shipped);
      if (!listed.ok()) {
        if (listed.status().code() == ErrorCode::kNotFound) return out;
        return listed.status();
      }
      for (const backup::ShippedSegmentInfo& info : *listed) {
        out.push_back({info.name, info.journal_from_seq, info.journal_to_seq, info.audit_from_seq,
                       info.audit_to_seq});
      }
      return out;
    };
    remove_segment = [segments, shipped](const std::string& name) {
      return segments->Remove(shipped, name);
    };
  }
  const Status retained =
      copier.ApplyRetention(config_.backup.keep_full, &report, list_segments, remove_segment);

  json::object details;
  json::array copied, failed;
  int64_t bytes = 0;
  for (const backup::OffsiteCopyResult& result : report.copied) {
    (result.error.empty() ? copied : failed).push_back(json::string(result.id));
    bytes += result.bytes;
  }
  details["copied"] = std::move(copied);
  details["failed"] = std::move(failed);
  details["bytes"] = bytes;
  details["removed_local"] = static_cast<int64_t>(report.removed_local.size());
  details["removed_offsite"] = static_cast<int64_t>(report.removed_offsite.size());
  details["removed_segments"] = static_cast<int64_t>(report.removed_segments.size());
  if (!retained.ok()) details["retention_error"] = retained.ToString().substr(0, 300);
  const bool ok = report.ok() && retained.ok();
  RETURN_IF_ERROR(audit_
                      .Record(actor, audit::op::kBackupShip, "",
                              ok ? audit::result::kOk : audit::result::kFailed, std::move(details))
                      .status());
  if (!retained.ok()) return retained;
  return report;
}

// ---------------------------------------------------------------- shipping

Status BackupOperations::StartShipping() {
  const std::string offsite = offsite_dir();
  if (!config_.backup.shipping || offsite.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(backup::SegmentFormat * segments, Segments());
  std::lock_guard lock(shipping_mutex_);
  if (shipper_) return Status::Ok();
  const std::string db_path = config_.DataPath(config_.storage.sqlite_file);
  ASSIGN_OR_RETURN(std::unique_ptr<store::sqlite::JournalReader> reader,
                   store::sqlite::JournalReader::Open(db_path));
  change_source_ = backup::MakeChangeSource(std::move(reader), audit_.log().store());
  backup::ShipperOptions options;
  options.offsite_dir = offsite;
  options.shred_ledger_path = config_.DataPath(store::kShredLedgerFileName);
  options.interval_ms = config_.backup.shipping_interval_ms;
  Env* env = env_;
  options.record_position = [env, db_path](int64_t journal_seq) {
    return store::sqlite::PutBackupCursor(db_path, backup::kCursorShipJournalSeq, journal_seq,
                                          env->NowMicros());
  };
  auto shipper = std::make_unique<backup::Shipper>(env_, *change_source_, *segments, options);
  RETURN_IF_ERROR(shipper->Start());
  shipper_ = std::move(shipper);
  spdlog::info("shipping committed changes to {} every {} ms", offsite, options.interval_ms);
  return Status::Ok();
}

void BackupOperations::StopShipping() {
  std::lock_guard lock(shipping_mutex_);
  if (shipper_) shipper_->Stop();
  shipper_.reset();
  change_source_.reset();
}

Result<ShippingView> BackupOperations::Shipping(const Actor& actor) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kBackupRead));
  ShippingView view;
  const std::string offsite = offsite_dir();
  view.configured = config_.backup.shipping && !offsite.empty();
  {
    std::lock_guard lock(shipping_mutex_);
    if (shipper_) {
      view.running_here = true;
      view.shipper = shipper_->CurrentStatus();
    }
  }
  if (!offsite.empty()) {
    ASSIGN_OR_RETURN(backup::SegmentFormat * segments, Segments());
    Result<std::vector<backup::ShippedSegmentInfo>> listed =
        segments->List(offsite + "/" + backup::kShippedDirName);
    if (listed.ok()) {
      view.segments_offsite = static_cast<int64_t>(listed->size());
      for (const backup::ShippedSegmentInfo& info : *listed) {
        view.shipped_journal_seq = std::max(view.shipped_journal_seq, info.journal_to_seq);
        view.shipped_audit_seq = std::max(view.shipped_audit_seq, info.audit_to_seq);
        view.last_segment_at_us = std::max(view.last_segment_at_us, info.created_at_us);
      }
    } else if (listed.status().code() != ErrorCode::kNotFound) {
      return listed.status();
    }
  }
  return view;
}

// ---------------------------------------------------------------- jobs

Status BackupOperations::AuditJob(const std::string& name, const Status& outcome,
                                  json::object details) {
  details["job"] = name;
  if (!outcome.ok()) details["error"] = std::string(ErrorCodeName(outcome.code()));
  return audit_
      .Record(ApprovalService::JobActor(name), audit::op::kJobRun, "",
              outcome.ok() ? audit::result::kOk : audit::result::kFailed, std::move(details))
      .status();
}

Status BackupOperations::RunBackupJob(bool full) {
  const std::string name = full ? kJobBackupFull : kJobBackupIncremental;
  const Actor actor = ApprovalService::JobActor(name);
  BackupCore core;
  {
    std::lock_guard lock(core_mutex_);
    core = core_;
  }
  json::object details;
  Status outcome = [&]() -> Status {
    if (!core.take_backup) return CoreMissing("taking a backup");
    ASSIGN_OR_RETURN(const std::string id, core.take_backup(actor, full));
    details["backup_id"] = id;
    // R-BAK-1: each backup is copied off-site as soon as it is finished.
    ASSIGN_OR_RETURN(backup::OffsiteReport report, CopyOffsiteAs(actor, "", {}));
    details["offsite_copied"] = static_cast<int64_t>(report.copied.size());
    if (!report.ok()) return Unavailable("the off-site copy of a backup failed (see backup.ship)");
    return Status::Ok();
  }();
  RETURN_IF_ERROR(AuditJob(name, outcome, std::move(details)));
  return outcome;
}

Status BackupOperations::RunRestoreTestJob() {
  RestoreTestRequest request;
  request.trigger = "job";
  json::object details;
  Status outcome = [&]() -> Status {
    ASSIGN_OR_RETURN(backup::RestoreTestRecord record,
                     RestoreTestAs(ApprovalService::JobActor(kJobRestoreTest), request));
    details["record_id"] = record.id;
    details["passed"] = record.passed;
    if (!record.passed) return DataLoss("restore test failed: " + record.failure);
    return Status::Ok();
  }();
  RETURN_IF_ERROR(AuditJob(kJobRestoreTest, outcome, std::move(details)));
  return outcome;
}

}  // namespace custvault::service
