#include "http/identity_routes.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "common/env.h"
#include "http/auth.h"

namespace custvault::http {
namespace json = boost::json;
namespace {

constexpr size_t kTextFieldBytesMax = 4096;

void AddNoStore(Response& response) { response.headers.emplace_back("Cache-Control", "no-store"); }

// Reads an optional string member; kValidationFailed naming it if it is
// there but not a string or too long.
Result<std::string> StringMember(const json::object& object, std::string_view name,
                                 bool required) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr || value->is_null()) {
    if (required) {
      return Status(ErrorCode::kValidationFailed, "a field is missing",
                    {{std::string(name), "required"}});
    }
    return std::string();
  }
  if (!value->is_string()) {
    return Status(ErrorCode::kValidationFailed, "a field has the wrong JSON type",
                  {{std::string(name), "type"}});
  }
  if (value->as_string().size() > kTextFieldBytesMax) {
    return Status(ErrorCode::kValidationFailed, "a field is too long",
                  {{std::string(name), "too_long"}});
  }
  return std::string(value->as_string());
}

Result<json::object> ObjectBody(const Request& request) {
  ASSIGN_OR_RETURN(json::value body, ParseJsonBody(request));
  return std::move(body.as_object());
}

Response NoContent() {
  Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

// The optional "expires_at" (RFC 3339) of a channel key; 0 when absent.
Result<int64_t> ExpiresAtMember(const json::object& body) {
  ASSIGN_OR_RETURN(std::string text, StringMember(body, "expires_at", false));
  if (text.empty()) return int64_t{0};
  std::optional<int64_t> at = ParseRfc3339(text);
  if (!at) {
    return Status(ErrorCode::kValidationFailed, "expires_at is not an RFC 3339 time",
                  {{"expires_at", "format"}});
  }
  return *at;
}

template <typename T, typename ToJson>
json::object Items(const std::vector<T>& items, ToJson to_json) {
  json::array array;
  for (const T& item : items) array.push_back(to_json(item));
  return {{"items", std::move(array)}};
}

// ---- /auth ----

Response Login(service::AccountService& accounts, Request& request) {
  Result<json::object> body = ObjectBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<std::string> username = StringMember(*body, "username", true);
  if (!username.ok()) return ErrorResponse(username.status());
  Result<std::string> password = StringMember(*body, "password", true);
  if (!password.ok()) return ErrorResponse(password.status());
  Result<std::string> otp = StringMember(*body, "otp", false);
  if (!otp.ok()) return ErrorResponse(otp.status());
  int64_t retry_after_seconds = 0;
  Result<service::LoginResult> login =
      accounts.Login(*username, *password, *otp, request.peer_ip, &retry_after_seconds);
  OPENSSL_cleanse(password->data(), password->size());
  OPENSSL_cleanse(request.body.data(), request.body.size());
  if (!login.ok()) {
    Response refused = ErrorResponse(login.status());
    // 429 (this address's bucket) and 503 (every verification slot busy)
    // say when to come back.
    if (retry_after_seconds > 0) {
      std::erase_if(refused.headers, [](const auto& h) { return h.first == "Retry-After"; });
      refused.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
    }
    return refused;
  }
  Response response = JsonResponse(200, json::object{
                                            {"token", login->token},
                                            {"expires_at", FormatRfc3339(login->expires_at_us)},
                                            {"must_change_password", login->must_change_password},
                                            {"must_enrol_totp", login->must_enrol_totp},
                                        });
  AddNoStore(response);
  return response;
}

// Wraps a self-service handler: a session token, limited sessions allowed.
Handler SelfService(service::AccountService& accounts,
                    std::function<Response(Request&, const service::Actor&)> handler) {
  return [&accounts, handler = std::move(handler)](Request& request) -> Response {
    // A missing token is refused (and counted) like a bad one.
    Result<service::SessionActor> session =
        accounts.AuthenticateSelfService(BearerToken(request), request.peer_ip);
    if (!session.ok()) return ErrorResponse(session.status());
    if (Status allowed = accounts.Authorize(session->actor, policy::Operation::kSessionSelf);
        !allowed.ok()) {
      return ErrorResponse(allowed);
    }
    return handler(request, session->actor);
  };
}

Response ChangePassword(service::AccountService& accounts, Request& request,
                        const service::Actor& actor) {
  Result<json::object> body = ObjectBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<std::string> old_password = StringMember(*body, "old_password", true);
  if (!old_password.ok()) return ErrorResponse(old_password.status());
  Result<std::string> new_password = StringMember(*body, "new_password", true);
  if (!new_password.ok()) return ErrorResponse(new_password.status());
  int64_t other_sessions_ended = 0;
  const Status changed =
      accounts.ChangePassword(actor, *old_password, *new_password, &other_sessions_ended);
  OPENSSL_cleanse(old_password->data(), old_password->size());
  OPENSSL_cleanse(new_password->data(), new_password->size());
  OPENSSL_cleanse(request.body.data(), request.body.size());
  if (!changed.ok()) return ErrorResponse(changed);
  return JsonResponse(200, json::object{{"other_sessions_ended", other_sessions_ended}});
}

Response EnrolTotp(service::AccountService& accounts, Request&, const service::Actor& actor) {
  Result<service::TotpEnrolment> enrolment = accounts.BeginTotpEnrolment(actor);
  if (!enrolment.ok()) return ErrorResponse(enrolment.status());
  Response response = JsonResponse(200, json::object{{"otpauth_uri", enrolment->otpauth_uri},
                                                     {"secret", enrolment->secret_base32}});
  AddNoStore(response);
  return response;
}

Response ConfirmTotp(service::AccountService& accounts, Request& request,
                     const service::Actor& actor) {
  Result<json::object> body = ObjectBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<std::string> otp = StringMember(*body, "otp", true);
  if (!otp.ok()) return ErrorResponse(otp.status());
  const Status confirmed = accounts.ConfirmTotpEnrolment(actor, *otp);
  if (!confirmed.ok()) return ErrorResponse(confirmed);
  return NoContent();
}

// ---- /users ----

Response ListUsers(service::AccountService& accounts, Request&, const service::Actor& actor) {
  Result<std::vector<service::AccountView>> users = accounts.ListAccounts(actor);
  if (!users.ok()) return ErrorResponse(users.status());
  return JsonResponse(200, Items(*users, AccountJson));
}

Response CreateUser(service::AccountService& accounts, Request& request,
                    const service::Actor& actor) {
  // Policy before parsing: a caller who may not create accounts learns
  // nothing from validation errors.
  if (Status allowed = accounts.Authorize(actor, policy::Operation::kAccountManage); !allowed.ok()) {
    return ErrorResponse(allowed);
  }
  Result<json::object> body = ObjectBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  service::NewAccount account;
  for (auto [name, target] : {std::pair<const char*, std::string*>{"username", &account.username},
                              {"display_name", &account.display_name},
                              {"ip_allowlist", &account.ip_allowlist}}) {
    Result<std::string> value = StringMember(*body, name, std::string_view(name) == "username");
    if (!value.ok()) return ErrorResponse(value.status());
    *target = std::move(*value);
  }
  Result<std::string> role_name = StringMember(*body, "role", true);
  if (!role_name.ok()) return ErrorResponse(role_name.status());
  std::optional<service::Role> role = service::ParseRole(*role_name);
  if (!role) {
    return ErrorResponse(
        Status(ErrorCode::kValidationFailed, "unknown role", {{"role", "unknown_role"}}));
  }
  account.role = *role;
  Result<service::CreatedAccount> created = accounts.CreateAccount(actor, account);
  if (!created.ok()) return ErrorResponse(created.status());
  Response response =
      JsonResponse(201, json::object{{"account", AccountJson(created->account)},
                                     {"role_request_id", created->role_request_id},
                                     {"one_time_password", created->one_time_password}});
  AddNoStore(response);
  return response;
}

Response DisableUser(service::AccountService& accounts, Request& request,
                     const service::Actor& actor) {
  const Status disabled = accounts.DisableAccount(actor, request.path_params["id"]);
  if (!disabled.ok()) return ErrorResponse(disabled);
  return NoContent();
}

Response ReviewUser(service::AccountService& accounts, Request& request,
                    const service::Actor& actor) {
  if (Status allowed = accounts.Authorize(actor, policy::Operation::kAccountReview); !allowed.ok()) {
    return ErrorResponse(allowed);
  }
  Result<json::object> body = ObjectBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<std::string> comment = StringMember(*body, "comment", false);
  if (!comment.ok()) return ErrorResponse(comment.status());
  const Status reviewed = accounts.ReviewAccount(actor, request.path_params["id"], *comment);
  if (!reviewed.ok()) return ErrorResponse(reviewed);
  return NoContent();
}

Response OverdueReviews(service::AccountService& accounts, Request&, const service::Actor& actor) {
  Result<std::vector<service::AccountView>> users = accounts.OverdueReviews(actor);
  if (!users.ok()) return ErrorResponse(users.status());
  return JsonResponse(200, Items(*users, AccountJson));
}

// ---- /role-requests ----

Response CreateRoleRequest(service::AccountService& accounts, Request& request,
                           const service::Actor& actor) {
  if (Status allowed = accounts.Authorize(actor, policy::Operation::kRoleRequest); !allowed.ok()) {
    return ErrorResponse(allowed);
  }
  Result<json::object> body = ObjectBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<std::string> account_id = StringMember(*body, "account_id", true);
  if (!account_id.ok()) return ErrorResponse(account_id.status());
  Result<std::string> role_name = StringMember(*body, "role", true);
  if (!role_name.ok()) return ErrorResponse(role_name.status());
  Result<std::string> comment = StringMember(*body, "comment", false);
  if (!comment.ok()) return ErrorResponse(comment.status());
  std::optional<service::Role> role = service::ParseRole(*role_name);
  if (!role) {
    return ErrorResponse(
        Status(ErrorCode::kValidationFailed, "unknown role", {{"role", "unknown_role"}}));
  }
  Result<service::RoleRequestView> created =
      accounts.RequestRole(actor, *account_id, *role, *comment);
  if (!created.ok()) return ErrorResponse(created.status());
  return JsonResponse(201, RoleRequestJson(*created));
}

Response ListRoleRequests(service::AccountService& accounts, Request& request,
                          const service::Actor& actor) {
  std::string status;
  for (const auto& [name, value] : request.query) {
    if (name != "status") return ErrorResponse(InvalidArgument("unknown query parameter"));
    status = value;
  }
  Result<std::vector<service::RoleRequestView>> requests = accounts.ListRoleRequests(actor, status);
  if (!requests.ok()) return ErrorResponse(requests.status());
  return JsonResponse(200, Items(*requests, RoleRequestJson));
}

Response DecideRoleRequest(service::AccountService& accounts, Request& request,
                           const service::Actor& actor, bool approve) {
  if (Status allowed = accounts.Authorize(actor, policy::Operation::kRoleApprove); !allowed.ok()) {
    return ErrorResponse(allowed);
  }
  Result<json::object> body = ObjectBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<std::string> comment = StringMember(*body, "comment", false);
  if (!comment.ok()) return ErrorResponse(comment.status());
  Result<service::RoleRequestView> decided =
      accounts.DecideRoleRequest(actor, request.path_params["id"], approve, *comment);
  if (!decided.ok()) return ErrorResponse(decided.status());
  return JsonResponse(200, RoleRequestJson(*decided));
}

// ---- /channels ----

Response RegisterChannel(service::AccountService& accounts, Request& request,
                         const service::Actor& actor) {
  if (Status allowed = accounts.Authorize(actor, policy::Operation::kChannelManage); !allowed.ok()) {
    return ErrorResponse(allowed);
  }
  Result<json::object> body = ObjectBody(request);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<std::string> name = StringMember(*body, "name", true);
  if (!name.ok()) return ErrorResponse(name.status());
  Result<int64_t> expires_at = ExpiresAtMember(*body);
  if (!expires_at.ok()) return ErrorResponse(expires_at.status());
  Result<service::RegisteredChannel> channel =
      accounts.RegisterChannel(actor, *name, *expires_at);
  if (!channel.ok()) return ErrorResponse(channel.status());
  json::object out = ChannelJson(channel->channel);
  out["api_key"] = channel->api_key;
  Response response = JsonResponse(201, out);
  AddNoStore(response);
  return response;
}

Response RotateChannelKey(service::AccountService& accounts, Request& request,
                          const service::Actor& actor) {
  if (Status allowed = accounts.Authorize(actor, policy::Operation::kChannelManage); !allowed.ok()) {
    return ErrorResponse(allowed);
  }
  int64_t expires_at = 0;
  if (!request.body.empty()) {  // the body is optional
    Result<json::object> body = ObjectBody(request);
    if (!body.ok()) return ErrorResponse(body.status());
    Result<int64_t> parsed = ExpiresAtMember(*body);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    expires_at = *parsed;
  }
  Result<service::RegisteredChannel> channel =
      accounts.RotateChannelKey(actor, request.path_params["name"], expires_at);
  if (!channel.ok()) return ErrorResponse(channel.status());
  json::object out = ChannelJson(channel->channel);
  out["api_key"] = channel->api_key;
  Response response = JsonResponse(200, out);
  AddNoStore(response);
  return response;
}

Response RevokeChannel(service::AccountService& accounts, Request& request,
                       const service::Actor& actor) {
  Result<service::ChannelView> channel =
      accounts.RevokeChannel(actor, request.path_params["name"]);
  if (!channel.ok()) return ErrorResponse(channel.status());
  return JsonResponse(200, ChannelJson(*channel));
}

Response ListChannels(service::AccountService& accounts, Request&, const service::Actor& actor) {
  Result<std::vector<service::ChannelView>> channels = accounts.ListChannels(actor);
  if (!channels.ok()) return ErrorResponse(channels.status());
  return JsonResponse(200, Items(*channels, ChannelJson));
}

}  // namespace

