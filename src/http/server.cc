// The only file that includes Beast/Asio (each such file costs ~13 s to
// build). Design:
//  - one io_context run by config.io_threads threads; the acceptor and each
//    connection (Session) live on their own strand, so a session's handlers
//    never run concurrently;
//  - a session reads one request (header limit and header_timeout_ms for
//    the header, body limit and request_timeout_ms for the body), converts
//    it to our Request and hands it to a bounded WorkerPool: the general one,
//    or the small expensive one for routes registered as kExpensive; the I/O
//    thread is free again at once. A full queue answers 503 + Retry-After
//    right there on the I/O thread;
//  - a request whose framing is ambiguous (a Transfer-Encoding other than a
//    lone "chunked", or one with Content-Length too) is refused with 400 and
//    the connection closed, so nothing after it is read as a request;
//  - connections are capped in all and per socket peer address (the proxy's
//    X-Forwarded-For is not believed here); over a cap, 503 and close;
//  - an answer that ends the connection is followed by a lingering close:
//    stop sending, read and discard what the client still sends (bounded in
//    bytes and time), then close, so the client reads our answer instead of
//    a reset;
//  - refusals and framing errors are counted (counters()) and summarised in
//    the log at most every kRefusalLogInterval;
//  - the worker runs the router and posts the Response back to the
//    session's strand, which writes it and reads the next request
//    (keep-alive; pipelined requests are answered in order because a
//    session reads the next request only after writing the previous answer).
#include "http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/worker_pool.h"

