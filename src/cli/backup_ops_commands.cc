// Owned by the shipping/operations work (issue 6).
#include "cli/backup_ops_commands.h"

#include <boost/json.hpp>
#include <iostream>

#include "backup/restore_test_log.h"
#include "backup/shipped_restore.h"
#include "http/audit_routes.h"
#include "service/backup_ops.h"
#include "service/backup_service.h"
#include "cli/user_commands.h"

namespace custvault::cli {
namespace json = boost::json;
namespace {

// The local operator as `custvault restore` names it.
std::string LocalOperatorId() {
  const char* user = std::getenv("USER");
  return std::string("cli:") + (user != nullptr && *user != '\0' ? user : "unknown");
}

}  // namespace

struct BackupOpsCommands::Options {
  std::string data_dir = "./var";
  std::string backup_id;
  int limit = 20;
  int samples = backup::kRestoreTestSamplesDefault;
  bool keep_scratch = false;
  CLI::App* restore_test = nullptr;
  CLI::App* restore_tests = nullptr;
  CLI::App* offsite_copy = nullptr;
  CLI::App* shipping_status = nullptr;
  CLI::App* restore_shipped = nullptr;
  std::string from, to, master_key, source_data_dir, segments, at;
  std::vector<std::string> shred_ledgers;
  bool no_shipped = false;
  bool accept_stale_ledger = false;
};

BackupOpsCommands::BackupOpsCommands(BackupOpsRunner runner, std::ostream& out, std::ostream& err)
    : runner_(std::move(runner)), out_(out), err_(err), options_(std::make_unique<Options>()) {}

BackupOpsCommands::~BackupOpsCommands() = default;

std::unique_ptr<BackupOpsCommands> AddBackupOpsCommands(CLI::App& app, BackupOpsRunner runner,
                                                        std::ostream& out, std::ostream& err) {
  auto commands =
      std::unique_ptr<BackupOpsCommands>(new BackupOpsCommands(std::move(runner), out, err));
  BackupOpsCommands::Options& o = *commands->options_;
  CLI::App* backup = nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App* s) { return s->get_name() == "backup"; })) {
    backup = sub;
  }
  if (backup == nullptr) {
    backup = app.add_subcommand("backup", "Backups: restore tests, off-site copy, shipping");
    backup->require_subcommand(1);
  }
  auto add_data_dir = [&o](CLI::App* command) {
    command->add_option("--data-dir,-d", o.data_dir, "Data directory")->capture_default_str();
  };
  o.restore_test = backup->add_subcommand(
      "restore-test",
      "Restore the newest backup chain (with shipped changes) into a scratch directory, check "
      "it (integrity, audit chain, counts, decrypt samples), record the result; exit 1 on a fail");
  add_data_dir(o.restore_test);
  o.restore_test->add_option("--backup", o.backup_id,
                             "Test the chain ending at this backup id (default: the newest)");
  o.restore_test->add_option("--samples", o.samples, "Customers to decrypt in full (0..10000)")
      ->capture_default_str();
  o.restore_test->add_flag("--keep-scratch", o.keep_scratch,
                           "Leave the scratch directory for inspection (it holds customer data: "
                           "remove it afterwards)");
  o.restore_tests = backup->add_subcommand(
      "restore-tests", "The recorded restore tests, newest first (JSON lines), and whether one "
                       "is overdue (none passed within 92 days)");
  add_data_dir(o.restore_tests);
  o.restore_tests->add_option("--limit", o.limit, "Most records to show (1..160)")
      ->capture_default_str();
  o.offsite_copy = backup->add_subcommand(
      "offsite-copy",
      "Copy finished backups to backup.offsite_dir (each file fsynced and checked against its "
      "manifest before it gets its name), then apply retention in both locations");
  add_data_dir(o.offsite_copy);
  o.offsite_copy->add_option("--backup", o.backup_id, "Copy only this backup (default: all missing)");
  o.shipping_status = backup->add_subcommand(
      "shipping-status", "What continuous shipping has put off-site: last seq, segments, lag");
  add_data_dir(o.shipping_status);
  o.restore_shipped = backup->add_subcommand(
      "restore-shipped",
      "Restore a full backup, its incrementals AND the shipped changes after them into a NEW "
      "data directory (every hash checked; deleted customers shredded again)");
  o.restore_shipped->add_option("--from", o.from, "Backup location (e.g. backup.offsite_dir)")
      ->required();
  o.restore_shipped->add_option("--to", o.to, "The new data directory (absent or empty)")
      ->required();
  o.restore_shipped->add_option("--master-key", o.master_key,
                                "The master key file (never inside a backup; default: "
                                "<source-data-dir>/master.key)");
  o.restore_shipped->add_option("--segments", o.segments,
                                "Shipped segments (default: <from>/.shipped)");
  o.restore_shipped->add_flag("--no-shipped", o.no_shipped, "Restore the chain alone");
  o.restore_shipped->add_option("--at", o.at, "Restore to this moment (RFC 3339)");
  o.restore_shipped->add_option("--full", o.backup_id, "Restore this full backup's chain");
  o.restore_shipped->add_option("--source-data-dir", o.source_data_dir,
                                "The lost vault's data directory, if readable: its shred ledger "
                                "is honoured");
  o.restore_shipped->add_option("--shred-ledger", o.shred_ledgers,
                                "More shred-ledger files to honour (repeatable)");
  o.restore_shipped->add_flag("--accept-stale-ledger", o.accept_stale_ledger,
                              "Restore even when no shred ledger is known to be as new as the "
                              "newest backup (customers deleted since may come back; reported "
                              "and audited)");
  return commands;
}

