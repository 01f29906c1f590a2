// HttpSmsGateway: the SmsGateway of sms.gateway = "http" (R-SELF-1). One
// blocking HTTP/1.1 request per message to the provider named by
// sms.url_template (service::ParseSmsUrlTemplate says what it may look
// like): POST with the filled-in query part as a form body (the default,
// so the phone number and the code stay out of request lines and proxy
// logs), or GET with the whole URL. 2xx within sms.timeout_ms (connect,
// send and reading the status line each) is success; anything else is
// kUnavailable, with a message that names neither the phone nor the text.
// Plain http:// only: an https provider is reached through a local TLS
// relay, as the audit webhook is.
//
// Lives in http/ so that no network code sits in service/; it is plain
// sockets, not Beast. SelfServiceService calls it from its sender thread.
// Thread safety: Send may be called from many threads.
#pragma once

#include <memory>

#include "common/config.h"
#include "service/sms_gateway.h"
#include "service/vault.h"

namespace custvault::http {

class HttpSmsGateway final : public service::SmsGateway {
 public:
  // kInvalidArgument for a bad sms.url_template.
  static Result<std::unique_ptr<HttpSmsGateway>> Create(const SmsConfig& config);
  Status Send(const std::string& phone, const std::string& message) override;

 private:
  HttpSmsGateway(service::SmsUrlTemplate url, int timeout_ms)
      : url_(std::move(url)), timeout_ms_(timeout_ms) {}
  const service::SmsUrlTemplate url_;
  const int timeout_ms_;
};

// When the vault's config says sms.gateway = "http", installs an
// HttpSmsGateway into its self-service (the outbox needs nothing).
// kInvalidArgument for a bad template (already refused when the vault
// opened, so in practice never).
Status InstallConfiguredSmsGateway(service::Vault& vault);

}  // namespace custvault::http