namespace custvault::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// How long Stop waits for requests already in a handler or being written.
constexpr std::chrono::milliseconds kStopGrace{5'000};
// After answering with "Connection: close" we stop sending and read (and
// discard) what the client still sends, so that closing does not reset the
// connection before the client has read our answer (e.g. a 413 sent while
// the client is still uploading).
// The bounds must cover a client such as Python's urllib, which sends its
// whole body before reading the answer: a 4 MiB upload answered 413.
constexpr std::chrono::milliseconds kLingerTime{5'000};
constexpr size_t kLingerBytesMax = 16 << 20;
constexpr size_t kLingerReadBytes = 16 * 1024;
// Pause before accepting again after an accept error such as EMFILE, so
// the loop does not spin.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};
// Refusals and framing errors are logged as one summary line at most this
// often (a flood must not flood the log too).
constexpr std::chrono::seconds kRefusalLogInterval{10};

// Security headers on every answer (R-OPS-3). Nothing we serve may be
// cached, framed, sniffed or leak the URL to another site.
constexpr std::pair<const char*, const char*> kSecurityHeaders[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"Cache-Control", "no-store"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Content-Security-Policy", "default-src 'self'"},
};

bool IsSafeHeaderText(std::string_view text) {
  return !text.empty() && std::none_of(text.begin(), text.end(),
                                       [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// Builds the wire response from our Response.
void FillResponse(const Response& source, unsigned version, bool keep_alive,
                  bhttp::response<bhttp::string_body>* out) {
  out->version(version);
  out->result(static_cast<unsigned>(source.status));
  out->set(bhttp::field::content_type,
           source.content_type.empty() ? "application/octet-stream" : source.content_type);
  for (const auto& [name, value] : kSecurityHeaders) out->set(name, value);
  for (const auto& [name, value] : source.headers) {
    // Extra headers come from handlers; a value with CR/LF would split the
    // response, so it is dropped (a bug in the handler, logged by name).
    if (!IsSafeHeaderText(name) || !IsSafeHeaderText(value) ||
        name.find(':') != std::string::npos) {
      spdlog::error("dropped an unsafe response header");
      continue;
    }
    out->set(name, value);
  }
  // Every 429 and 503 tells the client when to come back, whoever built it.
  if ((source.status == 429 || source.status == 503) &&
      out->find(bhttp::field::retry_after) == out->end()) {
    out->set(bhttp::field::retry_after, kRetryAfterDefaultSeconds);
  }
  out->body() = source.body;
  out->keep_alive(keep_alive);
  out->prepare_payload();
}

// RFC 9112 6.1 and 6.3: the only transfer coding we read is a lone
// "chunked" (Beast takes any other as "no body" and would read the body as
// the next request). A request with Content-Length as well, or an HTTP/1.0
// request with Transfer-Encoding, is malformed too.
bool TransferEncodingAcceptable(const bhttp::request_header<>& header) {
  auto [begin, end] = header.equal_range(bhttp::field::transfer_encoding);
  if (begin == end) return true;
  if (header.version() < 11 || header.find(bhttp::field::content_length) != header.end()) {
    return false;
  }
  int codings = 0;
  for (auto it = begin; it != end; ++it) {
    std::string_view value = it->value();
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string_view::npos) comma = value.size();
      std::string_view token = value.substr(start, comma - start);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
      // Empty list elements are allowed (RFC 9110 5.6.1); anything else
      // must be the one "chunked".
      if (!token.empty()) {
        if (!beast::iequals(token, "chunked")) return false;
        ++codings;
      }
      start = comma + 1;
    }
  }
  return codings == 1;
}

// The counters and their throttled log line.
class RefusalCounters {
 public:
  enum Kind {
    kConnections,
    kConnectionsPerIp,
    kBusy,
    kExpensiveBusy,
    kFraming,
    kTooLarge,
    kHeaderTimeout,
    kKinds
  };

  void Count(Kind kind) {
    counts_[kind].fetch_add(1, std::memory_order_relaxed);
    if (kind != kHeaderTimeout) MaybeLog(false);
  }

  ServerCounters Snapshot() const {
    ServerCounters c;
    c.connections_refused = counts_[kConnections].load();
    c.connections_refused_per_ip = counts_[kConnectionsPerIp].load();
    c.busy_refusals = counts_[kBusy].load();
    c.expensive_busy_refusals = counts_[kExpensiveBusy].load();
    c.framing_errors = counts_[kFraming].load();
    c.too_large = counts_[kTooLarge].load();
    c.header_timeouts = counts_[kHeaderTimeout].load();
    return c;
  }

  // Logs what happened since the last line: at most once per interval,
  // unless `force` (at stop).
  void MaybeLog(bool force) {
    const auto now = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(log_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) {
      if (!force) return;  // someone is logging right now
      lock.lock();
    }
    if (!force && logged_once_ && now - last_log_ < kRefusalLogInterval) return;
    int64_t delta[kKinds];
    bool any = false;
    for (int i = 0; i < kKinds; ++i) {
      const int64_t total = counts_[i].load();
      delta[i] = total - logged_[i];
      logged_[i] = total;
      if (i != kHeaderTimeout && delta[i] != 0) any = true;
    }
    if (!any) return;
    last_log_ = now;
    logged_once_ = true;
    spdlog::warn(
        "HTTP refusals since the last report: connections over the limit {}, over the per-address "
        "limit {}, busy 503 {}, expensive busy 503 {}, framing errors {}, too large {}, header "
        "timeouts {}",
        delta[kConnections], delta[kConnectionsPerIp], delta[kBusy], delta[kExpensiveBusy],
        delta[kFraming], delta[kTooLarge], delta[kHeaderTimeout]);
  }

 private:
  std::atomic<int64_t> counts_[kKinds] = {};
  std::mutex log_mutex_;
  int64_t logged_[kKinds] = {};  // guarded by log_mutex_
  bool logged_once_ = false;
  std::chrono::steady_clock::time_point last_log_;
};

std::string PeerIp(const tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint endpoint = socket.remote_endpoint(ec);
  if (ec) return "";
  asio::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

Result<tcp::endpoint> ParseListenAddress(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return InvalidArgument("server.listen must be HOST:PORT, got '" + listen + "'");
  }
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(),
                                           [](char c) { return c >= '0' && c <= '9'; })) {
    return InvalidArgument("server.listen has a bad port in '" + listen + "'");
  }
  const int port = std::stoi(port_text);
  if (port > 65535) return InvalidArgument("server.listen has a bad port in '" + listen + "'");
  if (host == "localhost") host = "127.0.0.1";
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    return InvalidArgument("server.listen needs an IP address or localhost, got '" + listen + "'");
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

class ServerImpl;

// One TCP connection. Shared ownership (enable_shared_from_this) is how
// Asio keeps an object alive while its asynchronous operations are
// outstanding: every pending handler holds a reference.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ServerImpl& server, std::string peer_ip);
  ~Session();

  const std::string& peer_ip() const { return peer_ip_; }

  void Start();
  // From Stop(): closes the connection if it is waiting for a request or
  // lingering after its last answer; a
  // session busy with a request closes after writing the answer.
  void StopIfIdle();
  asio::any_io_executor executor() { return stream_.get_executor(); }

 private:
  void DoReadHeader();
  void OnReadHeader(beast::error_code ec, size_t bytes);
  void OnContinueWritten(beast::error_code ec, size_t bytes);
  void DoReadBody();
  void OnReadBody(beast::error_code ec, size_t bytes);
  void OnReadError(beast::error_code ec, bool in_header);
  void HandleRequest();
  void WriteResponse(const Response& response, bool close_after);
  void OnWrite(bool close_after, beast::error_code ec, size_t bytes);
  void LingerAndClose();
  void OnLingerRead(beast::error_code ec, size_t bytes);
  void Close();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::empty_body> continue_response_;
  bhttp::response<bhttp::string_body> response_;
  ServerImpl& server_;
  const std::string peer_ip_;
  unsigned request_version_ = 11;
  bool request_keep_alive_ = true;
  bool waiting_for_request_ = false;
  bool lingering_ = false;  // answered and closing: only discarding input
  bool closed_ = false;
  size_t linger_bytes_ = 0;
};

class ServerImpl final : public HttpServer {
 public:
  ServerImpl(const ServerConfig& config, const Router& router)
      : config_(config),
        router_(router),
        io_context_(std::make_unique<asio::io_context>(std::max(config.io_threads, 1))) {}

  ~ServerImpl() override {
    Stop();
    // Sessions still referenced by unrun handlers are destroyed with the
    // io_context; they call back into this object, so it goes first.
    acceptor_.reset();
    accept_retry_timer_.reset();
    io_context_.reset();
  }

  Status Start() override;
  uint16_t port() const override { return port_.load(); }
  void Stop() override;
  void Wait() override;

  const ServerConfig& config() const { return config_; }
  const Router& router() const { return router_; }
  WorkerPool& pool() { return *pool_; }
  WorkerPool& expensive_pool() { return *expensive_pool_; }
  bool stopping() const { return stopping_.load(); }
  RefusalCounters& refusals() { return refusals_; }
  ServerCounters counters() const override { return refusals_.Snapshot(); }

  void Register(const std::shared_ptr<Session>& session) {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    sessions_[session.get()] = session;
  }
  void OnSessionClosed(Session* session) {
    {
      std::lock_guard<std::mutex> lock(sessions_mutex_);
      sessions_.erase(session);
      --connections_;
      auto it = connections_per_ip_.find(session->peer_ip());
      if (it != connections_per_ip_.end() && --it->second <= 0) connections_per_ip_.erase(it);
    }
    sessions_changed_.notify_all();
  }

 private:
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void RefuseConnection(tcp::socket& socket, const std::string& wire);

  const ServerConfig config_;
  const Router& router_;
  std::unique_ptr<asio::io_context> io_context_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::steady_timer> accept_retry_timer_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_guard_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<WorkerPool> expensive_pool_;
  std::vector<std::thread> io_threads_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stopping_{false};
  std::string refusal_wire_;         // the 503 for connections over the limit
  std::string refusal_per_ip_wire_;  // the 503 for one address over its limit
  mutable RefusalCounters refusals_;

  std::mutex sessions_mutex_;
  std::condition_variable sessions_changed_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  int connections_ = 0;  // guarded by sessions_mutex_
  // Open connections per socket peer address; guarded by sessions_mutex_.
  std::unordered_map<std::string, int> connections_per_ip_;

  std::mutex state_mutex_;
  std::condition_variable state_changed_;
  bool started_ = false;
  bool stop_begun_ = false;
  bool stopped_ = false;
};

// ---------------------------------------------------------------- Session

Session::Session(tcp::socket socket, ServerImpl& server, std::string peer_ip)
    : stream_(std::move(socket)), server_(server), peer_ip_(std::move(peer_ip)) {}

Session::~Session() { server_.OnSessionClosed(this); }

void Session::Start() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] { self->DoReadHeader(); });
}

