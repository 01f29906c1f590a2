#include "service/audit_service.h"
#include "common/encoding.h"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <set>

#include "policy/policy.h"
#include "store/cursor.h"
#include "store/sqlite/sqlite_audit_store.h"

namespace custvault::service {
namespace {


Result<int64_t> DecodeSeqCursor(const std::optional<std::string>& cursor) {
  if (!cursor) return int64_t{0};
  ASSIGN_OR_RETURN(const std::string text, store::DecodeCursor(*cursor));
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) {
    return InvalidArgument("cursor must be a next_cursor from this listing");
  }
  return value;
}

boost::json::object FiltersJson(const AuditSearch& search) {
  boost::json::object filters;
  if (!search.actor_id.empty()) filters["actor"] = search.actor_id;
  if (!search.customer_id.empty()) filters["customer_id"] = search.customer_id;
  if (!search.operation.empty()) filters["operation"] = search.operation;
  if (!search.source_ip.empty()) filters["ip"] = search.source_ip;
  if (search.from_us) filters["from"] = FormatRfc3339(*search.from_us);
  if (search.to_us) filters["to"] = FormatRfc3339(*search.to_us);
  return filters;
}

}  // namespace

std::string AuditRoleOf(const Actor& actor) {
  switch (actor.kind) {
    case ActorKind::kStaff:
      return std::string(RoleName(actor.role));
    case ActorKind::kBootstrap:
      return "bootstrap";
    case ActorKind::kLocalOperator:
      return "local_operator";
    case ActorKind::kChannel:
      return "channel";
    case ActorKind::kSelfService:
      return "self_service";
  }
  return "unknown";
}

std::string CsvCell(std::string_view text) {
  std::string cell;
  cell.reserve(text.size() + 3);
  if (!text.empty() && (text.front() == '=' || text.front() == '+' || text.front() == '-' ||
                        text.front() == '@' || text.front() == '\t' || text.front() == '\r')) {
    cell.push_back('\'');
  }
  cell.append(text);
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

AuditService::AuditService(Env* env, std::unique_ptr<audit::AuditLog> log, CidrSet trusted_proxies)
    : env_(env), log_(std::move(log)), trusted_proxies_(std::move(trusted_proxies)) {}

Result<std::unique_ptr<AuditService>> AuditService::Open(Env* env, const Config& config,
                                                         const crypto::Keyring* keyring) {
  ASSIGN_OR_RETURN(CidrSet proxies, CidrSet::Parse(config.audit.trusted_proxies));
  ASSIGN_OR_RETURN(std::unique_ptr<store::sqlite::SqliteAuditStore> store,
                   store::sqlite::SqliteAuditStore::Open(
                       {.path = config.DataPath(store::sqlite::kAuditDatabaseFileName),
                        .readers = 2,
                        .busy_timeout_ms = config.storage.busy_timeout_ms}));
  audit::AuditLogOptions options;
  options.config = config.audit;
  options.utc_offset_seconds = config.utc_offset_seconds;
  ASSIGN_OR_RETURN(std::unique_ptr<audit::AuditLog> log,
                   audit::AuditLog::Open(env, std::move(store), keyring, options));
  return std::make_unique<AuditService>(env, std::move(log), std::move(proxies));
}

namespace {

audit::AuditEvent EventOf(const Actor& actor, std::string_view operation,
                          std::string_view customer_id, std::string_view result,
                          boost::json::object details) {
  audit::AuditEvent event;
  event.actor_id = actor.id;
  event.actor_role = AuditRoleOf(actor);
  event.source_ip = actor.ip;
  event.operation = std::string(operation);
  event.customer_id = std::string(customer_id);
  event.result = std::string(result);
  event.details = std::move(details);
  return event;
}

// How long a chained outbox token is remembered after its row is gone.
constexpr int64_t kChainedTokenKeepUs = int64_t{86'400} * 1'000'000;
constexpr int kRecoveryPage = 500;

}  // namespace

Result<store::AuditOutboxEntry> ChangeEntry(AuditRecorder& audit, const Actor& actor,
                                            std::string_view operation,
                                            std::string_view customer_id, std::string_view result,
                                            boost::json::object details) {
  Result<store::AuditEntryRow> row =
      audit.PrepareEntry(actor, operation, customer_id, result, std::move(details));
  if (!row.ok()) return Unavailable("the audit log could not record the operation; try again");
  store::AuditOutboxEntry entry;
  entry.row = std::move(*row);
  return entry;
}

Status RecordWithChange(AuditRecorder& audit, store::Store& store,
                        const store::AuditOutboxEntry& entry) {
  Result<int64_t> seq = audit.RecordCommitted(entry);
  if (!seq.ok()) {
    return Unavailable("the audit log could not record the operation; try again");
  }
  store.AuditOutboxChained(entry.id);
  return Status::Ok();
}

Result<store::AuditEntryRow> AuditService::PrepareEntry(const Actor& actor,
                                                        std::string_view operation,
                                                        std::string_view customer_id,
                                                        std::string_view result,
                                                        boost::json::object details) {
  return audit::PrepareRow(EventOf(actor, operation, customer_id, result, std::move(details)));
}

Result<int64_t> AuditService::RecordCommitted(const store::AuditOutboxEntry& entry) {
  store::AuditEntryRow row = entry.row;
  row.outbox_token = entry.token;
  return log_->AppendCommitted(std::move(row));
}

Result<int64_t> AuditService::RecoverAuditOutbox(store::Store& store) {
  int64_t chained = 0;
  int64_t last_id = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::AuditOutboxEntry> rows,
                     store.AuditOutbox(last_id, kRecoveryPage));
    if (rows.empty()) break;
    std::vector<std::string> tokens;
    for (const store::AuditOutboxEntry& row : rows) tokens.push_back(row.token);
    ASSIGN_OR_RETURN(const std::vector<std::string> done,
                     log_->store().ChainedOutboxTokens(tokens));
    const std::set<std::string> already(done.begin(), done.end());
    for (const store::AuditOutboxEntry& row : rows) {
      last_id = row.id;
      if (already.count(row.token) != 0) continue;
      // In outbox order, which is commit order: a create is chained before
      // the update or delete that followed it.
      // (No log line: Vault::Open runs before a command sets up logging,
      // and spdlog's default logger would write into the command's stdout.)
      RETURN_IF_ERROR(RecordCommitted(row).status());
      ++chained;
    }
  }
  if (last_id > 0) RETURN_IF_ERROR(store.DeleteAuditOutboxThrough(last_id));
  RETURN_IF_ERROR(
      log_->store().PruneChainedOutboxTokens(env_->NowMicros() - kChainedTokenKeepUs).status());
  return chained;
}

