// One plain-HTTP/1.1 exchange with a short timeout, for the outbound
// notifications (the audit alert webhook, the HTTP SMS gateway): no TLS, no
// redirects, no body read, nothing kept between calls.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace custvault {

// Connects to host:port (each resolved address in turn; the timeout bounds
// connect, every send and every receive), sends `request` (a whole request
// that asks for "Connection: close") and reads the status line. Returns the
// status code (200, 404, ...). kUnavailable, its message naming `peer`
// ("the SMS gateway"), when the host does not resolve, no address accepts
// the connection, sending fails, or no status line arrives in time. The
// request is never logged or put in a message (it may hold a phone number).
Result<int> ExchangeHttp(const std::string& host, const std::string& port,
                         std::string_view request, int timeout_ms, std::string_view peer);

}  // namespace custvault