void Session::StopIfIdle() {
  if (waiting_for_request_ || lingering_) Close();
}

void Session::DoReadHeader() {
  if (closed_) return;
  if (server_.stopping()) return Close();
  const ServerConfig& config = server_.config();
  waiting_for_request_ = true;
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(config.header_bytes_max));
  parser_->body_limit(static_cast<uint64_t>(config.body_bytes_max));
  // A connection that has not sent a complete header in header_timeout_ms
  // (a new one, an idle keep-alive one, one trickling header bytes) is
  // closed: idle sockets must not hold connection slots for long.
  stream_.expires_after(std::chrono::milliseconds(config.header_timeout_ms));
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           beast::bind_front_handler(&Session::OnReadHeader, shared_from_this()));
}

void Session::OnReadHeader(beast::error_code ec, size_t /*bytes*/) {
  waiting_for_request_ = false;
  if (ec) return OnReadError(ec, true);
  const auto& header = parser_->get();
  request_version_ = header.version();
  request_keep_alive_ = header.keep_alive();
  if (!TransferEncodingAcceptable(header)) {
    // Framing we cannot read exactly: answer and close, never read on.
    server_.refusals().Count(RefusalCounters::kFraming);
    return WriteResponse(
        ErrorResponse(InvalidArgument(
            "unsupported Transfer-Encoding: only a single final \"chunked\" without "
            "Content-Length is accepted")),
        true);
  }
  // The body (if any) has request_timeout_ms from here.
  stream_.expires_after(std::chrono::milliseconds(server_.config().request_timeout_ms));
  // curl and others wait (up to a second) for "100 Continue" before
  // sending a body; the header already passed the size checks.
  if (header.version() >= 11 && beast::iequals(header[bhttp::field::expect], "100-continue") &&
      !parser_->is_done()) {
    continue_response_ = {};
    continue_response_.version(11);
    continue_response_.result(bhttp::status::continue_);
    bhttp::async_write(stream_, continue_response_,
                       beast::bind_front_handler(&Session::OnContinueWritten, shared_from_this()));
    return;
  }
  DoReadBody();
}