std::optional<int> BackupOpsCommands::RunIfParsed() {
  if (options_->restore_test->parsed()) return RestoreTest();
  if (options_->restore_tests->parsed()) return RestoreTests();
  if (options_->offsite_copy->parsed()) return OffsiteCopy();
  if (options_->shipping_status->parsed()) return ShippingStatus();
  if (options_->restore_shipped->parsed()) return RestoreShipped();
  return std::nullopt;
}

int BackupOpsCommands::Fail(const Status& status) {
  err_ << "custvault: " << status.ToString() << "\n";
  return 2;
}

int BackupOpsCommands::RestoreTest() {
  std::optional<backup::RestoreTestRecord> record;
  const Status status = runner_(options_->data_dir, [&](service::Vault& vault,
                                                        const service::Actor& actor) {
    service::RestoreTestRequest request;
    request.backup_id = options_->backup_id;
    request.samples = options_->samples;
    request.keep_scratch = options_->keep_scratch;
    request.trigger = "cli";
    request.progress = [this](std::string_view step) { err_ << step << "\n" << std::flush; };
    ASSIGN_OR_RETURN(record, vault.backup_ops().RestoreTest(actor, request));
    return Status::Ok();
  });
  if (!status.ok()) return Fail(status);
  out_ << json::serialize(backup::RestoreTestRecordJson(*record)) << "\n";
  if (record->passed) {
    err_ << "restore test PASSED: " << record->customers_found << " customers, "
         << record->audit_entries << " audit entries, " << record->samples_tried
         << " samples decrypted, " << record->segments_applied << " shipped segments, "
         << record->duration_ms << " ms\n";
    return 0;
  }
  err_ << "restore test FAILED: " << record->failure << "\n";
  return 1;
}

int BackupOpsCommands::RestoreTests() {
  const Status status = runner_(options_->data_dir, [&](service::Vault& vault,
                                                        const service::Actor& actor) {
    ASSIGN_OR_RETURN(service::RestoreTestListing listing,
                     vault.backup_ops().RestoreTests(actor, options_->limit));
    for (const backup::RestoreTestRecord& record : listing.records) {
      out_ << json::serialize(backup::RestoreTestRecordJson(record)) << "\n";
    }
    const backup::RestoreTestStatus& current = listing.status;
    if (current.overdue) {
      err_ << "REMINDER: restore test overdue: "
           << (current.last_passed ? "last pass " + std::to_string(current.days_since_last_pass) +
                                         " days ago"
                                   : std::string("none has ever passed"))
           << " (due every " << backup::kRestoreTestOverdueDays
           << " days; run: custvault backup restore-test)\n";
    } else {
      err_ << "last restore test pass " << current.days_since_last_pass << " days ago\n";
    }
    return Status::Ok();
  });
  return status.ok() ? 0 : Fail(status);
}

int BackupOpsCommands::OffsiteCopy() {
  const Status status = runner_(options_->data_dir, [&](service::Vault& vault,
                                                        const service::Actor& actor) {
    ASSIGN_OR_RETURN(backup::OffsiteReport report,
                     vault.backup_ops().CopyOffsite(actor, options_->backup_id,
                                                    [this](std::string_view step) {
                                                      err_ << step << "\n" << std::flush;
                                                    }));
    out_ << json::serialize(service::OffsiteReportJson(report)) << "\n";
    if (!report.ok()) return Unavailable("a backup was not copied off-site (see above)");
    return Status::Ok();
  });
  return status.ok() ? 0 : Fail(status);
}

