#include "cli/business_commands.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <cstdio>
#include <ostream>

#include "cli/user_commands.h"
#include "common/env.h"
#include "http/business_routes.h"

namespace custvault::cli {
namespace json = boost::json;
namespace {

// A summary file is read up to one byte past the service's limit, so an
// oversized one is refused by the service with the field named.
constexpr size_t kSummaryReadBytesMax = service::kBusinessSummaryBytesMax + 1;

constexpr char kKindTransactions[] = "transactions";
constexpr char kKindComplaints[] = "complaints";
constexpr char kKindCooperation[] = "cooperation";

}  // namespace

struct BusinessCommands::Options {
  std::string data_dir = "./var";
  std::string session_file = DefaultSessionFile();
  std::string customer_id, complaint_id;
  int64_t amount_fen = 0;
  std::string occurred_at, channel, reference;
  std::string opened_at, closed_at, started_at, ended_at, kind, summary_file;
  std::string list_kind, cursor;
  int limit = 0;
  CLI::App* add_transaction = nullptr;
  CLI::App* add_complaint = nullptr;
  CLI::App* close_complaint = nullptr;
  CLI::App* add_cooperation = nullptr;
  CLI::App* list = nullptr;
};

BusinessCommands::BusinessCommands(BusinessSessionRunner runner, std::ostream& out,
                                   std::ostream& err)
    : runner_(std::move(runner)), out_(out), err_(err), options_(std::make_unique<Options>()) {}

BusinessCommands::~BusinessCommands() = default;

std::unique_ptr<BusinessCommands> AddBusinessCommands(CLI::App& app, BusinessSessionRunner runner,
                                                      std::ostream& out, std::ostream& err) {
  auto commands =
      std::unique_ptr<BusinessCommands>(new BusinessCommands(std::move(runner), out, err));
  BusinessCommands::Options& o = *commands->options_;
  CLI::App* business = app.add_subcommand(
      "business",
      "A customer's business records (transactions, complaints, cooperation) that feed the tag "
      "rules; as the logged-in user (business.write: info_manager; business.read: info_manager, "
      "dept_head)");
  business->require_subcommand(1);
  auto common = [&o](CLI::App* command) {
    command->add_option("--data-dir,-d", o.data_dir, "Data directory")->capture_default_str();
    command->add_option("--session-file", o.session_file,
                        "Session token written by `custvault login`");
    command->add_option("customer_id", o.customer_id, "Customer id, e.g. C20261129123456")
        ->required();
  };
  const char* kTimeHelp = "RFC 3339 date-time, e.g. 2026-11-29T10:15:00+08:00";

  o.add_transaction = business->add_subcommand(
      "add-transaction",
      "Record a purchase (or, with a negative amount, a refund). Prints the transaction.");
  common(o.add_transaction);
  o.add_transaction
      ->add_option("--amount-fen", o.amount_fen,
                   "Amount in fen (1 CNY = 100 fen), non-zero, at most 10^13 in absolute value")
      ->required();
  o.add_transaction->add_option("--occurred-at", o.occurred_at, kTimeHelp)->required();
  o.add_transaction
      ->add_option("--channel", o.channel, "Sales channel code [A-Za-z0-9_.:-], e.g. store:SH-001")
      ->required();
  o.add_transaction->add_option("--reference", o.reference,
                                "Receipt or order number; unique per channel");

  o.add_complaint = business->add_subcommand(
      "add-complaint", "Record a complaint; the summary is encrypted with the customer's key");
  common(o.add_complaint);
  o.add_complaint->add_option("--opened-at", o.opened_at, kTimeHelp)->required();
  o.add_complaint->add_option("--closed-at", o.closed_at, "When it was settled, if it was");
  o.add_complaint
      ->add_option("--summary-file", o.summary_file,
                   "File holding the summary (UTF-8, at most 2000 bytes), or - for stdin")
      ->required();

  o.close_complaint = business->add_subcommand("close-complaint", "Close an open complaint");
  common(o.close_complaint);
  o.close_complaint->add_option("complaint_id", o.complaint_id, "Complaint id (CM...)")->required();
  o.close_complaint->add_option("--closed-at", o.closed_at, "Default: now");

  o.add_cooperation = business->add_subcommand(
      "add-cooperation", "Record a cooperation; the summary is encrypted with the customer's key");
  common(o.add_cooperation);
  o.add_cooperation->add_option("--started-at", o.started_at, kTimeHelp)->required();
  o.add_cooperation->add_option("--ended-at", o.ended_at, "End, possibly planned");
  o.add_cooperation
      ->add_option("--kind", o.kind, "Kind code [A-Za-z0-9_.:-], e.g. distributor, supplier")
      ->required();
  o.add_cooperation
      ->add_option("--summary-file", o.summary_file,
                   "File holding the summary (UTF-8, at most 2000 bytes), or - for stdin")
      ->required();

  o.list = business->add_subcommand(
      "list", "List one kind of record, newest first (one JSON page: items, next_cursor)");
  common(o.list);
  o.list->add_option("--kind", o.list_kind, "transactions | complaints | cooperation")
      ->required()
      ->check(CLI::IsMember({kKindTransactions, kKindComplaints, kKindCooperation}));
  o.list->add_option("--limit", o.limit, "Page size");
  o.list->add_option("--cursor", o.cursor, "next_cursor of the previous page");
  return commands;
}

std::optional<int> BusinessCommands::RunIfParsed() {
  const Options& o = *options_;
  if (o.add_transaction->parsed()) return AddTransaction();
  if (o.add_complaint->parsed()) return AddComplaint();
  if (o.close_complaint->parsed()) return CloseComplaint();
  if (o.add_cooperation->parsed()) return AddCooperation();
  if (o.list->parsed()) return List();
  return std::nullopt;
}

int BusinessCommands::Run(const BusinessBody& body) {
  const Status status = runner_(options_->data_dir, options_->session_file, body);
  if (status.ok()) return 0;
  err_ << "custvault: " << status.ToString() << "\n";
  return 1;
}

Result<std::string> BusinessCommands::ReadSummary() const {
  const std::string& path = options_->summary_file;
  std::string text;
  if (path == "-") {
    char buffer[4096];
    size_t n = 0;
    while (text.size() <= kSummaryReadBytesMax &&
           (n = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) {
      text.append(buffer, n);
    }
  } else {
    ASSIGN_OR_RETURN(text, Env::Default()->ReadFile(path));
  }
  if (text.size() > kSummaryReadBytesMax) {
    OPENSSL_cleanse(text.data(), text.size());
    return Status(ErrorCode::kValidationFailed, "the summary is too long",
                  {{"summary", "too_long"}});
  }
  // A file ends with a newline that is not part of the summary.
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

int BusinessCommands::AddTransaction() {
  const Options& o = *options_;
  service::NewTransaction input;
  input.amount_fen = o.amount_fen;
  input.occurred_at = o.occurred_at;
  input.channel = o.channel;
  input.reference = o.reference;
  return Run([&](service::BusinessService& business, const service::Actor& actor) -> Status {
    ASSIGN_OR_RETURN(service::TransactionView view,
                     business.AddTransaction(actor, o.customer_id, input));
    out_ << json::serialize(http::TransactionJson(view)) << "\n";
    return Status::Ok();
  });
}

int BusinessCommands::AddComplaint() {
  const Options& o = *options_;
  Result<std::string> summary = ReadSummary();
  if (!summary.ok()) {
    err_ << "custvault: " << summary.status().ToString() << "\n";
    return 1;
  }
  service::NewComplaint input;
  input.opened_at = o.opened_at;
  input.closed_at = o.closed_at;
  input.summary = std::move(*summary);
  const int code =
      Run([&](service::BusinessService& business, const service::Actor& actor) -> Status {
        ASSIGN_OR_RETURN(service::ComplaintView view,
                         business.AddComplaint(actor, o.customer_id, input));
        out_ << json::serialize(http::ComplaintJson(view)) << "\n";
        return Status::Ok();
      });
  OPENSSL_cleanse(input.summary.data(), input.summary.size());
  return code;
}

int BusinessCommands::CloseComplaint() {
  const Options& o = *options_;
  return Run([&](service::BusinessService& business, const service::Actor& actor) -> Status {
    ASSIGN_OR_RETURN(service::ComplaintView view,
                     business.CloseComplaint(actor, o.customer_id, o.complaint_id, o.closed_at));
    out_ << json::serialize(http::ComplaintJson(view)) << "\n";
    return Status::Ok();
  });
}

int BusinessCommands::AddCooperation() {
  const Options& o = *options_;
  Result<std::string> summary = ReadSummary();
  if (!summary.ok()) {
    err_ << "custvault: " << summary.status().ToString() << "\n";
    return 1;
  }
  service::NewCooperation input;
  input.started_at = o.started_at;
  input.ended_at = o.ended_at;
  input.kind = o.kind;
  input.summary = std::move(*summary);
  const int code =
      Run([&](service::BusinessService& business, const service::Actor& actor) -> Status {
        ASSIGN_OR_RETURN(service::CooperationView view,
                         business.AddCooperation(actor, o.customer_id, input));
        out_ << json::serialize(http::CooperationJson(view)) << "\n";
        return Status::Ok();
      });
  OPENSSL_cleanse(input.summary.data(), input.summary.size());
  return code;
}

namespace {

template <typename View, typename ToJson>
json::object PageJson(const service::BusinessListPage<View>& page, ToJson to_json) {
  json::array items;
  for (const View& view : page.items) items.push_back(to_json(view));
  json::object out;
  out["items"] = std::move(items);
  out["next_cursor"] = page.next_cursor ? json::value(*page.next_cursor) : json::value(nullptr);
  return out;
}

}  // namespace

int BusinessCommands::List() {
  const Options& o = *options_;
  const std::optional<std::string> cursor =
      o.cursor.empty() ? std::nullopt : std::optional<std::string>(o.cursor);
  const std::optional<int> limit = o.limit > 0 ? std::optional<int>(o.limit) : std::nullopt;
  return Run([&](service::BusinessService& business, const service::Actor& actor) -> Status {
    json::object page;
    if (o.list_kind == kKindTransactions) {
      ASSIGN_OR_RETURN(auto got, business.ListTransactions(actor, o.customer_id, cursor, limit));
      page = PageJson(got, http::TransactionJson);
    } else if (o.list_kind == kKindComplaints) {
      ASSIGN_OR_RETURN(auto got, business.ListComplaints(actor, o.customer_id, cursor, limit));
      page = PageJson(got, http::ComplaintJson);
    } else {
      ASSIGN_OR_RETURN(auto got, business.ListCooperation(actor, o.customer_id, cursor, limit));
      page = PageJson(got, http::CooperationJson);
    }
    out_ << json::serialize(page) << "\n";
    return Status::Ok();
  });
}

}  // namespace custvault::cli
