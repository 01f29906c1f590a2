#include "http/tag_routes.h"

#include <boost/json.hpp>
#include <charconv>

#include "common/env.h"
#include "http/message.h"

namespace custvault::http {
namespace json = boost::json;
namespace {

constexpr size_t kMemberNameBytesMax = 48;
constexpr size_t kCursorBytesMax = 512;
constexpr size_t kItemIdBytesMax = 20;

json::value TimeJson(int64_t time_us) {
  if (time_us == 0) return nullptr;
  return json::string(FormatRfc3339(time_us));
}

json::object TagsJson(const rules::Tags& tags) {
  json::object out;
  for (const auto& [dimension, value] : tags) out[dimension] = value;
  return out;
}

Status TypeErrors(std::vector<FieldError> errors) {
  return Status(ErrorCode::kValidationFailed, "some members are unknown or of the wrong JSON type",
                std::move(errors));
}

// Query parameters: only the known ones, each once (the router refuses repeats).
Status OnlyKnown(const Request& request, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : request.query) {
    bool found = false;
    for (std::string_view k : known) found = found || name == k;
    if (!found) return InvalidArgument("unknown query parameter: " + name.substr(0, 32));
  }
  return Status::Ok();
}

Result<std::optional<int>> LimitOf(const Request& request) {
  const auto it = request.query.find("limit");
  if (it == request.query.end()) return std::optional<int>();
  int limit = 0;
  const std::string& text = it->second;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (error != std::errc() || end != text.data() + text.size()) {
    return InvalidArgument("limit must be an integer");
  }
  return std::optional<int>(limit);
}

Result<std::optional<std::string>> TextOf(const Request& request, const char* name,
                                          size_t max_bytes) {
  const auto it = request.query.find(name);
  if (it == request.query.end()) return std::optional<std::string>();
  if (it->second.empty() || it->second.size() > max_bytes) {
    return InvalidArgument(std::string(name) + " is empty or too long");
  }
  return std::optional<std::string>(it->second);
}

bool LooksLikeCustomerId(std::string_view id) {
  if (id.size() != 15 || id[0] != 'C') return false;
  for (size_t i = 1; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
  }
  return true;
}

// Reads string members into targets; anything else is a 422 detail.
struct StringMember {
  std::string_view name;
  std::string* target;
};
void ReadStrings(const json::object& body, std::initializer_list<StringMember> members,
                 std::initializer_list<std::string_view> others, std::vector<FieldError>* errors) {
  for (const auto& [key, value] : body) {
    bool known = false;
    for (const StringMember& member : members) {
      if (key != member.name) continue;
      known = true;
      if (value.is_string()) {
        *member.target = std::string(value.as_string());
      } else {
        errors->push_back({std::string(member.name), "type"});
      }
    }
    for (std::string_view other : others) known = known || key == other;
    if (!known) errors->push_back({std::string(key.substr(0, kMemberNameBytesMax)), "unknown_field"});
  }
}

Response ListApprovals(service::ApprovalService& approvals, Request& request,
                       const service::Actor& actor) {
  Status known = OnlyKnown(request, {"status", "kind", "cursor", "limit"});
  if (!known.ok()) return ErrorResponse(known);
  service::ApprovalListRequest list;
  Result<std::optional<std::string>> status = TextOf(request, "status", 32);
  Result<std::optional<std::string>> kind = TextOf(request, "kind", 32);
  Result<std::optional<std::string>> cursor = TextOf(request, "cursor", kCursorBytesMax);
  Result<std::optional<int>> limit = LimitOf(request);
  for (const Status* s : {&status.status(), &kind.status(), &cursor.status(), &limit.status()}) {
    if (!s->ok()) return ErrorResponse(*s);
  }
  list.status = *status;
  list.kind = *kind;
  list.cursor = *cursor;
  list.limit = *limit;
  Result<service::ApprovalListPage> page = approvals.List(actor, list);
  if (!page.ok()) return ErrorResponse(page.status());
  json::array items;
  for (const service::ApprovalView& view : page->items) items.push_back(ApprovalJson(view));
  json::object out{{"items", std::move(items)}};
  out["next_cursor"] = page->next_cursor ? json::value(*page->next_cursor) : json::value(nullptr);
  return JsonResponse(200, out);
}

Response GetApproval(service::ApprovalService& approvals, Request& request,
                     const service::Actor& actor) {
  Status known = OnlyKnown(request, {"items_cursor", "limit"});
  if (!known.ok()) return ErrorResponse(known);
  Result<std::optional<std::string>> cursor = TextOf(request, "items_cursor", kCursorBytesMax);
  if (!cursor.ok()) return ErrorResponse(cursor.status());
  Result<std::optional<int>> limit = LimitOf(request);
  if (!limit.ok()) return ErrorResponse(limit.status());
  Result<service::ApprovalDetail> detail =
      approvals.Get(actor, request.path_params["id"], *cursor, *limit);
  if (!detail.ok()) return ErrorResponse(detail.status());
  return JsonResponse(200, ApprovalDetailJson(*detail));
}

Response Decide(service::ApprovalService& approvals, Request& request,
                const service::Actor& actor) {
  Result<json::value> body = ParseJsonBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  std::vector<FieldError> errors;
  std::string decision;
  service::ApprovalDecision input;
  ReadStrings(body->as_object(), {{"decision", &decision}, {"comment", &input.comment}},
              {"items"}, &errors);
  if (const json::value* items = body->as_object().if_contains("items")) {
    if (!items->is_array() || items->as_array().size() > service::kApprovalChosenItemsMax) {
      errors.push_back({"items", "type"});
    } else {
      for (const json::value& item : items->as_array()) {
        // Item ids are decimal strings; plain integers are accepted too.
        if (item.is_string() && item.as_string().size() <= kItemIdBytesMax) {
          input.item_ids.emplace_back(item.as_string());
        } else if (item.is_int64()) {
          input.item_ids.push_back(std::to_string(item.as_int64()));
        } else {
          errors.push_back({"items", "type"});
          break;
        }
      }
    }
  }
  if (decision != "approve" && decision != "reject") errors.push_back({"decision", "format"});
  if (!errors.empty()) return ErrorResponse(TypeErrors(std::move(errors)));
  input.approve = decision == "approve";
  Result<service::ApprovalView> decided =
      approvals.Decide(actor, request.path_params["id"], input);
  if (!decided.ok()) return ErrorResponse(decided.status());
  return JsonResponse(200, ApprovalJson(*decided));
}

Response GetRules(service::TagService& tags, Request&, const service::Actor& actor) {
  Result<service::RulesOverview> rules = tags.GetRules(actor);
  if (!rules.ok()) return ErrorResponse(rules.status());
  json::array versions;
  for (const service::RulesVersionView& v : rules->versions) versions.push_back(RulesVersionJson(v));
  return JsonResponse(200, json::object{{"active", RulesVersionJson(rules->active)},
                                        {"versions", std::move(versions)}});
}

Result<std::string> RulesText(Request& request) {
  ASSIGN_OR_RETURN(json::value body, ParseJsonBody(request));
  std::vector<FieldError> errors;
  std::string text;
  ReadStrings(body.as_object(), {{"text", &text}}, {}, &errors);
  if (!errors.empty()) return TypeErrors(std::move(errors));
  return text;
}

Response ProposeRules(service::TagService& tags, Request& request, const service::Actor& actor) {
  Result<std::string> text = RulesText(request);
  if (!text.ok()) return ErrorResponse(text.status());
  Result<service::ProposedRules> proposed = tags.ProposeRules(actor, *text);
  if (!proposed.ok()) return ErrorResponse(proposed.status());
  return JsonResponse(202, json::object{{"version", RulesVersionJson(proposed->version)},
                                        {"approval", ApprovalJson(proposed->approval)}});
}

Response DryRunRules(service::TagService& tags, Request& request, const service::Actor& actor) {
  Result<std::string> text = RulesText(request);
  if (!text.ok()) return ErrorResponse(text.status());
  Result<service::ReclassifyReport> report = tags.DryRunRules(actor, *text);
  if (!report.ok()) return ErrorResponse(report.status());
  return JsonResponse(200, ReclassifyReportJson(*report));
}

Response Reclassify(service::TagService& tags, Request& request, const service::Actor& actor) {
  service::ReclassifyOptions options;
  if (!request.body.empty()) {
    Result<json::value> body = ParseJsonBody(request);
    if (!body.ok()) return ErrorResponse(body.status());
    std::vector<FieldError> errors;
    for (const auto& [key, value] : body->as_object()) {
      if (key == "dry_run" && value.is_bool()) {
        options.dry_run = value.as_bool();
      } else if (key == "dry_run") {
        errors.push_back({"dry_run", "type"});
      } else {
        errors.push_back({std::string(key.substr(0, kMemberNameBytesMax)), "unknown_field"});
      }
    }
    if (!errors.empty()) return ErrorResponse(TypeErrors(std::move(errors)));
  }
  Result<service::ReclassifyReport> report = tags.Reclassify(actor, options);
  if (!report.ok()) return ErrorResponse(report.status());
  return JsonResponse(report->approval ? 202 : 200, ReclassifyReportJson(*report));
}

Response RequestTagChange(service::TagService& tags, Request& request,
                          const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  if (!LooksLikeCustomerId(id)) return ErrorResponse(NotFound("customer does not exist"));
  Result<json::value> body = ParseJsonBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  std::vector<FieldError> errors;
  std::string dimension, value, reason;
  ReadStrings(body->as_object(),
              {{"dimension", &dimension}, {"value", &value}, {"reason", &reason}}, {}, &errors);
  if (!errors.empty()) return ErrorResponse(TypeErrors(std::move(errors)));
  Result<service::ApprovalView> filed = tags.RequestTagChange(actor, id, dimension, value, reason);
  if (!filed.ok()) return ErrorResponse(filed.status());
  return JsonResponse(202, ApprovalJson(*filed));
}

}  // namespace