json::object AccountJson(const service::AccountView& a) {
  auto time_or_null = [](int64_t us) -> json::value {
    return us == 0 ? json::value(nullptr) : json::value(FormatRfc3339(us));
  };
  return {{"id", a.id},
          {"username", a.username},
          {"display_name", a.display_name},
          {"role", service::RoleName(a.role)},
          {"status", a.status},
          {"must_change_password", a.must_change_password},
          {"totp_enrolled", a.totp_enrolled},
          {"locked_until", time_or_null(a.locked_until_us)},
          {"password_changed_at", time_or_null(a.password_changed_at_us)},
          {"last_review_at", time_or_null(a.last_review_at_us)},
          {"last_login_at", time_or_null(a.last_login_at_us)},
          {"created_at", time_or_null(a.created_at_us)},
          {"ip_allowlist", a.ip_allowlist}};
}

json::object ChannelJson(const service::ChannelView& channel) {
  auto time_or_null = [](int64_t us) -> json::value {
    return us == 0 ? json::value(nullptr) : json::value(FormatRfc3339(us));
  };
  return {{"name", channel.name},
          {"created_by", channel.created_by},
          {"created_at", FormatRfc3339(channel.created_at_us)},
          {"status", channel.status},
          {"expires_at", time_or_null(channel.expires_at_us)},
          {"previous_key_valid_until", time_or_null(channel.previous_valid_until_us)},
          {"revoked_at", time_or_null(channel.revoked_at_us)}};
}

