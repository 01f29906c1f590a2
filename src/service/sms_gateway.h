// SmsGateway: where customer self-service (R-SELF-1) sends its text
// messages. Pluggable: the default OutboxSmsGateway appends each message
// to a file a test (or a relay) reads; HttpSmsGateway (http/, so that no
// network code lives in service/) calls an SMS provider through a URL
// template. A test may plug in its own.
//
// What goes through a gateway is personal data (the phone number) and a
// secret (the one-time code): a gateway never logs either, and its errors
// name neither.
//
// Thread safety: Send may be called from many threads at once.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/status.h"

namespace custvault::service {

class SmsGateway {
 public:
  virtual ~SmsGateway() = default;
  // Sends one message to a normalised mainland mobile number (11 digits).
  // Returns once the gateway took it (the outbox: durable on disk; HTTP:
  // the provider answered 2xx); kUnavailable when it could not.
  virtual Status Send(const std::string& phone, const std::string& message) = 0;
};

// Appends one JSON line {"at": RFC 3339, "to": phone, "message": text} per
// message to `path` (created 0600; fsynced after every line; lines never
// interleave). The file necessarily holds phone numbers and one-time codes
// in plain: it is as sensitive as the data directory it sits in
// (docs/self-service.md). The file is opened per message, so an operator
// may rotate it at any time.
class OutboxSmsGateway final : public SmsGateway {
 public:
  OutboxSmsGateway(Env* env, std::string path) : env_(env), path_(std::move(path)) {}
  Status Send(const std::string& phone, const std::string& message) override;

 private:
  Env* env_;
  const std::string path_;
  std::mutex mutex_;  // one line at a time
};

// A gateway that refuses every message: what self-service uses until the
// HTTP layer installs the HttpSmsGateway configured by sms.gateway = "http"
// (a CLI process never sends messages).
class UnavailableSmsGateway final : public SmsGateway {
 public:
  Status Send(const std::string&, const std::string&) override {
    return Unavailable("no SMS gateway is installed in this process");
  }
};

// sms.url_template, parsed: "[GET |POST ]http://host[:port]/path?query",
// with {phone} and {message} somewhere in the path or query (each at least
// once overall). POST (the default) sends the query part, placeholders
// filled in, as an application/x-www-form-urlencoded body, so the phone
// number and the code stay out of the request line (and out of proxy
// logs); GET sends the whole URL. Only http:// (an SMS provider's https
// endpoint is reached through a local TLS relay, as the audit webhook).
struct SmsUrlTemplate {
  std::string method = "POST";  // "GET" | "POST"
  std::string host;
  std::string port = "80";
  std::string path_template;   // "/send" (may hold placeholders)
  std::string query_template;  // "to={phone}&text={message}" (without '?')
};

inline constexpr size_t kSmsUrlTemplateBytesMax = 2048;

// kInvalidArgument naming sms.url_template and what is wrong.
Result<SmsUrlTemplate> ParseSmsUrlTemplate(std::string_view text);

// Replaces every {phone} and {message} with the percent-encoded (RFC 3986
// unreserved characters kept, everything else %XX, UTF-8 bytewise) values.
std::string FillSmsTemplate(std::string_view text, std::string_view phone,
                            std::string_view message);

// The bilingual messages (R-SELF-1); never any personal data but the code.
// "【custvault】验证码 123456，5分钟内有效。Your code is 123456, valid for 5 minutes."
std::string CodeMessage(std::string_view code, int ttl_seconds);
// Sent to the phone on record before the change (never the new values).
std::string ContactChangedMessage(bool phone_changed, bool address_changed);

}  // namespace custvault::service
