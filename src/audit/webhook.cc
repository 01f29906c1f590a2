#include "audit/webhook.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

#include "common/log.h"

namespace custvault::audit {
namespace {

constexpr size_t kResponseBytesMax = 1024;

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

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
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  if (getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &addresses) != 0) {
    return Unavailable("webhook host does not resolve");
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(addresses, &freeaddrinfo);
  timeval timeout{};
  timeout.tv_sec = timeout_ms / 1000;
  timeout.tv_usec = (timeout_ms % 1000) * 1000;
  for (addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
    Socket socket(
        ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol));
    if (socket.fd() < 0) continue;
    // On Linux SO_SNDTIMEO bounds connect() too.
    ::setsockopt(socket.fd(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(socket.fd(), address->ai_addr, address->ai_addrlen) != 0) continue;
    std::string request =
        "POST " + url.path + " HTTP/1.1\r\nHost: " + url.host +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n";
    request.append(body);
    size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n =
          ::send(socket.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return Unavailable("webhook send failed or timed out");
      sent += static_cast<size_t>(n);
    }
    std::string response;
    char buffer[256];
    while (response.find("\r\n") == std::string::npos && response.size() < kResponseBytesMax) {
      const ssize_t n = ::recv(socket.fd(), buffer, sizeof buffer, 0);
      if (n <= 0) break;
      response.append(buffer, static_cast<size_t>(n));
    }
    // "HTTP/1.1 200 OK"
    if (response.size() >= 12 && response.compare(0, 5, "HTTP/") == 0) {
      const size_t space = response.find(' ');
      if (space != std::string::npos && space + 1 < response.size() && response[space + 1] == '2') {
        return Status::Ok();
      }
      return Unavailable("webhook receiver refused the alert");
    }
    return Unavailable("webhook receiver sent no HTTP status in time");
  }
  return Unavailable("cannot connect to the webhook receiver");
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