json::object RoleRequestJson(const service::RoleRequestView& r) {
  return {{"id", r.id},
          {"account_id", r.account_id},
          {"role", service::RoleName(r.requested_role)},
          {"requested_by", r.requested_by},
          {"requested_at", FormatRfc3339(r.requested_at_us)},
          {"status", r.status},
          {"decided_by", r.decided_by.empty() ? json::value(nullptr) : json::value(r.decided_by)},
          {"decided_at",
           r.decided_at_us == 0 ? json::value(nullptr) : json::value(FormatRfc3339(r.decided_at_us))},
          {"comment", r.comment}};
}

void RegisterIdentityRoutes(Router& router, service::AccountService& accounts) {
  const Authenticator authenticate = [&accounts](const Request& request) {
    return accounts.AuthenticateBearer(BearerToken(request), request.peer_ip);
  };
  using Fn = Response (*)(service::AccountService&, Request&, const service::Actor&);
  auto bind = [&accounts, &authenticate](Fn fn) {
    return WithAuth(authenticate, [&accounts, fn](Request& r, const service::Actor& a) {
      return fn(accounts, r, a);
    });
  };
  auto self = [&accounts](Fn fn) {
    return SelfService(accounts, [&accounts, fn](Request& r, const service::Actor& a) {
      return fn(accounts, r, a);
    });
  };
  router.Add("POST", "/api/v1/auth/login", [&accounts](Request& r) { return Login(accounts, r); });
  router.Add("POST", "/api/v1/auth/logout",
             self([](service::AccountService& s, Request&, const service::Actor& a) {
               const Status out = s.Logout(a);
               return out.ok() ? NoContent() : ErrorResponse(out);
             }));
  router.Add("POST", "/api/v1/auth/password", self(ChangePassword));
  router.Add("POST", "/api/v1/auth/totp/enrol", self(EnrolTotp));
  router.Add("POST", "/api/v1/auth/totp/confirm", self(ConfirmTotp));
  router.Add("GET", "/api/v1/users", bind(ListUsers));
  router.Add("POST", "/api/v1/users", bind(CreateUser));
  router.Add("GET", "/api/v1/users/overdue-reviews", bind(OverdueReviews));
  router.Add("POST", "/api/v1/users/{id}/disable", bind(DisableUser));
  router.Add("POST", "/api/v1/users/{id}/review", bind(ReviewUser));
  router.Add("POST", "/api/v1/role-requests", bind(CreateRoleRequest));
  router.Add("GET", "/api/v1/role-requests", bind(ListRoleRequests));
  router.Add("POST", "/api/v1/role-requests/{id}/approve",
             bind([](service::AccountService& s, Request& r, const service::Actor& a) {
               return DecideRoleRequest(s, r, a, true);
             }));
  router.Add("POST", "/api/v1/role-requests/{id}/reject",
             bind([](service::AccountService& s, Request& r, const service::Actor& a) {
               return DecideRoleRequest(s, r, a, false);
             }));
  router.Add("POST", "/api/v1/channels", bind(RegisterChannel));
  router.Add("GET", "/api/v1/channels", bind(ListChannels));
  router.Add("POST", "/api/v1/channels/{name}/rotate", bind(RotateChannelKey));
  router.Add("POST", "/api/v1/channels/{name}/revoke", bind(RevokeChannel));
}

}  // namespace custvault::http
