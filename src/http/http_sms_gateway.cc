#include "http/http_sms_gateway.h"

#include <openssl/crypto.h>

#include "common/http_exchange.h"

namespace custvault::http {
namespace {

// The request holds the phone number and the code: wiped however it ends.
class WipedString {
 public:
  ~WipedString() {
    if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  }
  std::string text;
};

}  // namespace

Result<std::unique_ptr<HttpSmsGateway>> HttpSmsGateway::Create(const SmsConfig& config) {
  ASSIGN_OR_RETURN(service::SmsUrlTemplate url, service::ParseSmsUrlTemplate(config.url_template));
  return std::unique_ptr<HttpSmsGateway>(new HttpSmsGateway(std::move(url), config.timeout_ms));
}

Status HttpSmsGateway::Send(const std::string& phone, const std::string& message) {
  WipedString request;
  {
    WipedString path;
    path.text = service::FillSmsTemplate(url_.path_template, phone, message);
    WipedString query;
    query.text = service::FillSmsTemplate(url_.query_template, phone, message);
    if (url_.method == "GET") {
      request.text = "GET " + path.text + (query.text.empty() ? "" : "?" + query.text) +
                     " HTTP/1.1\r\nHost: " + url_.host + "\r\nConnection: close\r\n\r\n";
    } else {
      request.text = "POST " + path.text + " HTTP/1.1\r\nHost: " + url_.host +
                     "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                     std::to_string(query.text.size()) + "\r\nConnection: close\r\n\r\n" +
                     query.text;
    }
  }
  ASSIGN_OR_RETURN(const int code, ExchangeHttp(url_.host, url_.port, request.text, timeout_ms_,
                                                "the SMS gateway"));
  if (code / 100 != 2) return Unavailable("the SMS gateway refused the message");
  return Status::Ok();
}

Status InstallConfiguredSmsGateway(service::Vault& vault) {
  if (vault.config().sms.gateway != "http") return Status::Ok();
  ASSIGN_OR_RETURN(std::unique_ptr<HttpSmsGateway> gateway,
                   HttpSmsGateway::Create(vault.config().sms));
  vault.self_service().SetSmsGateway(std::move(gateway));
  return Status::Ok();
}

}  // namespace custvault::http
