#include "cli/audit_commands.h"
#include "common/encoding.h"

#include <boost/json.hpp>
#include <fstream>
#include <iostream>

#include "audit/verify.h"
#include "common/env.h"
#include "http/audit_routes.h"

namespace custvault::cli {
namespace json = boost::json;
namespace {


}  // namespace

struct AuditCommands::Options {
  std::string data_dir = "./var";
  std::string actor, customer_id, operation, ip, from, to, cursor, output;
  int limit = 0;
  bool open_only = false;
  int64_t ack_id = 0;
  CLI::App* verify = nullptr;
  CLI::App* search = nullptr;
  CLI::App* export_csv = nullptr;
  CLI::App* alerts = nullptr;
  CLI::App* checkpoints = nullptr;
};

AuditCommands::AuditCommands(AuditSessionRunner runner, std::ostream& out, std::ostream& err)
    : runner_(std::move(runner)), out_(out), err_(err), options_(std::make_unique<Options>()) {}

AuditCommands::~AuditCommands() = default;

std::unique_ptr<AuditCommands> AddAuditCommands(CLI::App& app, AuditSessionRunner runner,
                                                std::ostream& out, std::ostream& err) {
  auto commands = std::unique_ptr<AuditCommands>(new AuditCommands(std::move(runner), out, err));
  AuditCommands::Options& o = *commands->options_;
  CLI::App* audit = app.add_subcommand(
      "audit", "The tamper-evident audit log: verify, search, export, alerts, checkpoints");
  audit->require_subcommand(1);
  auto add_data_dir = [&o](CLI::App* command) {
    command->add_option("--data-dir,-d", o.data_dir, "Data directory")->capture_default_str();
  };
  auto add_filters = [&o](CLI::App* command) {
    command->add_option("--actor", o.actor, "Account or channel id");
    command->add_option("--customer-id", o.customer_id, "Customer id");
    command->add_option("--operation", o.operation, "e.g. customer.view, auth.login_failed");
    command->add_option("--ip", o.ip, "Source IP");
    command->add_option("--from", o.from, "RFC 3339 date-time, inclusive");
    command->add_option("--to", o.to, "RFC 3339 date-time, exclusive");
    command->add_option("--limit", o.limit, "Most entries to return");
    command->add_option("--cursor", o.cursor, "next_cursor of the previous page");
  };
  o.verify = audit->add_subcommand(
      "verify", "Check the hash chain, checkpoints and head; exit 1 naming the first bad entry");
  add_data_dir(o.verify);
  o.search = audit->add_subcommand("search", "Search entries (JSON lines)");
  add_data_dir(o.search);
  add_filters(o.search);
  o.export_csv = audit->add_subcommand("export", "Export entries as CSV (itself audited)");
  add_data_dir(o.export_csv);
  add_filters(o.export_csv);
  o.export_csv->add_option("--output,-o", o.output, "Write to this file instead of stdout");
  o.alerts = audit->add_subcommand("alerts", "List alerts, or acknowledge one with --ack");
  add_data_dir(o.alerts);
  o.alerts->add_flag("--open", o.open_only, "Only alerts not yet acknowledged");
  o.alerts->add_option("--ack", o.ack_id, "Acknowledge the alert with this id");
  o.alerts->add_option("--limit", o.limit, "Most alerts to list");
  o.alerts->add_option("--cursor", o.cursor, "next_cursor of the previous page");
  o.checkpoints = audit->add_subcommand(
      "checkpoints", "Every signed checkpoint and the head, as JSON lines to keep off the machine");
  add_data_dir(o.checkpoints);
  return commands;
}

std::optional<int> AuditCommands::RunIfParsed() {
  if (options_->verify->parsed()) return Verify();
  if (options_->search->parsed()) return Search();
  if (options_->export_csv->parsed()) return Export();
  if (options_->alerts->parsed()) return Alerts();
  if (options_->checkpoints->parsed()) return Checkpoints();
  return std::nullopt;
}

int AuditCommands::Fail(const Status& status) {
  err_ << "custvault: " << status.ToString() << "\n";
  return 2;
}

Status AuditCommands::FillSearch(service::AuditSearch* search) {
  const Options& o = *options_;
  search->actor_id = o.actor;
  search->customer_id = o.customer_id;
  search->operation = o.operation;
  search->source_ip = o.ip;
  if (!o.from.empty()) {
    search->from_us = ParseRfc3339(o.from);
    if (!search->from_us) return InvalidArgument("--from must be an RFC 3339 date-time");
  }
  if (!o.to.empty()) {
    search->to_us = ParseRfc3339(o.to);
    if (!search->to_us) return InvalidArgument("--to must be an RFC 3339 date-time");
  }
  if (o.limit != 0) search->limit = o.limit;
  if (!o.cursor.empty()) search->cursor = o.cursor;
  return Status::Ok();
}

int AuditCommands::Verify() {
  std::optional<audit::VerifyReport> report;
  const Status status =
      runner_(options_->data_dir, [&](service::AuditService& audit, const service::Actor& actor) {
        ASSIGN_OR_RETURN(report, audit.Verify(actor, [this](int64_t checked) {
          err_ << "verified " << checked << " entries...\n" << std::flush;
        }));
        return Status::Ok();
      });
  if (!status.ok()) return Fail(status);
  if (report->intact()) {
    out_ << "audit chain intact: " << report->entries_checked << " entries (seq "
         << report->first_seq << ".." << report->last_seq << "), " << report->checkpoints_checked
         << " checkpoint MACs, head at seq " << report->head_seq;
    if (report->anchor_seq != 0) out_ << ", starting from purge checkpoint " << report->anchor_seq;
    out_ << "\n";
    return 0;
  }
  out_ << "audit chain BROKEN: first bad entry seq " << report->first_bad_seq << " ("
       << audit::DamageName(report->damage) << "): " << report->detail << "\n";
  return 1;
}

int AuditCommands::Search() {
  service::AuditSearch search;
  if (Status s = FillSearch(&search); !s.ok()) return Fail(s);
  const Status status =
      runner_(options_->data_dir, [&](service::AuditService& audit, const service::Actor& actor) {
        ASSIGN_OR_RETURN(service::AuditEntryPage page, audit.Search(actor, search));
        for (const store::AuditEntryRow& row : page.items) {
          out_ << json::serialize(http::AuditEntryJson(row)) << "\n";
        }
        if (page.next_cursor) err_ << "next_cursor: " << *page.next_cursor << "\n";
        return Status::Ok();
      });
  return status.ok() ? 0 : Fail(status);
}

int AuditCommands::Export() {
  service::AuditSearch search;
  if (Status s = FillSearch(&search); !s.ok()) return Fail(s);
  const Status status =
      runner_(options_->data_dir, [&](service::AuditService& audit, const service::Actor& actor) {
        ASSIGN_OR_RETURN(service::AuditCsvExport exported, audit.ExportCsv(actor, search));
        if (options_->output.empty()) {
          out_ << exported.csv;
        } else {
          std::ofstream file(options_->output, std::ios::binary | std::ios::trunc);
          file << exported.csv;
          if (!file.good()) return Internal("cannot write the export file");
        }
        err_ << exported.rows << " entries exported\n";
        if (exported.next_cursor) err_ << "next_cursor: " << *exported.next_cursor << "\n";
        return Status::Ok();
      });
  return status.ok() ? 0 : Fail(status);
}

int AuditCommands::Alerts() {
  const Options& o = *options_;
  const Status status =
      runner_(o.data_dir, [&](service::AuditService& audit, const service::Actor& actor) {
        if (o.ack_id != 0) {
          RETURN_IF_ERROR(audit.AcknowledgeAlert(actor, o.ack_id));
          out_ << "alert " << o.ack_id << " acknowledged\n";
          return Status::Ok();
        }
        std::optional<std::string> cursor;
        if (!o.cursor.empty()) cursor = o.cursor;
        std::optional<int> limit;
        if (o.limit != 0) limit = o.limit;
        ASSIGN_OR_RETURN(service::AlertPage page, audit.Alerts(actor, o.open_only, cursor, limit));
        for (const store::AlertRow& row : page.items) {
          out_ << json::serialize(http::AlertJson(row)) << "\n";
        }
        if (page.next_cursor) err_ << "next_cursor: " << *page.next_cursor << "\n";
        return Status::Ok();
      });
  return status.ok() ? 0 : Fail(status);
}

int AuditCommands::Checkpoints() {
  const Status status = runner_(options_->data_dir, [&](service::AuditService& audit,
                                                        const service::Actor& actor) {
    ASSIGN_OR_RETURN(std::vector<store::AuditCheckpointRow> checkpoints, audit.Checkpoints(actor));
    for (const store::AuditCheckpointRow& row : checkpoints) {
      json::object line;
      line["type"] = "checkpoint";
      line["seq"] = row.seq;
      line["hash"] = HexEncode(row.hash);
      line["time"] = FormatRfc3339(row.time_us);
      line["time_us"] = row.time_us;
      line["kind"] = row.kind;
      line["key_version"] = row.key_version;
      line["mac"] = HexEncode(row.mac);
      out_ << json::serialize(line) << "\n";
    }
    ASSIGN_OR_RETURN(std::optional<store::AuditHeadRow> head, audit.log().store().Head());
    if (head) {
      json::object line;
      line["type"] = "head";
      line["seq"] = head->seq;
      line["hash"] = HexEncode(head->hash);
      line["time"] = FormatRfc3339(head->time_us);
      line["time_us"] = head->time_us;
      line["key_version"] = head->key_version;
      line["mac"] = HexEncode(head->mac);
      out_ << json::serialize(line) << "\n";
    }
    return Status::Ok();
  });
  return status.ok() ? 0 : Fail(status);
}

}  // namespace custvault::cli
