#include "http/api_routes.h"

#include <algorithm>
#include <boost/json.hpp>

#include "audit/ip.h"
#include "common/env.h"
#include "http/backup_ops_routes.h"
#include "http/backup_routes.h"
#include "http/audit_routes.h"
#include "http/auth.h"
#include "http/business_routes.h"
#include "http/identity_routes.h"
#include "http/jobs_routes.h"
#include "http/tag_routes.h"
#include "http/self_service_routes.h"
#include "policy/policy.h"

namespace custvault::http {
namespace json = boost::json;
namespace {

constexpr size_t kFieldKeyBytesMax = 48;
constexpr size_t kCursorBytesMax = 512;

}  // namespace

json::object CustomerJson(const service::CustomerView& view) {
  json::object fields;
  for (const auto& [key, value] : view.fields) fields[key] = value;
  json::object tags;
  for (const auto& [key, value] : view.tags) tags[key] = value;
  json::object out;
  out["id"] = view.id;
  out["fields"] = std::move(fields);
  out["tags"] = std::move(tags);
  out["channel"] = view.channel;
  out["created_at"] = FormatRfc3339(view.created_at_us);
  out["updated_at"] = FormatRfc3339(view.updated_at_us);
  return out;
}

json::object CustomerPageJson(const service::CustomerListPage& page) {
  json::array items;
  items.reserve(page.items.size());
  for (const service::CustomerView& view : page.items) items.push_back(CustomerJson(view));
  json::object out;
  out["items"] = std::move(items);
  if (page.next_cursor) {
    out["next_cursor"] = *page.next_cursor;
  } else {
    out["next_cursor"] = nullptr;
  }
  return out;
}

namespace {

// A JSON field value as the catalog receives it: strings as they are,
// integers as decimal text. Anything else is refused by type.
std::optional<std::string> ScalarText(const json::value& value) {
  if (value.is_string()) return std::string(value.as_string());
  if (value.is_int64()) return std::to_string(value.as_int64());
  if (value.is_uint64()) return std::to_string(value.as_uint64());
  return std::nullopt;
}

Status TypeErrors(std::vector<FieldError> errors) {
  return Status(ErrorCode::kValidationFailed, "some fields have the wrong JSON type",
                std::move(errors));
}

// Customer ids are C + 14 digits; anything else cannot exist (404).
bool LooksLikeCustomerId(const std::string& id) {
  if (id.size() != 15 || id[0] != 'C') return false;
  for (size_t i = 1; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
  }
  return true;
}

Result<std::optional<int>> OptionalLimit(const json::value* value) {
  if (value == nullptr || value->is_null()) return std::optional<int>();
  if (!value->is_int64()) return InvalidArgument("limit must be an integer");
  const int64_t limit = value->as_int64();
  if (limit < 1 || limit > 1'000'000) return InvalidArgument("limit is out of range");
  return std::optional<int>(static_cast<int>(limit));
}

Result<std::optional<std::string>> OptionalCursor(const json::value* value) {
  if (value == nullptr || value->is_null()) return std::optional<std::string>();
  if (!value->is_string() || value->as_string().size() > kCursorBytesMax) {
    return InvalidArgument("cursor must be a string from next_cursor");
  }
  return std::optional<std::string>(std::string(value->as_string()));
}

Response CreateCustomer(service::Vault& vault, Request& request, const service::Actor& actor) {
  Result<json::value> body = ParseJsonBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  std::map<std::string, std::string> input;
  std::vector<FieldError> type_errors;
  for (const auto& [key, value] : body->as_object()) {
    const std::string field(key.substr(0, kFieldKeyBytesMax));
    if (std::optional<std::string> text = ScalarText(value)) {
      input[field] = std::move(*text);
    } else {
      type_errors.push_back({field, "type"});
    }
  }
  if (!type_errors.empty()) return ErrorResponse(TypeErrors(std::move(type_errors)));
  Result<service::CustomerView> view = vault.customers().Create(actor, input);
  if (!view.ok()) return ErrorResponse(view.status());
  return JsonResponse(201, CustomerJson(*view));
}

Response GetCustomer(service::Vault& vault, Request& request, const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  if (!LooksLikeCustomerId(id)) return ErrorResponse(NotFound("no such customer"));
  Result<service::CustomerView> view = vault.customers().Get(actor, id);
  if (!view.ok()) return ErrorResponse(view.status());
  return JsonResponse(200, CustomerJson(*view));
}

Response ListCustomers(service::Vault& vault, Request& request, const service::Actor& actor) {
  std::optional<int> limit;
  if (auto it = request.query.find("limit"); it != request.query.end()) {
    try {
      size_t used = 0;
      limit = std::stoi(it->second, &used);
      if (used != it->second.size()) throw std::invalid_argument("limit");
    } catch (...) {
      return ErrorResponse(InvalidArgument("limit must be an integer"));
    }
  }
  std::optional<std::string> cursor;
  if (auto it = request.query.find("cursor"); it != request.query.end()) cursor = it->second;
  std::string tag;
  if (auto it = request.query.find("tag"); it != request.query.end()) tag = it->second;
  for (const auto& [name, value] : request.query) {
    if (name != "limit" && name != "cursor" && name != "tag") {
      // Personal values never travel in URLs: search is POST .../search.
      return ErrorResponse(
          InvalidArgument("unknown query parameter (search by a personal value with POST "
                          "/api/v1/customers/search)"));
    }
  }
  Result<service::CustomerListPage> page = vault.customers().List(actor, tag, cursor, limit);
  if (!page.ok()) return ErrorResponse(page.status());
  return JsonResponse(200, CustomerPageJson(*page));
}

Response SearchCustomers(service::Vault& vault, Request& request, const service::Actor& actor) {
  Result<json::value> body = ParseJsonBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::object& object = body->as_object();
  Result<std::optional<int>> limit = OptionalLimit(object.if_contains("limit"));
  if (!limit.ok()) return ErrorResponse(limit.status());
  Result<std::optional<std::string>> cursor = OptionalCursor(object.if_contains("cursor"));
  if (!cursor.ok()) return ErrorResponse(cursor.status());
  std::string field;
  std::string value;
  for (const auto& [key, item] : object) {
    if (key == "limit" || key == "cursor") continue;
    if (!field.empty()) {
      return ErrorResponse(InvalidArgument("search takes exactly one field"));
    }
    if (!item.is_string()) {
      return ErrorResponse(TypeErrors({{std::string(key.substr(0, kFieldKeyBytesMax)), "type"}}));
    }
    field = std::string(key.substr(0, kFieldKeyBytesMax));
    value = std::string(item.as_string());
  }
  if (field.empty()) return ErrorResponse(InvalidArgument("search needs one field"));
  int retry_after_seconds = 0;
  Result<service::CustomerListPage> page =
      vault.customers().Search(actor, field, value, *cursor, *limit, &retry_after_seconds);
  if (!page.ok()) {
    // A spent search budget (429) says when the window ends; a locked
    // search (423) waits for a security officer.
    Response response = ErrorResponse(page.status());
    if (page.status().code() == ErrorCode::kRateLimited) {
      response.headers.emplace_back("Retry-After",
                                    std::to_string(std::max(1, retry_after_seconds)));
    }
    return response;
  }
  return JsonResponse(200, CustomerPageJson(*page));
}

// Accounts whose search is locked (issue 10.1), for a security officer.
Response ListSearchLocks(service::Vault& vault, Request&, const service::Actor& actor) {
  Result<std::vector<store::SearchBudgetRow>> locks = vault.customers().SearchLocks(actor);
  if (!locks.ok()) return ErrorResponse(locks.status());
  json::array items;
  for (const store::SearchBudgetRow& row : *locks) {
    items.push_back(json::object{{"account_id", row.account_id},
                                 {"locked_at", FormatRfc3339(row.locked_at_us)},
                                 {"reason", row.lock_reason}});
  }
  return JsonResponse(200, json::object{{"items", std::move(items)}});
}

// Clears an account's search lock: {"reason": "..."} (issue 10.1).
Response ClearSearchLock(service::Vault& vault, Request& request, const service::Actor& actor) {
  Result<json::value> body = ParseJsonBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  std::string reason;
  if (const json::value* r = body->as_object().if_contains("reason")) {
    if (!r->is_string()) return ErrorResponse(TypeErrors({{"reason", "type"}}));
    reason = std::string(r->as_string());
  }
  const Status cleared =
      vault.customers().ClearSearchLock(actor, request.path_params["id"], reason);
  if (!cleared.ok()) return ErrorResponse(cleared);
  Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

Response UpdateCustomer(service::Vault& vault, Request& request, const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  if (!LooksLikeCustomerId(id)) return ErrorResponse(NotFound("no such customer"));
  Result<json::value> body = ParseJsonBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  service::FieldChanges changes;
  std::vector<FieldError> type_errors;
  for (const auto& [key, value] : body->as_object()) {
    const std::string field(key.substr(0, kFieldKeyBytesMax));
    if (value.is_null()) {
      changes[field] = std::nullopt;
    } else if (std::optional<std::string> text = ScalarText(value)) {
      changes[field] = std::move(*text);
    } else {
      type_errors.push_back({field, "type"});
    }
  }
  if (!type_errors.empty()) return ErrorResponse(TypeErrors(std::move(type_errors)));
  Result<service::CustomerView> view = vault.customers().Update(actor, id, changes);
  if (!view.ok()) return ErrorResponse(view.status());
  if (!view->pending_approval_id.empty()) {
    // A sensitive edit filed for approval (R-APR-1): accepted, not applied.
    return JsonResponse(202, json::object{{"approval_id", view->pending_approval_id},
                                          {"status", "pending"},
                                          {"customer", CustomerJson(*view)}});
  }
  return JsonResponse(200, CustomerJson(*view));
}

Response DeleteCustomer(service::Vault& vault, Request& request, const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  if (!LooksLikeCustomerId(id)) return ErrorResponse(NotFound("no such customer"));
  const Status status = vault.customers().Delete(actor, id);
  if (!status.ok()) return ErrorResponse(status);
  Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

Response RevealCustomer(service::Vault& vault, Request& request, const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  if (!LooksLikeCustomerId(id)) return ErrorResponse(NotFound("no such customer"));
  Result<json::value> body = ParseJsonBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::object& object = body->as_object();
  std::vector<std::string> fields;
  std::string reason;
  if (const json::value* f = object.if_contains("fields")) {
    if (!f->is_array()) return ErrorResponse(TypeErrors({{"fields", "type"}}));
    for (const json::value& item : f->as_array()) {
      if (!item.is_string()) return ErrorResponse(TypeErrors({{"fields", "type"}}));
      fields.emplace_back(std::string(item.as_string()).substr(0, kFieldKeyBytesMax));
    }
  }
  if (const json::value* r = object.if_contains("reason")) {
    if (!r->is_string()) return ErrorResponse(TypeErrors({{"reason", "type"}}));
    reason = std::string(r->as_string());
  }
  Result<service::RevealedFields> revealed = vault.customers().Reveal(actor, id, fields, reason);
  if (!revealed.ok()) return ErrorResponse(revealed.status());
  json::object plain;
  for (const auto& [key, value] : revealed->fields) plain[key] = value.view();
  Response response = JsonResponse(200, json::object{{"id", id}, {"fields", std::move(plain)}});
  // Plaintext: never cached anywhere (the server sets no-store on every
  // response; said again here because this one matters most).
  response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("Pragma", "no-cache");
  return response;
}

Response Catalog(service::Vault& vault) {
  json::array fields;
  for (const catalog::FieldDef& field : vault.catalog().fields()) {
    if (!vault.catalog().Collects(field)) continue;
    json::object f;
    f["key"] = field.key;
    f["label_zh"] = field.label_zh;
    f["label_en"] = field.label_en;
    f["class"] = catalog::FieldClassName(field.field_class);
    f["type"] = field.type == catalog::ValueType::kInteger  ? "integer"
                : field.type == catalog::ValueType::kBinary ? "binary"
                                                            : "text";
    f["protection"] = catalog::ProtectionName(field.protection);
    f["mask"] = field.mask;
    f["searchable"] = field.searchable;
    f["pipl_sensitive"] = field.pipl_sensitive;
    f["required"] = field.required;
    if (!field.allowed_values.empty()) {
      json::array allowed;
      for (const std::string& v : field.allowed_values) allowed.push_back(json::string(v));
      f["allowed_values"] = std::move(allowed);
    }
    fields.push_back(std::move(f));
  }
  json::object out;
  out["industry"] = vault.catalog().industry();
  out["fields"] = std::move(fields);
  return JsonResponse(200, out);
}

}  // namespace

void RegisterApiRoutes(Router& router, service::Vault& vault) {
  // The client address: X-Forwarded-For only from a configured proxy.
  router.SetRequestFilter([&vault](Request& request) {
    request.peer_ip = audit::ClientIp(request.peer_ip, request.Header("x-forwarded-for"),
                                      vault.audit().trusted_proxies());
  });
  // Staff present a session token (cvs_...), channel systems an API key (cvk_...).
  // Refusals are counted into per-address summaries (issue 10.12).
  const Authenticator authenticate = [&vault](const Request& request) {
    return vault.accounts().AuthenticateBearer(BearerToken(request), request.peer_ip);
  };
  router.Add("GET", "/healthz", [](Request&) {
    return JsonResponse(200, json::object{{"status", "ok"}});
  });
  router.Add("GET", "/api/v1/openapi.json",
             WithAuth(authenticate, [](Request&, const service::Actor&) {
               Response response;
               response.body = std::string(OpenApiDocument());
               return response;
             }));
  router.Add("GET", "/api/v1/catalog",
             WithAuth(authenticate, [&vault](Request&, const service::Actor& actor) {
               const Status allowed =
                   vault.accounts().Authorize(actor, policy::Operation::kCatalogRead);
               if (!allowed.ok()) return ErrorResponse(allowed);
               return Catalog(vault);
             }));
  auto bind = [&vault,
               &authenticate](Response (*fn)(service::Vault&, Request&, const service::Actor&)) {
    return WithAuth(authenticate,
                    [&vault, fn](Request& r, const service::Actor& a) { return fn(vault, r, a); });
  };
  router.Add("POST", "/api/v1/customers", bind(CreateCustomer));
  router.Add("GET", "/api/v1/customers", bind(ListCustomers));
  router.Add("POST", "/api/v1/customers/search", bind(SearchCustomers));
  router.Add("GET", "/api/v1/customers/{id}", bind(GetCustomer));
  router.Add("PATCH", "/api/v1/customers/{id}", bind(UpdateCustomer));
  router.Add("DELETE", "/api/v1/customers/{id}", bind(DeleteCustomer));
  router.Add("POST", "/api/v1/customers/{id}/reveal", bind(RevealCustomer));
  router.Add("GET", "/api/v1/search-locks", bind(ListSearchLocks));
  router.Add("POST", "/api/v1/search-locks/{id}/clear", bind(ClearSearchLock));
  RegisterIdentityRoutes(router, vault.accounts());
  RegisterAuditRoutes(router, vault.audit(), authenticate);
  RegisterBusinessRoutes(router, vault.business(), authenticate);
  RegisterJobsRoutes(router, vault.jobs(), authenticate);
  RegisterBackupOpsRoutes(router, vault, authenticate);
  RegisterBackupRoutes(router, vault.backups(), vault.backup_ops(), authenticate);
  RegisterTagRoutes(router, vault.approvals(), vault.tags(), authenticate);
  RegisterSelfServiceRoutes(router, vault);  // no bearer token: customers, not staff
}

}  // namespace custvault::http