int BackupOpsCommands::ShippingStatus() {
  const Status status = runner_(options_->data_dir, [&](service::Vault& vault,
                                                        const service::Actor& actor) {
    ASSIGN_OR_RETURN(service::ShippingView view, vault.backup_ops().Shipping(actor));
    out_ << json::serialize(service::ShippingViewJson(view)) << "\n";
    return Status::Ok();
  });
  return status.ok() ? 0 : Fail(status);
}

int BackupOpsCommands::RestoreShipped() {
  const Options& o = *options_;
  backup::RestoreOptions options;
  options.from = o.from;
  options.to = o.to;
  options.full_id = o.backup_id;
  options.master_key_path = o.master_key;
  options.source_data_dir = o.source_data_dir;
  if (options.master_key_path.empty() && !o.source_data_dir.empty()) {
    options.master_key_path = o.source_data_dir + "/master.key";
  }
  options.shred_ledgers = o.shred_ledgers;
  options.accept_stale_ledger = o.accept_stale_ledger;
  if (!o.at.empty()) {
    options.at_us = ParseRfc3339(o.at);
    if (!options.at_us) return Fail(InvalidArgument("--at must be an RFC 3339 date-time"));
  }
  options.progress = [this](const backup::Progress& progress) {
    if (progress.bytes_total > 0 && progress.bytes_done < progress.bytes_total) return;
    err_ << "restored " << progress.stage << " (" << progress.bytes_done << " bytes)\n"
         << std::flush;
  };
  std::string segments = o.segments;
  if (segments.empty()) segments = o.from + "/" + backup::kShippedDirName;
  Result<backup::ShippedRestoreReport> report =
      backup::RestoreWithShipped(Env::Default(), options, o.no_shipped ? "" : segments);
  if (!report.ok()) return Fail(report.status());
  // Audited in the restored vault's own log, as `custvault restore` is
  // (opening it also proves that `custvault serve --data-dir` will).
  {
    Result<std::unique_ptr<service::Vault>> restored =
        service::Vault::Open(Env::Default(), o.to, ProcessEnvironment());
    if (!restored.ok()) {
      return Fail(Status(restored.status().code(),
                         "restored, but the new data directory does not open: " +
                             restored.status().message()));
    }
    service::Actor actor;
    actor.kind = service::ActorKind::kLocalOperator;
    actor.id = LocalOperatorId();
    actor.ip = kCliIp;
    backup::RestoreReport figures = report->chain;
    figures.journal_rows_applied += report->journal_rows_applied;
    figures.journal_rows_after_point += report->journal_rows_after_point;
    figures.restored_to_us = report->restored_to_us;
    figures.customers = report->customers;
    figures.audit_entries = report->audit_entries;
    figures.shredded += report->shredded;
    Status audited =
        service::BackupService::AuditRestore((*restored)->audit(), actor, figures, o.to);
    if (!audited.ok()) return Fail(audited);
  }
  json::object out;
  json::array chain, applied;
  for (const std::string& id : report->chain.chain) chain.push_back(json::string(id));
  for (const std::string& id : report->segments) applied.push_back(json::string(id));
  out["to"] = o.to;
  out["chain"] = std::move(chain);
  out["segments"] = std::move(applied);
  out["journal_rows_applied"] = report->chain.journal_rows_applied + report->journal_rows_applied;
  out["audit_entries"] = report->audit_entries;
  out["customers"] = report->customers;
  out["shredded"] = report->chain.shredded + report->shredded;
  out["shred_entries"] = report->chain.shred_entries;
  out["stale_ledger_accepted"] = report->chain.stale_ledger_accepted;
  out["restored_to"] = report->restored_to_us > 0 ? json::value(FormatRfc3339(report->restored_to_us))
                                                  : json::value(nullptr);
  out["restored_to_us"] = report->restored_to_us;
  out["shipped_changes_stopped"] = report->stopped;
  out["seconds"] = report->seconds;
  out_ << json::serialize(out) << "\n";
  if (!report->stopped.empty()) err_ << "note: " << report->stopped << "\n";
  err_ << "restored into " << o.to << ": " << report->customers << " customers, up to "
       << (report->restored_to_us > 0 ? FormatRfc3339(report->restored_to_us) : std::string("-"))
       << "; start it with: custvault serve --data-dir " << o.to << "\n";
  return 0;
}

}  // namespace custvault::cli
