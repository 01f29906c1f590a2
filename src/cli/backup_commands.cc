#include "cli/backup_commands.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "backup/restore.h"
#include "cli/user_commands.h"
#include "common/encoding.h"
#include "common/env.h"
#include "http/audit_routes.h"
#include "http/backup_routes.h"
#include "service/backup_ops.h"
#include "service/backup_service.h"

namespace custvault::cli {
namespace {

namespace json = boost::json;

// Shows progress on stderr: one line rewritten in place on a terminal,
// otherwise a line per piece and about every 10% of it.
class ProgressPrinter {
 public:
  ProgressPrinter(std::ostream& err, std::string verb)
      : err_(err), verb_(std::move(verb)), tty_(::isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()) {}

  void operator()(const backup::Progress& p) {
    if (p.stage != stage_) {
      if (!stage_.empty()) finished_bytes_ += stage_done_;
      stage_ = p.stage;
      stage_done_ = 0;
      last_decile_ = -1;
    }
    stage_done_ = p.bytes_done;
    const auto now = std::chrono::steady_clock::now();
    const int decile = p.bytes_total > 0 ? static_cast<int>(10 * p.bytes_done / p.bytes_total) : 0;
    if (tty_) {
      if (now - last_print_ < std::chrono::milliseconds(200) && p.bytes_done < p.bytes_total) return;
    } else if (decile == last_decile_) {
      return;
    }
    last_decile_ = decile;
    last_print_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double mib = static_cast<double>(finished_bytes_ + stage_done_) / (1 << 20);
    std::ostringstream line;
    line << std::fixed << std::setprecision(1) << verb_ << " " << p.stage << " "
         << static_cast<double>(p.bytes_done) / (1 << 20) << " MiB";
    if (p.bytes_total > 0) line << " of " << static_cast<double>(p.bytes_total) / (1 << 20) << " MiB";
    line << "  pieces " << p.pieces_done << "/" << p.pieces_total << "  "
         << (seconds > 0 ? mib / seconds : 0.0) << " MiB/s";
    if (tty_) {
      err_ << "\r" << line.str() << "\x1b[K" << std::flush;
    } else {
      err_ << line.str() << "\n";
    }
  }
  void Done() {  // prints the summary once
    if (done_) return;
    done_ = true;
    if (tty_ && !stage_.empty()) err_ << "\n";
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double mib = static_cast<double>(finished_bytes_ + stage_done_) / (1 << 20);
    err_ << std::fixed << std::setprecision(1) << verb_ << " done: " << mib << " MiB in "
         << seconds << " s (" << (seconds > 0 ? mib / seconds : 0.0) << " MiB/s)\n";
  }