void Session::OnContinueWritten(beast::error_code ec, size_t /*bytes*/) {
  if (ec) return Close();
  DoReadBody();
}

void Session::DoReadBody() {
  bhttp::async_read(stream_, buffer_, *parser_,
                    beast::bind_front_handler(&Session::OnReadBody, shared_from_this()));
}

void Session::OnReadBody(beast::error_code ec, size_t /*bytes*/) {
  if (ec) return OnReadError(ec, false);
  HandleRequest();
}

void Session::OnReadError(beast::error_code ec, bool in_header) {
  if (ec == bhttp::error::body_limit) {
    server_.refusals().Count(RefusalCounters::kTooLarge);
    return WriteResponse(ErrorResponse(TooLarge("request body too large")), true);
  }
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    server_.refusals().Count(RefusalCounters::kTooLarge);
    return WriteResponse(ErrorResponse(TooLarge("request header too large")), true);
  }
  // Anything else from the HTTP parser is a malformed request, except a
  // connection that ended mid-message, which has nobody left to answer.
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    request_version_ = 11;
    server_.refusals().Count(RefusalCounters::kFraming);
    return WriteResponse(ErrorResponse(InvalidArgument("malformed HTTP request")), true);
  }
  if (ec == beast::error::timeout && in_header) {
    server_.refusals().Count(RefusalCounters::kHeaderTimeout);
  }
  // end_of_stream (client closed between requests), timeout, reset,
  // operation_aborted (Stop): just close.
  Close();
}

void Session::HandleRequest() {
  bhttp::request<bhttp::string_body> message = parser_->release();
  parser_.reset();

  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.peer_ip = peer_ip_;
  for (const auto& field : message) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto [it, inserted] = request.headers.emplace(std::move(name), std::string(field.value()));
    if (!inserted) {
      // Repeated header lines are one comma-separated list (RFC 9110 5.3).
      it->second += ", ";
      it->second += field.value();
    }
  }
  request.body = std::move(message.body());

  // The I/O thread only matches the route to choose the pool.
  const bool expensive =
      server_.router().ClassOf(request.method, request.target) == RouteClass::kExpensive;
  WorkerPool& pool = expensive ? server_.expensive_pool() : server_.pool();
  auto self = shared_from_this();
  const bool queued = pool.TrySubmit([self, request = std::move(request)]() mutable {
    // On a worker thread: run the handler, then hand the answer back to
    // the session's strand for writing.
    Response response = self->server_.router().Dispatch(request);
    asio::post(self->executor(), [self, response = std::move(response)] {
      self->WriteResponse(response, !self->request_keep_alive_);
    });
  });
  if (!queued) {
    // Overloaded: answer at once rather than queue without bound.
    server_.refusals().Count(expensive ? RefusalCounters::kExpensiveBusy : RefusalCounters::kBusy);
    WriteResponse(ErrorResponse(Unavailable(expensive
                                                ? "server busy with expensive requests, retry later"
                                                : "server busy, retry later")),
                  !request_keep_alive_);
  }
}

