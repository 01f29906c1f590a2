// HttpServer: Boost.Beast HTTP/1.1 on a few I/O threads; handlers run on a
// bounded worker pool, so a slow handler never stalls other connections.
// When the worker queue is full the request gets 503 with Retry-After.
// Limits: header and body size (413), request timeout, connection count.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "http/router.h"

namespace custvault::http {

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
};

}  // namespace custvault::http