 private:
  std::ostream& err_;
  bool done_ = false;
  std::string verb_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_{};
  std::string stage_;
  int64_t stage_done_ = 0;
  int64_t finished_bytes_ = 0;
  int last_decile_ = -1;
};

std::string LocalOperatorId() {
  const char* user = std::getenv("USER");
  return std::string("cli:") + (user != nullptr && *user != '\0' ? user : "unknown");
}

}  // namespace

struct BackupCommands::Options {
  std::string data_dir = "./var";
  CLI::App* full = nullptr;
  CLI::App* incremental = nullptr;
  CLI::App* list = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* prune = nullptr;
  CLI::App* restore = nullptr;
  std::string id;
  // restore
  std::string from, to, at, full_id, master_key, source_data_dir;
  std::vector<std::string> shred_ledgers;
  bool accept_stale_ledger = false;
  int threads = 2;
};

BackupCommands::BackupCommands(BackupRunner runner, std::ostream& out, std::ostream& err)
    : runner_(std::move(runner)), out_(out), err_(err), options_(std::make_unique<Options>()) {}

BackupCommands::~BackupCommands() = default;

std::unique_ptr<BackupCommands> AddBackupCommands(CLI::App& app, BackupRunner runner,
                                                  std::ostream& out, std::ostream& err) {
  auto commands = std::unique_ptr<BackupCommands>(new BackupCommands(std::move(runner), out, err));
  BackupCommands::Options& o = *commands->options_;
  CLI::App* backup = nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App* s) { return s->get_name() == "backup"; })) {
    backup = sub;
  }
  if (backup == nullptr) {
    backup = app.add_subcommand(
        "backup", "Backups: full, incremental, list, verify, prune; restore tests, off-site copy, "
                  "shipping");
    backup->require_subcommand(1);
  }
  auto add_data_dir = [&o](CLI::App* command) {
    command->add_option("--data-dir,-d", o.data_dir, "Data directory (config, keys, database)")
        ->capture_default_str();
  };
  o.full = backup->add_subcommand(
      "full", "Take a full backup now (a consistent snapshot while the server runs), compressed "
              "and encrypted, into [backup] local_dir");
  o.incremental = backup->add_subcommand(
      "incremental", "Take an incremental backup: the changes since the previous backup");
  o.list = backup->add_subcommand("list", "Every backup of [backup] local_dir, as JSON lines");
  o.verify = backup->add_subcommand(
      "verify", "Check every chunk of one backup (MAC, SM3, tag); exit 1 when damaged");
  o.verify->add_option("id", o.id, "Backup id, e.g. 20261129T030000Z-full-1a2b3c4d")->required();
  o.prune = backup->add_subcommand(
      "prune", "Delete change-journal rows every backup (and the shipping) has passed");
  for (CLI::App* command : {o.full, o.incremental, o.list, o.verify, o.prune}) add_data_dir(command);

  o.restore = app.add_subcommand(
      "restore",
      "Restore a full backup and its incrementals (to a moment, or the newest point) into a NEW "
      "data directory: every hash checked first, deleted customers stay deleted (refused when no "
      "shred ledger is known to be as new as the newest backup). (Shipped changes too: custvault "
      "backup restore-shipped.)");
  o.restore->add_option("--from", o.from, "Backup location (e.g. var/backups)")->required();
  o.restore->add_option("--to", o.to, "The new data directory (absent or empty)")->required();
  o.restore->add_option("--at", o.at, "Restore to this moment (RFC 3339, e.g. 2026-11-29T10:00:00Z)");
  o.restore->add_option("--backup", o.full_id, "Restore this full backup's chain");
  o.restore->add_option("--master-key", o.master_key,
                        "The master key file (never inside a backup; default: the source data "
                        "directory's)");
  o.restore->add_option("--source-data-dir", o.source_data_dir,
                        "The original data directory, if readable: its shred ledger is honoured");
  o.restore->add_option("--shred-ledger", o.shred_ledgers,
                        "More shred-ledger files to honour (repeatable)");
  o.restore->add_flag("--accept-stale-ledger", o.accept_stale_ledger,
                      "Restore even when no shred ledger is known to be as new as the newest "
                      "backup (customers deleted since may come back; reported and audited)");
  o.restore->add_option("--threads", o.threads, "Decryption threads (1..16)")->capture_default_str();
  return commands;
}

std::optional<int> BackupCommands::RunIfParsed() {
  const Options& o = *options_;
  if (o.full->parsed()) return Take(true);
  if (o.incremental->parsed()) return Take(false);
  if (o.list->parsed()) return List();
  if (o.verify->parsed()) return Verify();
  if (o.prune->parsed()) return Prune();
  if (o.restore->parsed()) return Restore();
  return std::nullopt;
}

int BackupCommands::Fail(const Status& status, int code) {
  err_ << "custvault: " << status.ToString() << "\n";
  return code;
}

int BackupCommands::Take(bool full) {
  ProgressPrinter progress(err_, full ? "backup full" : "backup incremental");
  std::optional<backup::BackupResult> result;
  json::value offsite = nullptr;
  Status offsite_failed;
  const Status status = runner_(options_->data_dir, [&](service::Vault& vault,
                                                        const service::Actor& actor) -> Status {
    ASSIGN_OR_RETURN(result, vault.backups().Run(
                                 actor, {.full = full, .progress = [&](const backup::Progress& p) {
                                           progress(p);
                                         }}));
    // R-BAK-1: a backup taken by hand goes off-site at once, as the timed
    // ones do; the backup stands even when the copy fails.
    if (!vault.backup_ops().offsite_dir().empty()) {
      progress.Done();
      err_ << "copying " << result->manifest.id << " off-site\n";
    }
    offsite = vault.backup_ops().CopyTakenBackupOffsite(actor, result->manifest.id,
                                                        &offsite_failed);
    return Status::Ok();
  });
  if (!status.ok()) return Fail(status, 1);
  progress.Done();
  json::object out = http::BackupManifestJson(result->manifest);
  out["path"] = result->path;
  out["manifest_sm3"] = HexEncode(result->manifest_sm3);
  out["seconds"] = result->seconds;
  out["journal_rows_pruned"] = result->journal_rows_pruned;
  out["offsite"] = offsite;
  out_ << json::serialize(out) << "\n";
  if (!offsite_failed.ok()) {
    return Fail(Status(offsite_failed.code(),
                       "backup " + result->manifest.id + " taken, but not copied off-site: " +
                           offsite_failed.message()),
                3);
  }
  return 0;
}

int BackupCommands::List() {
  const Status status = runner_(options_->data_dir, [&](service::Vault& vault,
                                                        const service::Actor& actor) -> Status {
    ASSIGN_OR_RETURN(std::vector<backup::BackupListing> listings, vault.backups().List(actor));
    for (const backup::BackupListing& listing : listings) {
      out_ << json::serialize(http::BackupListingJson(listing)) << "\n";
    }
    return Status::Ok();
  });
  return status.ok() ? 0 : Fail(status, 1);
}