json::object ApprovalJson(const service::ApprovalView& v) {
  json::object out;
  out["id"] = v.id;
  out["kind"] = v.kind;
  out["status"] = v.status;
  out["requested_by"] = v.requested_by;
  out["requested_role"] = v.requested_role;
  out["requested_at"] = TimeJson(v.requested_at_us);
  out["expires_at"] = TimeJson(v.expires_at_us);
  out["subject"] = v.subject;
  out["summary"] = v.summary;
  out["item_count"] = v.item_count;
  out["decided_by"] = v.decided_by.empty() ? json::value(nullptr) : json::value(v.decided_by);
  out["decided_role"] = v.decided_role;
  out["decided_at"] = TimeJson(v.decided_at_us);
  out["comment"] = v.comment;
  out["items_chosen"] = v.items_chosen;
  out["items_applied"] = v.items_applied;
  out["outcome"] = v.outcome;
  return out;
}

json::object ApprovalDetailJson(const service::ApprovalDetail& detail) {
  json::object out = ApprovalJson(detail.approval);
  json::array items;
  for (const service::ApprovalItemView& item : detail.items) {
    items.push_back(json::object{{"id", item.id},
                                 {"customer_id", item.customer_id},
                                 {"summary", item.summary},
                                 {"chosen", item.chosen},
                                 {"applied", item.applied}});
  }
  out["items"] = std::move(items);
  out["details"] = detail.details.empty() ? json::value(nullptr) : json::value(detail.details);
  out["next_items_cursor"] = detail.next_items_cursor ? json::value(*detail.next_items_cursor)
                                                      : json::value(nullptr);
  return out;
}

