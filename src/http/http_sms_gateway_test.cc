// R-SELF-1: the HTTP SMS gateway against a socket listening in the test.
#include "http/http_sms_gateway.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

namespace custvault::http {
namespace {

// Serves one request on 127.0.0.1 (a free port), answering `status_line`.
class LocalProvider {
 public:
  explicit LocalProvider(std::string status_line) : status_line_(std::move(status_line)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t size = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    EXPECT_EQ(listen(fd_, 8), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~LocalProvider() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  std::string Base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Request() { return promise_.get_future().get(); }

 private:
  void Serve() {
    const int client = accept(fd_, nullptr, nullptr);
    if (client < 0) {
      promise_.set_value("");
      return;
    }
    std::string request;
    char buffer[1024];
    while (true) {
      const ssize_t n = recv(client, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
      const size_t end = request.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      size_t length = 0;
      if (const size_t at = request.find("Content-Length: "); at != std::string::npos) {
        length = std::stoul(request.substr(at + 16));
      }
      if (request.size() >= end + 4 + length) break;
    }
    const std::string response = status_line_ + "\r\nContent-Length: 0\r\n\r\n";
    send(client, response.data(), response.size(), MSG_NOSIGNAL);
    close(client);
    promise_.set_value(request);
  }

  std::string status_line_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::promise<std::string> promise_;
};

SmsConfig Config(const std::string& url_template) {
  SmsConfig config;
  config.gateway = "http";
  config.url_template = url_template;
  config.timeout_ms = 2000;
  return config;
}

TEST(HttpSmsGatewayTest, PostSendsTheFilledQueryAsAFormBody) {
  LocalProvider provider("HTTP/1.1 200 OK");
  Result<std::unique_ptr<HttpSmsGateway>> gateway =
      HttpSmsGateway::Create(Config(provider.Base() + "/send?to={phone}&text={message}&k=v"));
  ASSERT_TRUE(gateway.ok()) << gateway.status().ToString();
  ASSERT_TRUE((*gateway)->Send("13812345678", "验证码 123456").ok());
  const std::string request = provider.Request();
  EXPECT_EQ(request.rfind("POST /send HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Content-Type: application/x-www-form-urlencoded\r\n"), std::string::npos);
  const std::string body = request.substr(request.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, "to=13812345678&text=%E9%AA%8C%E8%AF%81%E7%A0%81%20123456&k=v");
  // The request line carries neither the phone nor the code.
  const std::string line = request.substr(0, request.find("\r\n"));
  EXPECT_EQ(line.find("13812345678"), std::string::npos);
}

TEST(HttpSmsGatewayTest, GetSendsTheWholeUrl) {
  LocalProvider provider("HTTP/1.0 204 No Content");
  Result<std::unique_ptr<HttpSmsGateway>> gateway =
      HttpSmsGateway::Create(Config("GET " + provider.Base() + "/sms/{phone}?m={message}"));
  ASSERT_TRUE(gateway.ok()) << gateway.status().ToString();
  ASSERT_TRUE((*gateway)->Send("13812345678", "a b&c").ok());
  EXPECT_EQ(provider.Request().rfind("GET /sms/13812345678?m=a%20b%26c HTTP/1.1\r\n", 0), 0u);
}

TEST(HttpSmsGatewayTest, ARefusalOrNoListenerIsUnavailableAndNamesNoPersonalData) {
  {
    LocalProvider provider("HTTP/1.1 500 Internal Server Error");
    Result<std::unique_ptr<HttpSmsGateway>> gateway =
        HttpSmsGateway::Create(Config(provider.Base() + "/?p={phone}&m={message}"));
    ASSERT_TRUE(gateway.ok());
    const Status sent = (*gateway)->Send("13812345678", "code 654321");
    EXPECT_EQ(sent.code(), ErrorCode::kUnavailable);
    EXPECT_EQ(sent.message().find("13812345678"), std::string::npos);
    EXPECT_EQ(sent.message().find("654321"), std::string::npos);
  }
  // A port nobody listens on (the provider above is gone).
  int port = 0;
  {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t size = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
    port = ntohs(address.sin_port);
    close(fd);
  }
  Result<std::unique_ptr<HttpSmsGateway>> gateway = HttpSmsGateway::Create(
      Config("http://127.0.0.1:" + std::to_string(port) + "/?p={phone}&m={message}"));
  ASSERT_TRUE(gateway.ok());
  EXPECT_EQ((*gateway)->Send("13812345678", "x").code(), ErrorCode::kUnavailable);
}

TEST(HttpSmsGatewayTest, ABadTemplateIsRefusedAtCreation) {
  EXPECT_EQ(HttpSmsGateway::Create(Config("https://sms.example/?p={phone}&m={message}"))
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace custvault::http
