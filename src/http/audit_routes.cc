#include "http/audit_routes.h"
#include "common/encoding.h"

#include <boost/json.hpp>
#include <charconv>

#include "common/env.h"

namespace custvault::http {
namespace json = boost::json;
namespace {

constexpr size_t kCursorBytesMax = 512;


Result<std::optional<int64_t>> OptionalTime(const Request& request, const char* name) {
  auto it = request.query.find(name);
  if (it == request.query.end()) return std::optional<int64_t>();
  std::optional<int64_t> time = ParseRfc3339(it->second);
  if (!time) return InvalidArgument(std::string(name) + " must be an RFC 3339 date-time");
  return time;
}

Result<std::optional<int>> OptionalInt(const Request& request, const char* name) {
  auto it = request.query.find(name);
  if (it == request.query.end()) return std::optional<int>();
  int value = 0;
  const std::string& text = it->second;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return InvalidArgument(std::string(name) + " must be an integer");
  }
  return std::optional<int>(value);
}

Status OnlyKnownParameters(const Request& request, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : request.query) {
    bool found = false;
    for (std::string_view k : known) found = found || name == k;
    if (!found) return InvalidArgument("unknown query parameter: " + name.substr(0, 32));
  }
  return Status::Ok();
}

Result<service::AuditSearch> SearchFrom(const Request& request) {
  RETURN_IF_ERROR(OnlyKnownParameters(
      request, {"actor", "customer_id", "operation", "ip", "from", "to", "limit", "cursor"}));
  service::AuditSearch search;
  auto text = [&request](const char* name) {
    auto it = request.query.find(name);
    return it == request.query.end() ? std::string() : it->second;
  };
  search.actor_id = text("actor");
  search.customer_id = text("customer_id");
  search.operation = text("operation");
  search.source_ip = text("ip");
  ASSIGN_OR_RETURN(search.from_us, OptionalTime(request, "from"));
  ASSIGN_OR_RETURN(search.to_us, OptionalTime(request, "to"));
  ASSIGN_OR_RETURN(search.limit, OptionalInt(request, "limit"));
  if (auto it = request.query.find("cursor"); it != request.query.end()) {
    if (it->second.size() > kCursorBytesMax) return InvalidArgument("cursor is too long");
    search.cursor = it->second;
  }
  return search;
}

json::value CursorJson(const std::optional<std::string>& cursor) {
  if (cursor) return json::string(*cursor);
  return nullptr;
}

Response Entries(service::AuditService& audit, Request& request, const service::Actor& actor) {
  Result<service::AuditSearch> search = SearchFrom(request);
  if (!search.ok()) return ErrorResponse(search.status());
  Result<service::AuditEntryPage> page = audit.Search(actor, *search);
  if (!page.ok()) return ErrorResponse(page.status());
  json::array items;
  items.reserve(page->items.size());
  for (const store::AuditEntryRow& row : page->items) items.push_back(AuditEntryJson(row));
  return JsonResponse(200, json::object{{"items", std::move(items)},
                                        {"next_cursor", CursorJson(page->next_cursor)}});
}

Response ExportCsv(service::AuditService& audit, Request& request, const service::Actor& actor) {
  Result<service::AuditSearch> search = SearchFrom(request);
  if (!search.ok()) return ErrorResponse(search.status());
  Result<service::AuditCsvExport> exported = audit.ExportCsv(actor, *search);
  if (!exported.ok()) return ErrorResponse(exported.status());
  Response response;
  response.content_type = "text/csv; charset=utf-8";
  response.body = std::move(exported->csv);
  response.headers.emplace_back("Content-Disposition", "attachment; filename=\"audit.csv\"");
  response.headers.emplace_back("Cache-Control", "no-store");
  if (exported->next_cursor) response.headers.emplace_back("X-Next-Cursor", *exported->next_cursor);
  return response;
}

Response Verify(service::AuditService& audit, Request& request, const service::Actor& actor) {
  if (!request.query.empty()) {
    return ErrorResponse(InvalidArgument("verify takes no query parameters"));
  }
  Result<audit::VerifyReport> report = audit.Verify(actor);
  if (!report.ok()) return ErrorResponse(report.status());
  json::object out;
  out["intact"] = report->intact();
  out["damage"] = audit::DamageName(report->damage);
  out["first_bad_seq"] = report->first_bad_seq;
  out["detail"] = report->detail;
  out["entries_checked"] = report->entries_checked;
  out["checkpoints_checked"] = report->checkpoints_checked;
  out["first_seq"] = report->first_seq;
  out["last_seq"] = report->last_seq;
  out["head_seq"] = report->head_seq;
  out["anchor_seq"] = report->anchor_seq;
  return JsonResponse(200, out);
}

