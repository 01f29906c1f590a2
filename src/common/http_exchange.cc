#include "common/http_exchange.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>

#include "common/unique_fd.h"

namespace custvault {
namespace {

constexpr size_t kResponseBytesMax = 1024;

// "HTTP/1.1 200 OK" -> 200; 0 when the line is not a status line.
int StatusCodeOf(std::string_view response) {
  if (response.size() < 12 || response.substr(0, 5) != "HTTP/") return 0;
  const size_t space = response.find(' ');
  if (space == std::string_view::npos || space + 4 > response.size()) return 0;
  int code = 0;
  for (size_t i = space + 1; i < space + 4; ++i) {
    if (response[i] < '0' || response[i] > '9') return 0;
    code = code * 10 + (response[i] - '0');
  }
  return code >= 100 ? code : 0;
}

}  // namespace

Result<int> ExchangeHttp(const std::string& host, const std::string& port,
                         std::string_view request, int timeout_ms, std::string_view peer) {
  const std::string who(peer);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &addresses) != 0) {
    return Unavailable("the host of " + who + " does not resolve");
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(addresses, &freeaddrinfo);
  timeval timeout{};
  timeout.tv_sec = timeout_ms / 1000;
  timeout.tv_usec = (timeout_ms % 1000) * 1000;
  for (addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
    UniqueFd socket(
        ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol));
    if (socket.get() < 0) continue;
    // On Linux SO_SNDTIMEO bounds connect() too.
    ::setsockopt(socket.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(socket.get(), address->ai_addr, address->ai_addrlen) != 0) continue;
    size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n =
          ::send(socket.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return Unavailable("sending to " + who + " failed or timed out");
      sent += static_cast<size_t>(n);
    }
    std::string response;
    char buffer[256];
    while (response.find("\r\n") == std::string::npos && response.size() < kResponseBytesMax) {
      const ssize_t n = ::recv(socket.get(), buffer, sizeof buffer, 0);
      if (n <= 0) break;
      response.append(buffer, static_cast<size_t>(n));
    }
    const int code = StatusCodeOf(response);
    if (code == 0) return Unavailable(who + " sent no HTTP status in time");
    return code;
  }
  return Unavailable("cannot connect to " + who);
}

}  // namespace custvault