Result<int64_t> AuditService::Record(const Actor& actor, std::string_view operation,
                                     std::string_view customer_id, std::string_view result,
                                     boost::json::object details) {
  return log_->Append(EventOf(actor, operation, customer_id, result, std::move(details)));
}

Status AuditService::Authorize(const Actor& actor, std::string_view what) {
  // The policy table decides for staff (docs/access-control.md); the local
  // operator (someone with the data directory and its master key) may read
  // the log from the CLI, e.g. to verify it when no account can log in.
  policy::Operation operation = policy::Operation::kAuditRead;
  if (what == "audit.export") operation = policy::Operation::kAuditExport;
  if (what == "audit.verify") operation = policy::Operation::kAuditVerify;
  if (what == "audit.alerts") operation = policy::Operation::kAlertsRead;
  if (what == "alert.ack") operation = policy::Operation::kAlertsAck;
  const bool allowed = actor.kind == ActorKind::kLocalOperator ||
                       (actor.kind == ActorKind::kStaff && policy::Allows(actor.role, operation));
  if (allowed) return Status::Ok();
  // Best effort: the denial stands whether or not it could be recorded.
  Record(actor, audit::op::kAccessDenied, "", audit::result::kDenied,
         boost::json::object{{"attempted", what}})
      .status()
      .IgnoreError();
  return PermissionDenied("your role may not do " + std::string(policy::OperationName(operation)));
}

Result<store::AuditQuery> AuditService::QueryFor(const AuditSearch& search, int default_limit,
                                                 int limit_max) {
  store::AuditQuery query;
  query.actor_id = search.actor_id;
  query.customer_id = search.customer_id;
  query.operation = search.operation;
  query.source_ip = search.source_ip;
  query.from_us = search.from_us;
  query.to_us = search.to_us;
  if (search.actor_id.size() > store::kAuditActorIdBytesMax ||
      search.customer_id.size() > store::kAuditCustomerIdBytesMax ||
      search.operation.size() > store::kAuditOperationBytesMax ||
      search.source_ip.size() > store::kAuditIpBytesMax) {
    return InvalidArgument("a search filter is longer than any stored value");
  }
  const int limit = search.limit.value_or(default_limit);
  if (limit < 1 || limit > limit_max) {
    return InvalidArgument("limit must be 1.." + std::to_string(limit_max));
  }
  query.limit = limit;
  ASSIGN_OR_RETURN(query.after_seq, DecodeSeqCursor(search.cursor));
  return query;
}

Result<AuditEntryPage> AuditService::Search(const Actor& actor, const AuditSearch& search) {
  RETURN_IF_ERROR(Authorize(actor, "audit.search"));
  ASSIGN_OR_RETURN(store::AuditQuery query,
                   QueryFor(search, kAuditPageLimitDefault, store::kAuditPageLimitMax));
  // One row more than asked says whether there is a next page.
  const int wanted = query.limit;
  query.limit = std::min(wanted + 1, store::kAuditPageLimitMax);
  ASSIGN_OR_RETURN(std::vector<store::AuditEntryRow> rows, log_->store().Search(query));
  AuditEntryPage page;
  if (static_cast<int>(rows.size()) > wanted) {
    rows.resize(static_cast<size_t>(wanted));
    page.next_cursor = store::EncodeCursor(std::to_string(rows.back().seq));
  } else if (wanted == store::kAuditPageLimitMax &&
             static_cast<int>(rows.size()) == store::kAuditPageLimitMax) {
    page.next_cursor = store::EncodeCursor(std::to_string(rows.back().seq));
  }
  page.items = std::move(rows);
  return page;
}