namespace {
json::value SuppressibleCount(int64_t count, bool suppressed) {
  // Issue 11.2: a group under the dry run's minimum is shown as "<10".
  if (suppressed) return json::string("<" + std::to_string(service::kDryRunGroupMin));
  return json::value(count);
}
}  // namespace

json::object ReclassifyReportJson(const service::ReclassifyReport& report) {
  json::array transitions;
  for (const service::TagTransitionCount& t : report.transitions) {
    transitions.push_back(json::object{{"dimension", t.dimension},
                                       {"from", t.from.empty() ? json::value(nullptr)
                                                               : json::value(t.from)},
                                       {"to", t.to},
                                       {"customers", SuppressibleCount(t.customers,
                                                                       t.suppressed)}});
  }
  json::array sample;
  for (const service::CustomerTagChange& c : report.sample) {
    sample.push_back(json::object{
        {"customer_id", c.customer_id}, {"from", TagsJson(c.from)}, {"to", TagsJson(c.to)}});
  }
  json::object out;
  out["dry_run"] = report.dry_run;
  out["rules_version"] = report.rules_version == 0 ? json::value(nullptr)
                                                   : json::value(report.rules_version);
  out["customers_scanned"] = report.customers_scanned;
  out["customers_changed"] =
      SuppressibleCount(report.customers_changed, report.customers_changed_suppressed);
  out["small_groups_suppressed"] = report.small_groups_suppressed;
  out["customers_failed"] = report.customers_failed;
  out["transitions"] = std::move(transitions);
  out["sample"] = std::move(sample);
  out["approval"] = report.approval ? json::value(ApprovalJson(*report.approval))
                                    : json::value(nullptr);
  out["elapsed_ms"] = report.elapsed_us / 1000;
  return out;
}

