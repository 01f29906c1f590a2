#include "cli/approval_commands.h"

#include <boost/json.hpp>
#include <ostream>
#include <sstream>

#include "cli/user_commands.h"
#include "common/env.h"
#include "http/tag_routes.h"
#include "store/tag_store.h"

namespace custvault::cli {
namespace json = boost::json;

struct ApprovalCommands::Options {
  std::string data_dir = "./var";
  std::string session_file = DefaultSessionFile();
  std::string id, status, kind, cursor, items, comment;
  int limit = 0;
  bool dry_run = false;
  std::string customer_id, dimension, value, reason, rules_file;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* approve = nullptr;
  CLI::App* reject = nullptr;
  CLI::App* reclassify = nullptr;
  CLI::App* request = nullptr;
  CLI::App* rules_show = nullptr;
  CLI::App* rules_propose = nullptr;
  CLI::App* rules_dry_run = nullptr;
};

ApprovalCommands::ApprovalCommands(ApprovalSessionRunner runner, std::ostream& out,
                                   std::ostream& err)
    : runner_(std::move(runner)), out_(out), err_(err), options_(std::make_unique<Options>()) {}

ApprovalCommands::~ApprovalCommands() = default;

std::unique_ptr<ApprovalCommands> AddApprovalCommands(CLI::App& app, ApprovalSessionRunner runner,
                                                      std::ostream& out, std::ostream& err) {
  auto commands =
      std::unique_ptr<ApprovalCommands>(new ApprovalCommands(std::move(runner), out, err));
  ApprovalCommands::Options& o = *commands->options_;
  auto common = [&o](CLI::App* command) {
    command->add_option("--data-dir,-d", o.data_dir, "Data directory")->capture_default_str();
    command->add_option("--session-file", o.session_file,
                        "Session token written by `custvault login`");
  };

  CLI::App* approvals = app.add_subcommand(
      "approvals",
      "Maker-checker approvals (tag batches, tag changes, sensitive edits, rules changes, role "
      "grants, restores): list, show, approve, reject; as the logged-in user");
  approvals->require_subcommand(1);
  o.list = approvals->add_subcommand(
      "list", "Approvals of the kinds your role requests or decides, newest first (JSON page)");
  common(o.list);
  o.list->add_option("--status", o.status,
                     "pending | applying | approved | partially_approved | rejected | expired | "
                     "failed | filing");
  o.list->add_option("--kind", o.kind,
                     "tag_batch | tag_change | sensitive_edit | rules_change | role_grant | restore");
  o.list->add_option("--limit", o.limit, "Page size (1..200)");
  o.list->add_option("--cursor", o.cursor, "next_cursor of the previous page");

  o.show = approvals->add_subcommand("show", "One approval with a page of its items");
  common(o.show);
  o.show->add_option("id", o.id, "Approval id (a_... or, for a role grant, r_...)")->required();
  o.show->add_option("--limit", o.limit, "Items per page (1..200)");
  o.show->add_option("--items-cursor", o.cursor, "next_items_cursor of the previous page");

  o.approve = approvals->add_subcommand(
      "approve", "Approve (all items, or only --items) and apply atomically; never your own");
  common(o.approve);
  o.approve->add_option("id", o.id, "Approval id")->required();
  o.approve->add_option("--items", o.items, "Approve only these item ids, comma-separated");
  o.approve->add_option("--comment", o.comment, "Why (kept with the decision; <= 1024 bytes)");

  o.reject = approvals->add_subcommand("reject", "Reject every item; nothing is applied");
  common(o.reject);
  o.reject->add_option("id", o.id, "Approval id")->required();
  o.reject->add_option("--comment", o.comment, "Why (required; <= 1024 bytes)")->required();

  CLI::App* tags = app.add_subcommand("tags", "Classification tags (R-TAG): re-classify, request");
  tags->require_subcommand(1);
  o.reclassify = tags->add_subcommand(
      "reclassify",
      "Re-classify every customer by the active rules; files one tag_batch approval for a "
      "department head (--dry-run: only show what would change)");
  common(o.reclassify);
  o.reclassify->add_flag("--dry-run", o.dry_run, "Change nothing and file nothing");
  o.request = tags->add_subcommand(
      "request", "Ask for a manual tag change (filed as a tag_change approval)");
  common(o.request);
  o.request->add_option("customer_id", o.customer_id, "Customer id")->required();
  o.request->add_option("--dimension", o.dimension, "e.g. value_tier, risk")->required();
  o.request->add_option("--value", o.value, "e.g. high")->required();
  o.request->add_option("--reason", o.reason, "Why (<= 200 bytes; no personal data)")
      ->required();

  CLI::App* rules = app.add_subcommand("rules", "The tag rules file and its versions");
  rules->require_subcommand(1);
  o.rules_show = rules->add_subcommand("show", "The active rules and every version (JSON)");
  common(o.rules_show);
  o.rules_propose = rules->add_subcommand(
      "propose", "Propose a new rules version from a TOML file; active once approved");
  common(o.rules_propose);
  o.rules_propose->add_option("--file", o.rules_file, "Rules file (TOML, docs/rules.md)")
      ->required();
  o.rules_dry_run = rules->add_subcommand(
      "dry-run", "How many customers a rules file would re-tag (writes nothing)");
  common(o.rules_dry_run);
  o.rules_dry_run->add_option("--file", o.rules_file, "Rules file (TOML)")->required();
  return commands;
}

std::optional<int> ApprovalCommands::RunIfParsed() {
  const Options& o = *options_;
  if (o.list->parsed()) return List();
  if (o.show->parsed()) return Show();
  if (o.approve->parsed()) return Decide(true);
  if (o.reject->parsed()) return Decide(false);
  if (o.reclassify->parsed()) return Reclassify();
  if (o.request->parsed()) return RequestTag();
  if (o.rules_show->parsed()) return RulesShow();
  if (o.rules_propose->parsed()) return RulesPropose(false);
  if (o.rules_dry_run->parsed()) return RulesPropose(true);
  return std::nullopt;
}

int ApprovalCommands::Run(const ApprovalBody& body) {
  const Status status = runner_(options_->data_dir, options_->session_file, body);
  if (status.ok()) return 0;
  err_ << "custvault: " << status.ToString() << "\n";
  for (const FieldError& e : status.details()) err_ << "  " << e.field << ": " << e.reason << "\n";
  return 1;
}

int ApprovalCommands::List() {
  const Options& o = *options_;
  service::ApprovalListRequest request;
  if (!o.status.empty()) request.status = o.status;
  if (!o.kind.empty()) request.kind = o.kind;
  if (!o.cursor.empty()) request.cursor = o.cursor;
  if (o.limit > 0) request.limit = o.limit;
  return Run([&](service::ApprovalService& approvals, service::TagService&,
                 const service::Actor& actor) -> Status {
    ASSIGN_OR_RETURN(service::ApprovalListPage page, approvals.List(actor, request));
    json::array items;
    for (const service::ApprovalView& v : page.items) items.push_back(http::ApprovalJson(v));
    json::object out{{"items", std::move(items)}};
    out["next_cursor"] = page.next_cursor ? json::value(*page.next_cursor) : json::value(nullptr);
    out_ << json::serialize(out) << "\n";
    return Status::Ok();
  });
}

int ApprovalCommands::Show() {
  const Options& o = *options_;
  const std::optional<std::string> cursor =
      o.cursor.empty() ? std::nullopt : std::optional<std::string>(o.cursor);
  const std::optional<int> limit = o.limit > 0 ? std::optional<int>(o.limit) : std::nullopt;
  return Run([&](service::ApprovalService& approvals, service::TagService&,
                 const service::Actor& actor) -> Status {
    ASSIGN_OR_RETURN(service::ApprovalDetail detail, approvals.Get(actor, o.id, cursor, limit));
    out_ << json::serialize(http::ApprovalDetailJson(detail)) << "\n";
    return Status::Ok();
  });
}

int ApprovalCommands::Decide(bool approve) {
  const Options& o = *options_;
  service::ApprovalDecision decision;
  decision.approve = approve;
  decision.comment = o.comment;
  std::stringstream items(o.items);
  for (std::string item; std::getline(items, item, ',');) {
    if (!item.empty()) decision.item_ids.push_back(item);
  }
  return Run([&](service::ApprovalService& approvals, service::TagService&,
                 const service::Actor& actor) -> Status {
    ASSIGN_OR_RETURN(service::ApprovalView decided, approvals.Decide(actor, o.id, decision));
    out_ << json::serialize(http::ApprovalJson(decided)) << "\n";
    return Status::Ok();
  });
}

int ApprovalCommands::Reclassify() {
  const Options& o = *options_;
  service::ReclassifyOptions options;
  options.dry_run = o.dry_run;
  options.progress = [this](int64_t done, int64_t total) {
    const int64_t percent = total > 0 ? done * 100 / total : 100;
    err_ << "\rre-classifying: " << done << " / " << total << " customers (" << percent << "%)"
         << std::flush;
  };
  const int code = Run([&](service::ApprovalService&, service::TagService& tags,
                           const service::Actor& actor) -> Status {
    ASSIGN_OR_RETURN(service::ReclassifyReport report, tags.Reclassify(actor, options));
    err_ << "\n";
    out_ << json::serialize(http::ReclassifyReportJson(report)) << "\n";
    return Status::Ok();
  });
  return code;
}

int ApprovalCommands::RequestTag() {
  const Options& o = *options_;
  return Run([&](service::ApprovalService&, service::TagService& tags,
                 const service::Actor& actor) -> Status {
    ASSIGN_OR_RETURN(service::ApprovalView filed,
                     tags.RequestTagChange(actor, o.customer_id, o.dimension, o.value, o.reason));
    out_ << json::serialize(http::ApprovalJson(filed)) << "\n";
    return Status::Ok();
  });
}

int ApprovalCommands::RulesShow() {
  return Run([&](service::ApprovalService&, service::TagService& tags,
                 const service::Actor& actor) -> Status {
    ASSIGN_OR_RETURN(service::RulesOverview rules, tags.GetRules(actor));
    json::array versions;
    for (const service::RulesVersionView& v : rules.versions) {
      versions.push_back(http::RulesVersionJson(v));
    }
    out_ << json::serialize(json::object{{"active", http::RulesVersionJson(rules.active)},
                                         {"versions", std::move(versions)}})
         << "\n";
    return Status::Ok();
  });
}

int ApprovalCommands::RulesPropose(bool dry_run) {
  const Options& o = *options_;
  Result<std::string> text = Env::Default()->ReadFile(o.rules_file);
  if (!text.ok()) {
    err_ << "custvault: " << text.status().ToString() << "\n";
    return 1;
  }
  if (text->size() > store::kRulesTextBytesMax) {
    err_ << "custvault: the rules file is over " << store::kRulesTextBytesMax << " bytes\n";
    return 1;
  }
  return Run([&](service::ApprovalService&, service::TagService& tags,
                 const service::Actor& actor) -> Status {
    if (dry_run) {
      ASSIGN_OR_RETURN(service::ReclassifyReport report, tags.DryRunRules(actor, *text));
      out_ << json::serialize(http::ReclassifyReportJson(report)) << "\n";
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(service::ProposedRules proposed, tags.ProposeRules(actor, *text));
    out_ << json::serialize(json::object{{"version", http::RulesVersionJson(proposed.version)},
                                         {"approval", http::ApprovalJson(proposed.approval)}})
         << "\n";
    return Status::Ok();
  });
}

}  // namespace custvault::cli