Response Alerts(service::AuditService& audit, Request& request, const service::Actor& actor) {
  const Status known = OnlyKnownParameters(request, {"open", "limit", "cursor"});
  if (!known.ok()) return ErrorResponse(known);
  bool open_only = false;
  if (auto it = request.query.find("open"); it != request.query.end()) {
    if (it->second != "true" && it->second != "false") {
      return ErrorResponse(InvalidArgument("open must be true or false"));
    }
    open_only = it->second == "true";
  }
  Result<std::optional<int>> limit = OptionalInt(request, "limit");
  if (!limit.ok()) return ErrorResponse(limit.status());
  std::optional<std::string> cursor;
  if (auto it = request.query.find("cursor"); it != request.query.end()) {
    if (it->second.size() > kCursorBytesMax) {
      return ErrorResponse(InvalidArgument("cursor is too long"));
    }
    cursor = it->second;
  }
  Result<service::AlertPage> page = audit.Alerts(actor, open_only, cursor, *limit);
  if (!page.ok()) return ErrorResponse(page.status());
  json::array items;
  for (const store::AlertRow& row : page->items) items.push_back(AlertJson(row));
  return JsonResponse(200, json::object{{"items", std::move(items)},
                                        {"next_cursor", CursorJson(page->next_cursor)}});
}

Response AcknowledgeAlert(service::AuditService& audit, Request& request,
                          const service::Actor& actor) {
  const std::string& text = request.path_params["id"];
  int64_t id = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc() || end != text.data() + text.size() || id < 1) {
    return ErrorResponse(NotFound("no such alert"));
  }
  const Status status = audit.AcknowledgeAlert(actor, id);
  if (!status.ok()) return ErrorResponse(status);
  return JsonResponse(200, json::object{{"id", id}, {"acknowledged", true}});
}

}  // namespace

json::object AuditEntryJson(const store::AuditEntryRow& row) {
  json::object out;
  out["seq"] = row.seq;
  out["time"] = FormatRfc3339(row.time_us);
  out["actor_id"] = row.actor_id;
  out["actor_role"] = row.actor_role;
  out["source_ip"] = row.source_ip;
  out["operation"] = row.operation;
  out["customer_id"] = row.customer_id;
  out["result"] = row.result;
  boost::system::error_code error;
  json::value details = json::parse(row.details, error);
  if (error) {
    out["details"] = row.details;  // stored text that is not JSON: shown as it is
  } else {
    out["details"] = std::move(details);
  }
  out["prev_hash"] = HexEncode(row.prev_hash);
  out["hash"] = HexEncode(row.hash);
  return out;
}

json::object AlertJson(const store::AlertRow& row) {
  json::object out;
  out["id"] = row.id;
  out["rule"] = row.rule;
  out["actor_id"] = row.actor_id;
  out["time"] = FormatRfc3339(row.time_us);
  out["summary"] = row.summary;
  if (row.acknowledged_at_us != 0) {
    out["acknowledged_by"] = row.acknowledged_by;
    out["acknowledged_at"] = FormatRfc3339(row.acknowledged_at_us);
  } else {
    out["acknowledged_by"] = nullptr;
    out["acknowledged_at"] = nullptr;
  }
  return out;
}



void RegisterAuditRoutes(Router& router, service::AuditService& audit, Authenticator authenticate) {
  auto bind = [&audit, &authenticate](
                  Response (*fn)(service::AuditService&, Request&, const service::Actor&)) {
    return WithAuth(authenticate,
                    [&audit, fn](Request& r, const service::Actor& a) { return fn(audit, r, a); });
  };
  router.Add("GET", "/api/v1/audit/entries", bind(Entries));
  router.Add("GET", "/api/v1/audit/export.csv", bind(ExportCsv), RouteClass::kExpensive);
  router.Add("GET", "/api/v1/audit/verify", bind(Verify), RouteClass::kExpensive);
  router.Add("GET", "/api/v1/audit/alerts", bind(Alerts));
  router.Add("POST", "/api/v1/audit/alerts/{id}/ack", bind(AcknowledgeAlert));
}

}  // namespace custvault::http
