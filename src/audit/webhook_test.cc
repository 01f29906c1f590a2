// R-AUD-4: the optional alert webhook, against a socket listening in the
// test itself.
#include "audit/webhook.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "audit/audit_test_util.h"

namespace custvault::audit {
namespace {

// Listens on 127.0.0.1 (a free port) and serves `connections` requests,
// answering each with `status_line`. With an empty status line it answers
// nothing and keeps the connection open until EndSilence() (or the
// receiver's end; at most 60 s, so a client without a timeout fails the test
// instead of hanging it): only the client's own timeout can end its wait.
class LocalReceiver {
 public:
  explicit LocalReceiver(std::string status_line, int connections = 1)
      : status_line_(std::move(status_line)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t size = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    EXPECT_EQ(listen(fd_, 8), 0);
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) Serve();
    });
  }
  ~LocalReceiver() {
    EndSilence();
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  std::string Url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::future<std::string> NextRequest() { return promise_.get_future(); }
  // Whether a silent receiver has closed a connection (the client's wait
  // could then have ended without its timeout).
  bool ClosedSilently() {
    std::lock_guard lock(silence_mutex_);
    return closed_silently_;
  }
  void EndSilence() {
    {
      std::lock_guard lock(silence_mutex_);
      silence_ended_ = true;
    }
    silence_changed_.notify_all();
  }

 private:
  void Serve() {
    const int client = accept(fd_, nullptr, nullptr);
    if (client < 0) return;
    std::string request;
    char buffer[1024];
    // Read headers and the body announced by Content-Length.
    while (true) {
      const ssize_t n = recv(client, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
      const size_t end = request.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      const size_t length_at = request.find("Content-Length: ");
      const size_t length = std::stoul(request.substr(length_at + 16));
      if (request.size() >= end + 4 + length) break;
    }
    if (!status_line_.empty()) {
      const std::string response = status_line_ + "\r\nContent-Length: 0\r\n\r\n";
      send(client, response.data(), response.size(), MSG_NOSIGNAL);
    } else {
      std::unique_lock lock(silence_mutex_);
      silence_changed_.wait_for(lock, std::chrono::seconds(60), [this] { return silence_ended_; });
      closed_silently_ = true;
    }
    close(client);
    if (!delivered_) {
      delivered_ = true;
      promise_.set_value(request);
    }
  }

  std::string status_line_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  bool delivered_ = false;
  std::promise<std::string> promise_;
  std::mutex silence_mutex_;
  std::condition_variable silence_changed_;
  bool closed_silently_ = false;
  bool silence_ended_ = false;
};

TEST(WebhookTest, UrlsMustBePlainHttpWithoutCredentials) {
  auto url = ParseHttpUrl("http://alerts.example:8080/in?x=1");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->host, "alerts.example");
  EXPECT_EQ(url->port, "8080");
  EXPECT_EQ(url->path, "/in?x=1");
  EXPECT_EQ(ParseHttpUrl("http://[::1]:9000")->host, "::1");
  EXPECT_EQ(ParseHttpUrl("http://example")->port, "80");
  for (const char* bad :
       {"https://example/", "ftp://x", "http://user:pw@example/", "http://example:0/",
        "http://example:99999/", "http:///path", "http://exa mple/", "http://example/a b"}) {
    EXPECT_FALSE(ParseHttpUrl(bad).ok()) << bad;
  }
}

TEST(WebhookTest, RAud4PostJsonDeliversTheBody) {
  LocalReceiver receiver("HTTP/1.1 204 No Content");
  auto request = receiver.NextRequest();
  auto url = ParseHttpUrl(receiver.Url());
  ASSERT_TRUE(url.ok());
  EXPECT_TRUE(PostJson(*url, R"({"rule":"off_hours"})", 2000).ok());
  const std::string received = request.get();
  EXPECT_EQ(received.rfind("POST /hook HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(received.find("Content-Type: application/json"), std::string::npos);
  EXPECT_NE(received.find(R"({"rule":"off_hours"})"), std::string::npos);
}

TEST(WebhookTest, RefusalAndSilenceAreErrorsWithinTheTimeout) {
  {
    LocalReceiver receiver("HTTP/1.1 500 Oops");
    EXPECT_EQ(PostJson(*ParseHttpUrl(receiver.Url()), "{}", 2000).code(), ErrorCode::kUnavailable);
  }
  {
    // Issue 11.12: no stopwatch. The receiver never answers and never
    // closes while the client waits, so PostJson returning an error while
    // the connection is still held open proves its own timeout ended it.
    LocalReceiver silent("");
    EXPECT_FALSE(PostJson(*ParseHttpUrl(silent.Url()), "{}", 200).ok());
    EXPECT_FALSE(silent.ClosedSilently());
    silent.EndSilence();
  }
}

class WebhookLogTest : public testing::AuditFixture {};

TEST_F(WebhookLogTest, RAud4AlertsReachTheWebhookWithoutPersonalData) {
  LocalReceiver receiver("HTTP/1.1 200 OK");
  auto request = receiver.NextRequest();
  options_.config.alert_webhook_url = receiver.Url("/alerts");
  // Sunday 2026-11-29 12:00 China time: outside working days.
  env_.SetNowMicros((int64_t{1'795'968'000} - 12 * 3600) * 1'000'000);
  OpenOrDie();
  ASSERT_TRUE(log_->Append(Event("weekend-worker")).ok());
  // A generous guard against a hang, not a timing expectation.
  ASSERT_EQ(request.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  const std::string received = request.get();
  EXPECT_NE(received.find("\"rule\":\"off_hours\""), std::string::npos);
  EXPECT_NE(received.find("\"actor_id\":\"weekend-worker\""), std::string::npos);
  EXPECT_EQ(received.find("C20261130000001"), std::string::npos);  // no customer data at all
  log_.reset();
}

}  // namespace
}  // namespace custvault::audit