void Session::WriteResponse(const Response& response, bool close_after) {
  if (closed_) return;
  response_ = {};
  FillResponse(response, request_version_, !close_after, &response_);
  stream_.expires_after(std::chrono::milliseconds(server_.config().request_timeout_ms));
  bhttp::async_write(stream_, response_,
                     beast::bind_front_handler(&Session::OnWrite, shared_from_this(), close_after));
}

void Session::OnWrite(bool close_after, beast::error_code ec, size_t /*bytes*/) {
  response_ = {};
  if (ec) return Close();
  if (server_.stopping()) return Close();
  if (close_after) return LingerAndClose();
  DoReadHeader();
}

void Session::LingerAndClose() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  linger_bytes_ = 0;
  lingering_ = true;
  buffer_.consume(buffer_.size());
  stream_.expires_after(kLingerTime);
  stream_.async_read_some(buffer_.prepare(kLingerReadBytes),
                          beast::bind_front_handler(&Session::OnLingerRead, shared_from_this()));
}

void Session::OnLingerRead(beast::error_code ec, size_t bytes) {
  linger_bytes_ += bytes;
  if (ec || linger_bytes_ > kLingerBytesMax || server_.stopping()) return Close();
  stream_.async_read_some(buffer_.prepare(kLingerReadBytes),
                          beast::bind_front_handler(&Session::OnLingerRead, shared_from_this()));
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
}

// ------------------------------------------------------------- ServerImpl

Status ServerImpl::Start() {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (started_ || stop_begun_) return Internal("HttpServer::Start called twice");
    started_ = true;
  }
  ASSIGN_OR_RETURN(const tcp::endpoint endpoint, ParseListenAddress(config_.listen));

  acceptor_.emplace(asio::make_strand(*io_context_));
  beast::error_code ec;
  const auto fail = [&](const char* step) {
    return Unavailable("cannot listen on " + config_.listen + " (" + step + "): " + ec.message());
  };
  acceptor_->open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("SO_REUSEADDR");
  acceptor_->bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  port_ = acceptor_->local_endpoint(ec).port();
  if (ec) return fail("local address");

  const auto wire_of = [](const Status& status) {
    bhttp::response<bhttp::string_body> wire;
    FillResponse(ErrorResponse(status), 11, false, &wire);
    std::ostringstream out;
    out << wire;
    return out.str();
  };
  refusal_wire_ = wire_of(Unavailable("too many connections, retry later"));
  refusal_per_ip_wire_ =
      wire_of(Unavailable("too many connections from this address, retry later"));

  accept_retry_timer_.emplace(acceptor_->get_executor());
  pool_ = std::make_unique<WorkerPool>(config_.worker_threads, config_.worker_queue_max);
  expensive_pool_ = std::make_unique<WorkerPool>(config_.expensive_worker_threads,
                                                 config_.expensive_queue_max);
  work_guard_.emplace(io_context_->get_executor());
  DoAccept();  // no thread runs the io_context yet, so no strand is needed here
  for (int i = 0; i < std::max(config_.io_threads, 1); ++i) {
    io_threads_.emplace_back([this] {
      try {
        io_context_->run();
      } catch (const std::exception& e) {
        // Asio handlers of ours do not throw; this is a last resort.
        spdlog::critical("HTTP I/O thread ended by an exception: {}", e.what());
      }
    });
  }
  spdlog::info("HTTP server listening on {} (port {})", config_.listen, port_.load());
  return Status::Ok();
}

void ServerImpl::DoAccept() {
  acceptor_->async_accept(asio::make_strand(*io_context_),
                          beast::bind_front_handler(&ServerImpl::OnAccept, this));
}

