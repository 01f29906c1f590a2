#include "http/http_sms_gateway.h"

#include <netdb.h>
#include <openssl/crypto.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace custvault::http {
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
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  if (getaddrinfo(url_.host.c_str(), url_.port.c_str(), &hints, &addresses) != 0) {
    return Unavailable("the SMS gateway host does not resolve");
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(addresses, &freeaddrinfo);
  timeval timeout{};
  timeout.tv_sec = timeout_ms_ / 1000;
  timeout.tv_usec = (timeout_ms_ % 1000) * 1000;
  for (addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
    Socket socket(
        ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol));
    if (socket.fd() < 0) continue;
    // On Linux SO_SNDTIMEO bounds connect() too.
    ::setsockopt(socket.fd(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(socket.fd(), address->ai_addr, address->ai_addrlen) != 0) continue;
    size_t sent = 0;
    while (sent < request.text.size()) {
      const ssize_t n = ::send(socket.fd(), request.text.data() + sent,
                               request.text.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return Unavailable("sending to the SMS gateway failed or timed out");
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
      return Unavailable("the SMS gateway refused the message");
    }
    return Unavailable("the SMS gateway sent no HTTP status in time");
  }
  return Unavailable("cannot connect to the SMS gateway");
}

Status InstallConfiguredSmsGateway(service::Vault& vault) {
  if (vault.config().sms.gateway != "http") return Status::Ok();
  ASSIGN_OR_RETURN(std::unique_ptr<HttpSmsGateway> gateway,
                   HttpSmsGateway::Create(vault.config().sms));
  vault.self_service().SetSmsGateway(std::move(gateway));
  return Status::Ok();
}

}  // namespace custvault::http
