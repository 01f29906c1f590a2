#include "http/business_routes.h"

#include <boost/json.hpp>
#include <charconv>

#include "common/env.h"
#include "http/message.h"

namespace custvault::http {
namespace json = boost::json;
namespace {

constexpr size_t kMemberNameBytesMax = 48;  // of an unknown member, as named in an error
constexpr size_t kCursorBytesMax = 512;

json::value OptionalTimeJson(const std::optional<int64_t>& time_us) {
  if (time_us) return json::string(FormatRfc3339(*time_us));
  return nullptr;
}

json::value OptionalTextJson(const std::string& text) {
  if (text.empty()) return nullptr;
  return json::string(text);
}

void PutSummary(json::object& out, const std::optional<std::string>& summary,
                service::SummaryShown shown) {
  if (summary) out["summary"] = *summary;
  out["summary_shown"] = service::SummaryShownName(shown);
}

// Reads the members of `body` named in `texts` into strings; null is
// "absent". Anything else is collected in *errors.
struct TextMember {
  std::string_view name;
  std::string* target;
};

void ReadMembers(const json::object& body, std::initializer_list<TextMember> texts,
                 std::initializer_list<std::string_view> others, std::vector<FieldError>* errors) {
  for (const auto& [key, value] : body) {
    bool known = false;
    for (const TextMember& member : texts) {
      if (key != member.name) continue;
      known = true;
      if (value.is_string()) {
        *member.target = std::string(value.as_string());
      } else if (!value.is_null()) {
        errors->push_back({std::string(member.name), "type"});
      }
    }
    for (std::string_view other : others) known = known || key == other;
    if (!known) {
      errors->push_back({std::string(key.substr(0, kMemberNameBytesMax)), "unknown_field"});
    }
  }
}

// Customer ids are C + 14 digits; anything else cannot exist (404).
bool LooksLikeCustomerId(std::string_view id) {
  if (id.size() != 15 || id[0] != 'C') return false;
  for (size_t i = 1; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
  }
  return true;
}

struct ListQuery {
  std::optional<std::string> cursor;
  std::optional<int> limit;
};

Result<ListQuery> ListQueryOf(const Request& request) {
  ListQuery query;
  for (const auto& [name, value] : request.query) {
    if (name == "limit") {
      int limit = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (error != std::errc() || end != value.data() + value.size()) {
        return InvalidArgument("limit must be an integer");
      }
      query.limit = limit;
    } else if (name == "cursor") {
      if (value.empty() || value.size() > kCursorBytesMax) {
        return InvalidArgument("cursor must be a next_cursor of an earlier page");
      }
      query.cursor = value;
    } else {
      return InvalidArgument("unknown query parameter: " + name.substr(0, kMemberNameBytesMax));
    }
  }
  return query;
}

template <typename View, typename ToJson>
json::object PageJson(const service::BusinessListPage<View>& page, ToJson to_json) {
  json::array items;
  items.reserve(page.items.size());
  for (const View& view : page.items) items.push_back(to_json(view));
  json::object out;
  out["items"] = std::move(items);
  if (page.next_cursor) {
    out["next_cursor"] = *page.next_cursor;
  } else {
    out["next_cursor"] = nullptr;
  }
  return out;
}

Response NoSuchCustomer() { return ErrorResponse(NotFound("customer does not exist")); }

Response AddTransaction(service::BusinessService& business, Request& request,
                        const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  if (!LooksLikeCustomerId(id)) return NoSuchCustomer();
  Result<json::value> body = ParseJsonBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<service::TransactionView> view =
      business.AddTransaction(actor, id, TransactionFromJson(body->as_object()));
  if (!view.ok()) return ErrorResponse(view.status());
  return JsonResponse(201, TransactionJson(*view));
}

Response ListTransactions(service::BusinessService& business, Request& request,
                          const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  if (!LooksLikeCustomerId(id)) return NoSuchCustomer();
  Result<ListQuery> query = ListQueryOf(request);
  if (!query.ok()) return ErrorResponse(query.status());
  Result<service::BusinessListPage<service::TransactionView>> page =
      business.ListTransactions(actor, id, query->cursor, query->limit);
  if (!page.ok()) return ErrorResponse(page.status());
  return JsonResponse(200, PageJson(*page, TransactionJson));
}

Response AddComplaint(service::BusinessService& business, Request& request,
                      const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  if (!LooksLikeCustomerId(id)) return NoSuchCustomer();
  Result<json::value> body = ParseJsonBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<service::ComplaintView> view =
      business.AddComplaint(actor, id, ComplaintFromJson(body->as_object()));
  if (!view.ok()) return ErrorResponse(view.status());
  return JsonResponse(201, ComplaintJson(*view));
}

Response CloseComplaint(service::BusinessService& business, Request& request,
                        const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  const std::string& complaint_id = request.path_params["cid"];
  if (!LooksLikeCustomerId(id)) return NoSuchCustomer();
  std::string closed_at;
  // The body is optional: without one the complaint closes now.
  if (!request.body.empty()) {
    Result<json::value> body = ParseJsonBody(request);
    if (!body.ok()) return ErrorResponse(body.status());
    std::vector<FieldError> errors;
    ReadMembers(body->as_object(), {{"closed_at", &closed_at}}, {}, &errors);
    if (!errors.empty()) {
      return ErrorResponse(Status(ErrorCode::kValidationFailed, "the close request is not valid",
                                  std::move(errors)));
    }
  }
  // Any complaint id goes to the service (role check and audit first; an
  // id that cannot exist is simply not found).
  Result<service::ComplaintView> view = business.CloseComplaint(actor, id, complaint_id, closed_at);
  if (!view.ok()) return ErrorResponse(view.status());
  return JsonResponse(200, ComplaintJson(*view));
}

Response ListComplaints(service::BusinessService& business, Request& request,
                        const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  if (!LooksLikeCustomerId(id)) return NoSuchCustomer();
  Result<ListQuery> query = ListQueryOf(request);
  if (!query.ok()) return ErrorResponse(query.status());
  Result<service::BusinessListPage<service::ComplaintView>> page =
      business.ListComplaints(actor, id, query->cursor, query->limit);
  if (!page.ok()) return ErrorResponse(page.status());
  return JsonResponse(200, PageJson(*page, ComplaintJson));
}

Response AddCooperation(service::BusinessService& business, Request& request,
                        const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  if (!LooksLikeCustomerId(id)) return NoSuchCustomer();
  Result<json::value> body = ParseJsonBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<service::CooperationView> view =
      business.AddCooperation(actor, id, CooperationFromJson(body->as_object()));
  if (!view.ok()) return ErrorResponse(view.status());
  return JsonResponse(201, CooperationJson(*view));
}

Response ListCooperation(service::BusinessService& business, Request& request,
                         const service::Actor& actor) {
  const std::string& id = request.path_params["id"];
  if (!LooksLikeCustomerId(id)) return NoSuchCustomer();
  Result<ListQuery> query = ListQueryOf(request);
  if (!query.ok()) return ErrorResponse(query.status());
  Result<service::BusinessListPage<service::CooperationView>> page =
      business.ListCooperation(actor, id, query->cursor, query->limit);
  if (!page.ok()) return ErrorResponse(page.status());
  return JsonResponse(200, PageJson(*page, CooperationJson));
}

}  // namespace

json::object TransactionJson(const service::TransactionView& view) {
  json::object out;
  out["id"] = view.id;
  out["customer_id"] = view.customer_id;
  out["amount_fen"] = view.amount_fen;
  out["occurred_at"] = FormatRfc3339(view.occurred_at_us);
  out["channel"] = view.channel;
  out["reference"] = OptionalTextJson(view.reference);
  out["created_by"] = view.created_by;
  out["created_at"] = FormatRfc3339(view.created_at_us);
  return out;
}

json::object ComplaintJson(const service::ComplaintView& view) {
  json::object out;
  out["id"] = view.id;
  out["customer_id"] = view.customer_id;
  out["opened_at"] = FormatRfc3339(view.opened_at_us);
  out["closed_at"] = OptionalTimeJson(view.closed_at_us);
  out["status"] = view.status;
  PutSummary(out, view.summary, view.summary_shown);
  out["created_by"] = view.created_by;
  out["created_at"] = FormatRfc3339(view.created_at_us);
  out["closed_by"] = OptionalTextJson(view.closed_by);
  return out;
}

json::object CooperationJson(const service::CooperationView& view) {
  json::object out;
  out["id"] = view.id;
  out["customer_id"] = view.customer_id;
  out["started_at"] = FormatRfc3339(view.started_at_us);
  out["ended_at"] = OptionalTimeJson(view.ended_at_us);
  out["kind"] = view.kind;
  PutSummary(out, view.summary, view.summary_shown);
  out["created_by"] = view.created_by;
  out["created_at"] = FormatRfc3339(view.created_at_us);
  return out;
}

service::NewTransaction TransactionFromJson(const json::object& body) {
  service::NewTransaction input;
  ReadMembers(body,
              {{"occurred_at", &input.occurred_at},
               {"channel", &input.channel},
               {"reference", &input.reference}},
              {"amount_fen"}, &input.decode_errors);
  if (const json::value* amount = body.if_contains("amount_fen")) {
    if (amount->is_int64()) {
      input.amount_fen = amount->as_int64();
    } else if (amount->is_uint64()) {
      input.decode_errors.push_back({"amount_fen", "out_of_range"});
    } else if (!amount->is_null()) {
      // Fen are whole numbers: 12.5 or "1250" is refused, not rounded.
      input.decode_errors.push_back({"amount_fen", "type"});
    }
  }
  return input;
}

service::NewComplaint ComplaintFromJson(const json::object& body) {
  service::NewComplaint input;
  ReadMembers(body,
              {{"opened_at", &input.opened_at},
               {"closed_at", &input.closed_at},
               {"status", &input.status},
               {"summary", &input.summary}},
              {}, &input.decode_errors);
  return input;
}

service::NewCooperation CooperationFromJson(const json::object& body) {
  service::NewCooperation input;
  ReadMembers(body,
              {{"started_at", &input.started_at},
               {"ended_at", &input.ended_at},
               {"kind", &input.kind},
               {"summary", &input.summary}},
              {}, &input.decode_errors);
  return input;
}

void RegisterBusinessRoutes(Router& router, service::BusinessService& business,
                            Authenticator authenticate) {
  auto bind = [&business, &authenticate](
                  Response (*fn)(service::BusinessService&, Request&, const service::Actor&)) {
    return WithAuth(authenticate, [&business, fn](Request& r, const service::Actor& a) {
      return fn(business, r, a);
    });
  };
  router.Add("POST", "/api/v1/customers/{id}/transactions", bind(AddTransaction));
  router.Add("GET", "/api/v1/customers/{id}/transactions", bind(ListTransactions));
  router.Add("POST", "/api/v1/customers/{id}/complaints", bind(AddComplaint));
  router.Add("GET", "/api/v1/customers/{id}/complaints", bind(ListComplaints));
  router.Add("POST", "/api/v1/customers/{id}/complaints/{cid}/close", bind(CloseComplaint));
  router.Add("POST", "/api/v1/customers/{id}/cooperation", bind(AddCooperation));
  router.Add("GET", "/api/v1/customers/{id}/cooperation", bind(ListCooperation));
}

}  // namespace custvault::http
