// HttpServer: Boost.Beast HTTP/1.1 on a few I/O threads; handlers run on a
// bounded worker pool, so a slow handler never stalls other connections;
// routes registered as RouteClass::kExpensive run on a second small pool, so
// they never take every general worker. When a pool's queue is full the
// request gets 503 with Retry-After.
// Limits: header and body size (413), header timeout, request timeout,
// connection count in all and per socket peer address, Transfer-Encoding
// other than a lone final "chunked" (400, RFC 9112 6.3).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "http/router.h"

namespace custvault::http {

// What the server refused or cut off since it started (for the log, which
// summarises them at most every 10 s, and for a metrics endpoint).
struct ServerCounters {
  int64_t connections_refused = 0;         // over server.connections_max
  int64_t connections_refused_per_ip = 0;  // over server.connections_per_ip_max
  int64_t busy_refusals = 0;               // 503: the general worker queue was full
  int64_t expensive_busy_refusals = 0;     // 503: the expensive queue was full
  int64_t framing_errors = 0;              // 400: malformed HTTP, bad Transfer-Encoding
  int64_t too_large = 0;                   // 413: header or body over its limit
  int64_t header_timeouts = 0;  // closed without a complete request header in time
};

class HttpServer {
 public:
  // `router` must outlive the server.
  static Result<std::unique_ptr<HttpServer>> Create(const ServerConfig& config,
                                                    const Router& router);
  virtual ~HttpServer() = default;
  // Binds and starts the threads; returns once the socket is listening.
  virtual Status Start() = 0;
  // The bound port (useful when listening on port 0).
  virtual uint16_t port() const = 0;
  // Stops accepting, finishes in-flight requests, joins the threads.
  virtual void Stop() = 0;
  // Blocks until Stop is called (from a signal handler thread).
  virtual void Wait() = 0;
  // A snapshot; safe from any thread.
  virtual ServerCounters counters() const = 0;
};

}  // namespace custvault::http
