#include "http/self_service_routes.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <boost/json.hpp>

#include "common/log.h"
#include "http/http_sms_gateway.h"

namespace custvault::http {
namespace json = boost::json;
namespace {

// Per-member limits (bytes), well above any valid value and far below the
// body limit; the service checks the exact formats.
constexpr size_t kCustomerIdBytesMax = 32;
constexpr size_t kLast4BytesMax = 8;
constexpr size_t kPhoneBytesMax = 64;
constexpr size_t kCodeBytesMax = 16;
constexpr size_t kTokenBytesMax = 128;
constexpr size_t kAddressBytesMax = 2048;

struct Member {
  const char* name;
  size_t bytes_max;
};

// The body's string members: unknown members, wrong types and values over
// their limits are refused together (422 naming each).
Result<std::map<std::string, std::string>> ReadMembers(Request& request,
                                                       std::initializer_list<Member> members) {
  if (request.body.size() > kSelfServiceBodyBytesMax) {
    return TooLarge("request body is larger than " + std::to_string(kSelfServiceBodyBytesMax) +
                    " bytes");
  }
  ASSIGN_OR_RETURN(json::value body, ParseJsonBody(request));
  std::map<std::string, std::string> values;
  std::vector<FieldError> errors;
  for (const auto& [key, value] : body.as_object()) {
    const Member* member = nullptr;
    for (const Member& m : members) {
      if (key == m.name) member = &m;
    }
    if (member == nullptr) {
      errors.push_back({std::string(key.substr(0, 48)), "unknown_field"});
    } else if (value.is_null()) {
      continue;  // the same as absent
    } else if (!value.is_string()) {
      errors.push_back({member->name, "type"});
    } else if (value.as_string().size() > member->bytes_max) {
      errors.push_back({member->name, "too_long"});
    } else {
      values[member->name] = std::string(value.as_string());
    }
  }
  // The parsed copy shares no memory with the body text; wipe both.
  for (auto& [key, value] : body.as_object()) {
    if (value.is_string() && !value.as_string().empty()) {
      OPENSSL_cleanse(value.as_string().data(), value.as_string().size());
    }
  }
  if (!errors.empty()) {
    for (auto& [key, value] : values) OPENSSL_cleanse(value.data(), value.size());
    return Status(ErrorCode::kValidationFailed, "some members are not valid", std::move(errors));
  }
  return values;
}

std::string Take(std::map<std::string, std::string>& values, const char* name) {
  const auto found = values.find(name);
  return found == values.end() ? std::string() : std::move(found->second);
}

void Wipe(std::string& text) {
  if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
}

void WipeAll(Request& request, std::map<std::string, std::string>& values) {
  Wipe(request.body);
  for (auto& [key, value] : values) Wipe(value);
}

// The error answer; a 429 says when to come back.
Response RefusalResponse(const Status& status, int retry_after_seconds) {
  Response response = ErrorResponse(status);
  if (status.code() == ErrorCode::kRateLimited) {
    response.headers.emplace_back("Retry-After", std::to_string(std::max(1, retry_after_seconds)));
  }
  return response;
}

Response NoStore(Response response) {
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

Response StartChallenge(service::SelfServiceService& self_service, Request& request) {
  Result<std::map<std::string, std::string>> members = ReadMembers(
      request, {{"customer_id", kCustomerIdBytesMax},
                {"id_last4", kLast4BytesMax},
                {"phone", kPhoneBytesMax}});
  Wipe(request.body);
  if (!members.ok()) return NoStore(ErrorResponse(members.status()));
  service::StartRequest start{Take(*members, "customer_id"), Take(*members, "id_last4"),
                              Take(*members, "phone"), request.peer_ip};
  int retry_after_seconds = 0;
  Result<service::StartedChallenge> started = self_service.Start(start, &retry_after_seconds);
  Wipe(start.id_last4);
  Wipe(start.phone);
  WipeAll(request, *members);
  if (!started.ok()) return NoStore(RefusalResponse(started.status(), retry_after_seconds));
  return NoStore(JsonResponse(202, json::object{{"challenge_id", started->challenge_id},
                                                {"expires_in", started->expires_in_seconds}}));
}

Response VerifyChallenge(service::SelfServiceService& self_service, Request& request) {
  Result<std::map<std::string, std::string>> members =
      ReadMembers(request, {{"code", kCodeBytesMax}});
  Wipe(request.body);
  if (!members.ok()) return NoStore(ErrorResponse(members.status()));
  std::string code = Take(*members, "code");
  int retry_after_seconds = 0;
  Result<service::ChangeToken> token =
      self_service.Verify(request.path_params["id"], code, request.peer_ip, &retry_after_seconds);
  Wipe(code);
  WipeAll(request, *members);
  if (!token.ok()) return NoStore(RefusalResponse(token.status(), retry_after_seconds));
  Response response = JsonResponse(
      200, json::object{{"token", token->token}, {"expires_in", token->expires_in_seconds}});
  Wipe(token->token);
  return NoStore(std::move(response));
}

Response ChangeContact(service::SelfServiceService& self_service, Request& request) {
  Result<std::map<std::string, std::string>> members = ReadMembers(
      request,
      {{"token", kTokenBytesMax}, {"phone", kPhoneBytesMax}, {"address", kAddressBytesMax}});
  Wipe(request.body);
  if (!members.ok()) return NoStore(ErrorResponse(members.status()));
  service::ContactChange change;
  change.token = Take(*members, "token");
  if (members->count("phone")) change.phone = Take(*members, "phone");
  if (members->count("address")) change.address = Take(*members, "address");
  change.ip = request.peer_ip;
  int retry_after_seconds = 0;
  Result<service::CustomerView> view = self_service.Change(change, &retry_after_seconds);
  Wipe(change.token);
  if (change.phone) Wipe(*change.phone);
  if (change.address) Wipe(*change.address);
  WipeAll(request, *members);
  if (!view.ok()) return NoStore(RefusalResponse(view.status(), retry_after_seconds));
  json::object fields;
  for (const auto& [key, value] : view->fields) fields[key] = value;
  return NoStore(
      JsonResponse(200, json::object{{"customer_id", view->id}, {"fields", std::move(fields)}}));
}

}  // namespace

void RegisterSelfServiceRoutes(Router& router, service::Vault& vault) {
  if (Status installed = InstallConfiguredSmsGateway(vault); !installed.ok()) {
    // Vault::Open refuses a bad template already; this would be a bug.
    spdlog::error("self-service: no SMS gateway: {}", installed.ToString());
  }
  service::SelfServiceService& self_service = vault.self_service();
  router.Add("POST", "/api/v1/self-service/challenges",
             [&self_service](Request& request) { return StartChallenge(self_service, request); });
  router.Add("POST", "/api/v1/self-service/challenges/{id}/verify",
             [&self_service](Request& request) { return VerifyChallenge(self_service, request); });
  router.Add("POST", "/api/v1/self-service/changes",
             [&self_service](Request& request) { return ChangeContact(self_service, request); });
}

}  // namespace custvault::http