json::object RulesVersionJson(const service::RulesVersionView& v) {
  json::object out;
  out["version"] = v.version;
  out["status"] = v.status;
  out["text"] = v.text;
  out["created_by"] = v.created_by;
  out["created_at"] = TimeJson(v.created_at_us);
  out["approval_id"] = v.approval_id.empty() ? json::value(nullptr) : json::value(v.approval_id);
  out["approval_status"] =
      v.approval_status.empty() ? json::value(nullptr) : json::value(v.approval_status);
  out["activated_at"] = TimeJson(v.activated_at_us);
  return out;
}

void RegisterTagRoutes(Router& router, service::ApprovalService& approvals,
                       service::TagService& tags, Authenticator authenticate) {
  auto with_approvals =
      [&approvals, &authenticate](
          Response (*fn)(service::ApprovalService&, Request&, const service::Actor&)) {
        return WithAuth(authenticate, [&approvals, fn](Request& r, const service::Actor& a) {
          return fn(approvals, r, a);
        });
      };
  auto with_tags = [&tags, &authenticate](
                       Response (*fn)(service::TagService&, Request&, const service::Actor&)) {
    return WithAuth(authenticate,
                    [&tags, fn](Request& r, const service::Actor& a) { return fn(tags, r, a); });
  };
  router.Add("GET", "/api/v1/approvals", with_approvals(ListApprovals));
  router.Add("GET", "/api/v1/approvals/{id}", with_approvals(GetApproval));
  // An approved restore, rules change or re-classification runs its work here.
  router.Add("POST", "/api/v1/approvals/{id}/decision", with_approvals(Decide),
             RouteClass::kExpensive);
  router.Add("GET", "/api/v1/rules", with_tags(GetRules));
  router.Add("POST", "/api/v1/rules", with_tags(ProposeRules), RouteClass::kExpensive);
  router.Add("POST", "/api/v1/rules/dry-run", with_tags(DryRunRules), RouteClass::kExpensive);
  router.Add("POST", "/api/v1/tags/reclassify", with_tags(Reclassify), RouteClass::kExpensive);
  router.Add("POST", "/api/v1/customers/{id}/tags", with_tags(RequestTagChange));
}

}  // namespace custvault::http