Result<AuditCsvExport> AuditService::ExportCsv(const Actor& actor, const AuditSearch& search) {
  RETURN_IF_ERROR(Authorize(actor, "audit.export"));
  ASSIGN_OR_RETURN(store::AuditQuery query,
                   QueryFor(search, kAuditExportRowsMax, kAuditExportRowsMax));
  AuditCsvExport out;
  out.csv = "seq,time,actor_id,actor_role,source_ip,operation,customer_id,result,details,hash\r\n";
  int64_t remaining = query.limit;
  int64_t last_seq = query.after_seq;
  bool more = false;
  while (remaining > 0) {
    query.after_seq = last_seq;
    query.limit = static_cast<int>(std::min<int64_t>(remaining, store::kAuditPageLimitMax));
    ASSIGN_OR_RETURN(std::vector<store::AuditEntryRow> rows, log_->store().Search(query));
    for (const store::AuditEntryRow& row : rows) {
      out.csv += std::to_string(row.seq);
      out.csv += ',';
      out.csv += CsvCell(FormatRfc3339(row.time_us));
      for (const std::string* text :
           {&row.actor_id, &row.actor_role, &row.source_ip, &row.operation, &row.customer_id,
            &row.result, &row.details}) {
        out.csv += ',';
        out.csv += CsvCell(*text);
      }
      out.csv += ',';
      out.csv += HexEncode(row.hash);
      out.csv += "\r\n";
      last_seq = row.seq;
    }
    out.rows += static_cast<int64_t>(rows.size());
    remaining -= static_cast<int64_t>(rows.size());
    if (rows.size() < static_cast<size_t>(query.limit)) break;
    if (remaining == 0) {
      // Is there anything beyond what was asked for?
      query.after_seq = last_seq;
      query.limit = 1;
      ASSIGN_OR_RETURN(std::vector<store::AuditEntryRow> next, log_->store().Search(query));
      more = !next.empty();
    }
  }
  if (more) out.next_cursor = store::EncodeCursor(std::to_string(last_seq));
  boost::json::object details;
  details["count"] = out.rows;
  details["filters"] = FiltersJson(search);
  // No audit, no export.
  RETURN_IF_ERROR(
      Record(actor, audit::op::kAuditExport, search.customer_id, audit::result::kOk, details)
          .status());
  return out;
}

Result<audit::VerifyReport> AuditService::Verify(const Actor& actor,
                                                 const audit::VerifyProgress& progress) {
  RETURN_IF_ERROR(Authorize(actor, "audit.verify"));
  ASSIGN_OR_RETURN(audit::VerifyReport report,
                   audit::VerifyChain(log_->store(), log_->keyring(), progress));
  boost::json::object details;
  details["entries"] = report.entries_checked;
  details["damage"] = audit::DamageName(report.damage);
  if (!report.intact()) details["first_bad_seq"] = report.first_bad_seq;
  RETURN_IF_ERROR(Record(actor, audit::op::kAuditVerify, "",
                         report.intact() ? audit::result::kOk : audit::result::kFailed, details)
                      .status());
  return report;
}

Result<AlertPage> AuditService::Alerts(const Actor& actor, bool unacknowledged_only,
                                       const std::optional<std::string>& cursor,
                                       std::optional<int> limit) {
  RETURN_IF_ERROR(Authorize(actor, "audit.alerts"));
  const int wanted = limit.value_or(kAlertPageLimitDefault);
  if (wanted < 1 || wanted > store::kAlertPageLimitMax) {
    return InvalidArgument("limit must be 1.." + std::to_string(store::kAlertPageLimitMax));
  }
  ASSIGN_OR_RETURN(const int64_t after_id, DecodeSeqCursor(cursor));
  ASSIGN_OR_RETURN(std::vector<store::AlertRow> rows,
                   log_->store().Alerts(unacknowledged_only, after_id,
                                        std::min(wanted + 1, store::kAlertPageLimitMax)));
  AlertPage page;
  if (static_cast<int>(rows.size()) > wanted) {
    rows.resize(static_cast<size_t>(wanted));
    page.next_cursor = store::EncodeCursor(std::to_string(rows.back().id));
  }
  page.items = std::move(rows);
  return page;
}

Status AuditService::AcknowledgeAlert(const Actor& actor, int64_t alert_id) {
  RETURN_IF_ERROR(Authorize(actor, "alert.ack"));
  RETURN_IF_ERROR(log_->store().AcknowledgeAlert(alert_id, actor.id, env_->NowMicros()));
  return Record(actor, audit::op::kAlertAck, "", audit::result::kOk,
                boost::json::object{{"alert_id", alert_id}})
      .status();
}

Result<std::vector<store::AuditCheckpointRow>> AuditService::Checkpoints(const Actor& actor) {
  RETURN_IF_ERROR(Authorize(actor, "audit.checkpoints"));
  return log_->store().Checkpoints();
}

}  // namespace custvault::service
