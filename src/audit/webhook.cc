#include "audit/webhook.h"

#include <cstring>

#include "common/http_exchange.h"
#include "common/log.h"

namespace custvault::audit {
namespace {

bool ValidHostOrPort(std::string_view text, bool port) {
  if (text.empty() || text.size() > 255) return false;
  for (char c : text) {
    const bool digit = c >= '0' && c <= '9';
    const bool host_char =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == ':';
    if (!(digit || (!port && host_char))) return false;
  }
  return true;
}

}  // namespace

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() > kWebhookUrlBytesMax || url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("audit.alert_webhook_url must be an http:// URL");
  }
  std::string_view rest = url.substr(kScheme.size());
  HttpUrl parsed;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) parsed.path = std::string(rest.substr(slash));
  for (char c : parsed.path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return InvalidArgument("audit.alert_webhook_url has a space or control character");
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgument("audit.alert_webhook_url must not carry credentials");
  }
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument("bad IPv6 host in webhook URL");
    parsed.host = std::string(authority.substr(1, close - 1));
    authority = authority.substr(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') return InvalidArgument("bad port in webhook URL");
      parsed.port = std::string(authority.substr(1));
    }
  } else {
    const size_t colon = authority.rfind(':');
    parsed.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) parsed.port = std::string(authority.substr(colon + 1));
  }
  if (!ValidHostOrPort(parsed.host, false) || !ValidHostOrPort(parsed.port, true) ||
      std::stoi(parsed.port.substr(0, 6)) < 1 || std::stoi(parsed.port.substr(0, 6)) > 65535) {
    return InvalidArgument("audit.alert_webhook_url has a bad host or port");
  }
  return parsed;
}

Status PostJson(const HttpUrl& url, std::string_view body, int timeout_ms) {
  std::string request =
      "POST " + url.path + " HTTP/1.1\r\nHost: " + url.host +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n";
  request.append(body);
  ASSIGN_OR_RETURN(const int code,
                   ExchangeHttp(url.host, url.port, request, timeout_ms, "the webhook receiver"));
  if (code / 100 != 2) return Unavailable("the webhook receiver refused the alert");
  return Status::Ok();
}

Result<std::unique_ptr<WebhookSender>> WebhookSender::Create(std::string_view url) {
  ASSIGN_OR_RETURN(HttpUrl parsed, ParseHttpUrl(url));
  auto sender = std::unique_ptr<WebhookSender>(new WebhookSender(std::move(parsed)));
  sender->thread_ = std::thread([raw = sender.get()] { raw->Run(); });
  return sender;
}

WebhookSender::WebhookSender(HttpUrl url) : url_(std::move(url)) {}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WebhookSender::Post(std::string body) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kWebhookQueueMax || stopping_) {
      ++failed_;
      spdlog::warn("audit alert webhook queue full; alert not posted (it is in the alerts table)");
      return;
    }
    queue_.push_back(std::move(body));
  }
  wake_.notify_one();
}

int64_t WebhookSender::delivered() const {
  std::lock_guard lock(mutex_);
  return delivered_;
}

int64_t WebhookSender::failed() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

void WebhookSender::Run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    std::string body = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    const Status status = PostJson(url_, body, kWebhookTimeoutMs);
    if (!status.ok()) spdlog::warn("audit alert webhook: {}", status.ToString());
    lock.lock();
    if (status.ok()) {
      ++delivered_;
    } else {
      ++failed_;
    }
  }
}

}  // namespace custvault::audit