int BackupCommands::Verify() {
  ProgressPrinter progress(err_, "verify");
  std::optional<backup::VerifyResult> result;
  Status damaged;
  const Status status = runner_(options_->data_dir, [&](service::Vault& vault,
                                                        const service::Actor& actor) -> Status {
    Result<backup::VerifyResult> verified = vault.backups().Verify(
        actor, options_->id, [&](const backup::Progress& p) { progress(p); });
    if (!verified.ok()) {
      if (verified.status().code() != ErrorCode::kDataLoss) return verified.status();
      damaged = verified.status();
      return Status::Ok();
    }
    result = std::move(verified).value();
    return Status::Ok();
  });
  if (!status.ok()) return Fail(status, 2);
  if (!damaged.ok()) {
    out_ << json::serialize(json::object{
                {"id", options_->id}, {"intact", false}, {"problem", damaged.message()}})
         << "\n";
    return 1;
  }
  progress.Done();
  out_ << json::serialize(json::object{{"id", options_->id},
                                       {"intact", true},
                                       {"chunks", result->chunks_checked},
                                       {"raw_bytes", result->raw_bytes},
                                       {"records", result->records},
                                       {"manifest_sm3", HexEncode(result->manifest_sm3)}})
       << "\n";
  return 0;
}

int BackupCommands::Prune() {
  int64_t pruned = 0;
  const Status status = runner_(options_->data_dir, [&](service::Vault& vault,
                                                        const service::Actor& actor) -> Status {
    ASSIGN_OR_RETURN(pruned, vault.backups().PruneJournal(actor));
    return Status::Ok();
  });
  if (!status.ok()) return Fail(status, 1);
  out_ << json::serialize(json::object{{"journal_rows_pruned", pruned}}) << "\n";
  return 0;
}

int BackupCommands::Restore() {
  const Options& o = *options_;
  backup::RestoreOptions options;
  options.from = o.from;
  options.to = o.to;
  options.full_id = o.full_id;
  options.shred_ledgers = o.shred_ledgers;
  options.source_data_dir = o.source_data_dir;
  options.accept_stale_ledger = o.accept_stale_ledger;
  options.threads = o.threads;
  options.master_key_path = o.master_key;
  if (options.master_key_path.empty() && !o.source_data_dir.empty()) {
    options.master_key_path = o.source_data_dir + "/master.key";
  }
  if (!o.at.empty()) {
    options.at_us = ParseRfc3339(o.at);
    if (!options.at_us) return Fail(InvalidArgument("--at must be an RFC 3339 date-time"));
  }
  ProgressPrinter progress(err_, "restore");
  options.progress = [&](const backup::Progress& p) { progress(p); };
  Result<backup::RestoreReport> report = backup::Restore(Env::Default(), options);
  if (!report.ok()) return Fail(report.status(), 1);
  progress.Done();
  // Audited in the restored vault's own log (opening it also proves that
  // `custvault serve --data-dir` will).
  {
    Result<std::unique_ptr<service::Vault>> restored =
        service::Vault::Open(Env::Default(), o.to, ProcessEnvironment());
    if (!restored.ok()) {
      return Fail(Status(restored.status().code(),
                         "restored, but the new data directory does not open: " +
                             restored.status().message()),
                  1);
    }
    service::Actor actor;
    actor.kind = service::ActorKind::kLocalOperator;
    actor.id = LocalOperatorId();
    actor.ip = kCliIp;
    Status audited = service::BackupService::AuditRestore((*restored)->audit(), actor, *report, o.to);
    if (!audited.ok()) return Fail(audited, 1);
  }
  json::array chain;
  for (const std::string& id : report->chain) chain.push_back(json::value(id));
  out_ << json::serialize(json::object{
              {"data_dir", o.to},
              {"chain", std::move(chain)},
              {"restored_to", report->restored_to_us > 0 ? FormatRfc3339(report->restored_to_us)
                                                         : std::string()},
              {"customers", report->customers},
              {"journal_rows_applied", report->journal_rows_applied},
              {"journal_rows_after_point", report->journal_rows_after_point},
              {"audit_entries", report->audit_entries},
              {"shred_entries", report->shred_entries},
              {"shredded", report->shredded},
              {"ledger_as_of", report->ledger_as_of_us > 0 ? FormatRfc3339(report->ledger_as_of_us)
                                                           : std::string()},
              {"stale_ledger_accepted", report->stale_ledger_accepted},
              {"raw_bytes", report->raw_bytes},
              {"seconds", report->seconds}})
       << "\n";
  return 0;
}

}  // namespace custvault::cli
