// Optional alert webhook: each alert is POSTed as JSON to an http:// URL
// (audit.alert_webhook_url) from a thread of its own, so a slow or dead
// receiver never holds up the audit writer. Delivery is best effort: the
// alert is in the alerts table either way; a full queue or a failed POST
// is logged and counted, never retried forever.
//
// Thread safety: Post may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/status.h"

namespace custvault::audit {

inline constexpr size_t kWebhookQueueMax = 1000;
inline constexpr int kWebhookTimeoutMs = 2000;
inline constexpr size_t kWebhookUrlBytesMax = 2048;

struct HttpUrl {
  std::string host;
  std::string port = "80";
  std::string path = "/";
};

// Accepts only "http://host[:port][/path]" (no credentials, no https: the
// receiver is expected on a trusted network or behind a local relay).
Result<HttpUrl> ParseHttpUrl(std::string_view url);

// One POST with `body` as application/json; OK when the receiver answered
// 2xx within timeout_ms (connect, send and reading the status line each).
Status PostJson(const HttpUrl& url, std::string_view body, int timeout_ms);

class WebhookSender {
 public:
  static Result<std::unique_ptr<WebhookSender>> Create(std::string_view url);
  ~WebhookSender();  // sends what is queued (each within the timeout), then stops
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Queues a body; dropped (and counted) when kWebhookQueueMax are waiting.
  void Post(std::string body);

  int64_t delivered() const;
  int64_t failed() const;  // dropped or refused

 private:
  explicit WebhookSender(HttpUrl url);
  void Run();

  const HttpUrl url_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;  // guarded by mutex_
  bool stopping_ = false;          // guarded by mutex_
  int64_t delivered_ = 0;          // guarded by mutex_
  int64_t failed_ = 0;             // guarded by mutex_
  std::thread thread_;
};

}  // namespace custvault::audit
