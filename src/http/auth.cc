#include "http/auth.h"

namespace custvault::http {

std::string_view BearerToken(const Request& request) {
  const std::string& header = request.Header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) {
    return {};
  }
  return std::string_view(header).substr(kBearer.size());
}

Handler WithAuth(Authenticator authenticate, AuthedHandler handler) {
  return [authenticate = std::move(authenticate),
          handler = std::move(handler)](Request& request) -> Response {
    Result<service::Actor> actor = authenticate(request);
    if (!actor.ok()) return ErrorResponse(actor.status());
    return handler(request, *actor);
  };
}

}  // namespace custvault::http