void ServerImpl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopping_ || !acceptor_->is_open() || ec == asio::error::operation_aborted) return;
  if (ec) {
    spdlog::warn("accept failed: {}", ec.message());
    accept_retry_timer_->expires_after(kAcceptRetryDelay);
    accept_retry_timer_->async_wait([this](beast::error_code wait_error) {
      if (!wait_error && !stopping_ && acceptor_->is_open()) DoAccept();
    });
    return;
  }
  // Capped by the socket's peer address: behind a proxy that is the proxy,
  // whose X-Forwarded-For the router believes only for other purposes.
  std::string peer_ip = PeerIp(socket);
  bool over_limit;
  bool over_ip_limit = false;
  {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    over_limit = connections_ >= config_.connections_max;
    if (!over_limit) {
      int& from_ip = connections_per_ip_[peer_ip];
      over_ip_limit = from_ip >= config_.connections_per_ip_max;
      if (over_ip_limit) {
        if (from_ip == 0) connections_per_ip_.erase(peer_ip);
      } else {
        ++from_ip;
        ++connections_;
      }
    }
  }
  if (over_limit) {
    refusals_.Count(RefusalCounters::kConnections);
    RefuseConnection(socket, refusal_wire_);
  } else if (over_ip_limit) {
    refusals_.Count(RefusalCounters::kConnectionsPerIp);
    RefuseConnection(socket, refusal_per_ip_wire_);
  } else {
    beast::error_code option_error;
    socket.set_option(tcp::no_delay(true), option_error);
    auto session = std::make_shared<Session>(std::move(socket), *this, std::move(peer_ip));
    Register(session);
    session->Start();
  }
  DoAccept();
}

void ServerImpl::RefuseConnection(tcp::socket& socket, const std::string& wire) {
  // Best effort and never blocking: a fresh socket's send buffer takes
  // these few hundred bytes; if not, the client just sees the close.
  beast::error_code ec;
  socket.non_blocking(true, ec);
  if (!ec) socket.write_some(asio::buffer(wire), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void ServerImpl::Stop() {
  {
    std::unique_lock<std::mutex> lock(state_mutex_);
    if (stop_begun_) {
      state_changed_.wait(lock, [this] { return stopped_; });
      return;
    }
    stop_begun_ = true;
    if (!started_ || !pool_) {
      stopped_ = true;
      state_changed_.notify_all();
      return;
    }
  }
  stopping_ = true;
  asio::post(acceptor_->get_executor(), [this] {
    beast::error_code ec;
    acceptor_->close(ec);
    accept_retry_timer_->cancel();
  });

  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    for (auto& [raw, weak] : sessions_) {
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
    }
  }
  for (auto& session : sessions) {
    asio::post(session->executor(), [session] { session->StopIfIdle(); });
  }
  sessions.clear();  // a session must be able to end while we wait

  {
    std::unique_lock<std::mutex> lock(sessions_mutex_);
    if (!sessions_changed_.wait_for(lock, kStopGrace, [this] { return connections_ == 0; })) {
      spdlog::warn("HTTP server stopping with {} connections still open", connections_);
    }
  }
  // Requests still queued or running are answered: the pools run what they
  // took, and the I/O threads write those answers before they stop.
  pool_->Shutdown();
  expensive_pool_->Shutdown();
  {
    std::unique_lock<std::mutex> lock(sessions_mutex_);
    if (!sessions_changed_.wait_for(lock, kStopGrace, [this] { return connections_ == 0; })) {
      spdlog::warn("HTTP server stopping with {} connections still open", connections_);
    }
  }
  work_guard_.reset();
  io_context_->stop();
  for (std::thread& thread : io_threads_) thread.join();
  io_threads_.clear();
  refusals_.MaybeLog(true);
  spdlog::info("HTTP server stopped");

  std::lock_guard<std::mutex> lock(state_mutex_);
  stopped_ = true;
  state_changed_.notify_all();
}

void ServerImpl::Wait() {
  std::unique_lock<std::mutex> lock(state_mutex_);
  state_changed_.wait(lock, [this] { return stopped_; });
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Create(const ServerConfig& config,
                                                       const Router& router) {
  if (config.io_threads < 1 || config.worker_threads < 1 || config.worker_queue_max < 1 ||
      config.body_bytes_max < 0 || config.header_bytes_max < 1 || config.request_timeout_ms < 1 ||
      config.connections_max < 1 || config.header_timeout_ms < 1 ||
      config.connections_per_ip_max < 1 || config.expensive_worker_threads < 1 ||
      config.expensive_queue_max < 1) {
    return InvalidArgument("server settings must be positive");
  }
  // Validate the address now so a typo fails before anything starts.
  RETURN_IF_ERROR(ParseListenAddress(config.listen).status());
  return std::unique_ptr<HttpServer>(std::make_unique<ServerImpl>(config, router));
}

}  // namespace custvault::http
