// HttpServer: the listener, one HttpSession per TLS connection (each on its own strand), and
// the hand-off of /api/v1/events upgrades to websocket_session.cc. The shape follows Beast's
// chat-multi example, except that binding fails loudly instead of leaving a half-built listener.
#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "http/server.h"
#include "http/tls_stream.h"
#include "moat/common/tls/context.h"

namespace moat::broker::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using internal::BeastRequest;
using internal::ConnectionSet;
using internal::TlsStream;

// A connection that is ending gets this long to say goodbye (TLS close_notify).
constexpr std::chrono::seconds kShutdownTimeout{2};
// At most this much of a refused oversize body is read and dropped before closing.
constexpr size_t kMaxDrainBytes = 64 << 20;
// After a failed accept (e.g. out of fds), wait before trying again rather than spin.
constexpr std::chrono::milliseconds kAcceptBackoff{100};

// What every session of one server shares; owned by HttpServer::Impl, outlives the sessions.
struct ServerShared {
  const HttpServerOptions& options;
  const Router& router;
  EventHub& hub;
  ConnectionSet connections;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

bool IsWebSocketUpgrade(const BeastRequest& request) {
  auto upgrade = request.find(bhttp::field::upgrade);
  return request.method() == bhttp::verb::get && upgrade != request.end() &&
         EqualsIgnoreCase(upgrade->value(), "websocket");
}

struct PeerIdentity {
  std::string common_name;
  std::string fingerprint;
};

HttpRequest ToHttpRequest(BeastRequest&& request, const tcp::endpoint& peer,
                          const PeerIdentity& identity) {
  HttpRequest out;
  out.method = std::string(request.method_string());
  out.target = std::string(request.target());
  for (const auto& field : request) {
    out.headers.Add(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(request.body());
  out.peer_address = peer.address().to_string();
  out.peer_port = peer.port();
  out.peer_common_name = identity.common_name;
  out.peer_cert_fingerprint = identity.fingerprint;
  return out;
}

// One TLS connection carrying HTTP/1.1 requests, one at a time, until it closes or upgrades.
class HttpSession : public internal::Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, ssl::context& tls, ServerShared& shared)
      : stream_(std::move(socket), tls), executor_(stream_.get_executor()), shared_(shared) {
    beast::error_code ec;
    peer_address_ = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
  }

  ~HttpSession() override { shared_.connections.Remove(this); }

  void Run() {
    if (!shared_.connections.Add(shared_from_this())) return;  // stopping: drop the socket
    net::dispatch(executor_,
                  beast::bind_front_handler(&HttpSession::DoHandshake, shared_from_this()));
  }

  // From any thread: an idle connection closes now, one that is answering closes after the
  // answer is sent.
  void Close() override {
    net::post(executor_, [self = shared_from_this()] {
      self->stopping_ = true;
      if (!self->writing_ && !self->handed_off_) self->CloseSocket();
    });
  }

 private:
  void DoHandshake() {
    beast::get_lowest_layer(stream_).expires_after(shared_.options.request_timeout);
    stream_.async_handshake(
        ssl::stream_base::server,
        beast::bind_front_handler(&HttpSession::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec || stopping_) return CloseSocket();
    // Only a certificate that verified against the configured client CA counts.
    SSL* ssl = stream_.native_handle();
    if (X509* cert = SSL_get0_peer_certificate(ssl);
        cert != nullptr && SSL_get_verify_result(ssl) == X509_V_OK) {
      peer_.common_name = tls::PeerCommonName(ssl);
      peer_.fingerprint = tls::CertificateFingerprint(cert).value_or("");
    }
    DoRead();
  }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(shared_.options.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(shared_.options.max_header_bytes));
    beast::get_lowest_layer(stream_).expires_after(shared_.options.request_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (stopping_) return CloseSocket();
    if (ec == bhttp::error::end_of_stream) return DoShutdown();
    if (ec == bhttp::error::body_limit) {
      drain_ = true;
      return Respond(JsonError(413, "payload_too_large",
                               "request body exceeds " +
                                   std::to_string(shared_.options.max_body_bytes) + " bytes"),
                     /*close=*/true);
    }
    if (ec == bhttp::error::header_limit) {
      return Respond(JsonError(431, "headers_too_large",
                               "request headers exceed " +
                                   std::to_string(shared_.options.max_header_bytes) + " bytes"),
                     /*close=*/true);
    }
    if (ec == bhttp::error::partial_message) return CloseSocket();  // the client went away
    if (ec && ec.category() == beast::error_code(bhttp::error::bad_target).category()) {
      return Respond(JsonError(400, "bad_request", "malformed HTTP request: " + ec.message()),
                     /*close=*/true);
    }
    if (ec) return CloseSocket();  // timeout, reset, TLS failure
    Handle(parser_->release());
  }

  void Handle(BeastRequest&& request) {
    bool close = !request.keep_alive();
    if (request.target().empty() || request.target().front() != '/') {
      return Respond(JsonError(400, "bad_request", "request target must be an absolute path"),
                     true);
    }
    const std::string& events_path = shared_.options.events_path;
    bool upgrade = IsWebSocketUpgrade(request);
    std::string_view path = request.target().substr(0, request.target().find('?'));
    if (upgrade && path == events_path) return Upgrade(std::move(request));
    for (const WsEndpoint& endpoint : shared_.options.ws_endpoints) {
      if (path != endpoint.path) continue;
      if (upgrade) return UpgradePeer(std::move(request), endpoint);
      return Respond(JsonError(426, "upgrade_required",
                               "'" + endpoint.path + "' is a WebSocket endpoint; upgrade to it"),
                     close);
    }
    for (const StreamEndpoint& endpoint : shared_.options.stream_endpoints) {
      if (path != endpoint.path) continue;
      if (upgrade) return UpgradeStream(std::move(request), endpoint);
      return Respond(JsonError(426, "upgrade_required",
                               "'" + endpoint.path + "' is a WebSocket endpoint; upgrade to it"),
                     close);
    }
    HttpRequest http_request = ToHttpRequest(std::move(request), peer_address_, peer_);
    if (path == events_path) {
      return Respond(JsonError(426, "upgrade_required",
                               "'" + events_path + "' is a WebSocket stream; upgrade to it"),
                     close);
    }
    Respond(shared_.router.Dispatch(http_request), close);
  }

  void Upgrade(BeastRequest&& request) {
    // The authentication callback sees the request without its body (an upgrade has none).
    BeastRequest headers_only = request;
    HttpRequest http_request = ToHttpRequest(std::move(headers_only), peer_address_, peer_);
    if (auto refusal = AuthorizeEvents(http_request)) {
      return Respond(std::move(*refusal), /*close=*/true);
    }
    handed_off_ = true;
    shared_.connections.Remove(this);
    internal::StartEventStream(
        std::move(stream_), std::move(request), shared_.hub, shared_.connections,
        {shared_.options.event_queue_messages, shared_.options.event_queue_bytes});
  }

  void UpgradePeer(BeastRequest&& request, const WsEndpoint& endpoint) {
    BeastRequest headers_only = request;
    HttpRequest http_request = ToHttpRequest(std::move(headers_only), peer_address_, peer_);
    std::shared_ptr<WsHandler> handler;
    try {
      if (endpoint.accept) handler = endpoint.accept(http_request);
    } catch (...) {
      handler = nullptr;  // an exception must not escape into the I/O thread
    }
    if (!handler) {
      return Respond(JsonError(403, "forbidden",
                               "this connection may not use '" + endpoint.path +
                                   "' (client certificate missing or unknown)"),
                     /*close=*/true);
    }
    handed_off_ = true;
    shared_.connections.Remove(this);
    internal::StartPeerStream(std::move(stream_), std::move(request), std::move(handler),
                              shared_.connections, endpoint);
  }

  void UpgradeStream(BeastRequest&& request, const StreamEndpoint& endpoint) {
    BeastRequest headers_only = request;
    HttpRequest http_request = ToHttpRequest(std::move(headers_only), peer_address_, peer_);
    StreamEndpoint::Decision decision;
    try {
      if (endpoint.accept) decision = endpoint.accept(http_request);
    } catch (...) {
      // an exception must not escape into the I/O thread
      decision.refusal = JsonError(500, "internal", "internal error accepting the stream");
    }
    if (!decision.take && !decision.refusal) {
      decision.refusal = JsonError(403, "forbidden", "'" + endpoint.path + "' refused");
    }
    if (decision.refusal) return Respond(std::move(*decision.refusal), /*close=*/true);
    handed_off_ = true;
    shared_.connections.Remove(this);
    internal::StartByteStream(std::move(stream_), std::move(request), std::move(decision.take),
                              shared_.connections);
  }

  // The refusal of an event stream upgrade, or nullopt to admit it.
  std::optional<HttpResponse> AuthorizeEvents(const HttpRequest& request) const {
    const auto& authorize = shared_.options.authorize_events;
    if (!authorize) return JsonError(401, "unauthorized", "the event stream needs a valid token");
    try {
      return authorize(request);
    } catch (...) {
      // an exception must not escape into the I/O thread
      return JsonError(500, "internal", "internal error while checking the event stream's token");
    }
  }

  void Respond(HttpResponse response, bool close) {
    if (response.status < 100 || response.status > 599) {
      response = JsonError(500, "internal", "internal error: handler returned an invalid status");
    }
    auto& out = response_.emplace();
    out.version(11);
    out.result(static_cast<unsigned>(response.status));
    for (auto& [name, value] : response.headers.fields()) out.insert(name, value);
    if (out.find(bhttp::field::server) == out.end()) out.set(bhttp::field::server, "moat-broker");
    out.body() = std::move(response.body);
    out.keep_alive(!close && !stopping_);
    out.prepare_payload();
    writing_ = true;
    beast::get_lowest_layer(stream_).expires_after(shared_.options.request_timeout);
    bhttp::async_write(
        stream_, out,
        beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this(), !out.keep_alive()));
  }

  void OnWrite(bool close, beast::error_code ec, size_t) {
    writing_ = false;
    response_.reset();
    // Stopping: no TLS goodbye, which would wait for a client that may not be reading.
    if (ec || stopping_) return CloseSocket();
    if (close && drain_) return DoDrain();
    if (close) return DoShutdown();
    DoRead();
  }

  // After refusing an oversize body: read and drop what the client is still sending (bounded in
  // bytes and time), so that closing does not reset the connection before it read the 413.
  void DoDrain() {
    if (drained_bytes_ == 0) {
      beast::get_lowest_layer(stream_).expires_after(kShutdownTimeout);
    }
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_bytes_ += n;
                              if (ec || self->drained_bytes_ > kMaxDrainBytes)
                                return self->CloseSocket();
                              self->DoDrain();
                            });
  }

  void DoShutdown() {
    beast::get_lowest_layer(stream_).expires_after(kShutdownTimeout);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->CloseSocket(); });
  }

  void CloseSocket() {
    if (handed_off_) return;
    beast::get_lowest_layer(stream_).close();
  }

  TlsStream stream_;
  net::any_io_executor executor_;  // the connection's strand; survives a hand-off of stream_
  ServerShared& shared_;
  tcp::endpoint peer_address_;
  PeerIdentity peer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  bool writing_ = false;
  bool stopping_ = false;
  bool drain_ = false;
  size_t drained_bytes_ = 0;
  std::array<char, 16384> drain_buffer_{};
  bool handed_off_ = false;
};

// Accepts connections, each onto a new strand, and starts an HttpSession for it.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& io, ssl::context& tls, ServerShared& shared)
      : io_(io),
        tls_(tls),
        shared_(shared),
        acceptor_(net::make_strand(io)),
        backoff_(acceptor_.get_executor()) {}

  // Synchronous, so that Start reports a port in use before any thread runs.
  Status Open(const tcp::endpoint& endpoint) {
    std::string where = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    auto fail = [&](std::string_view call, const beast::error_code& ec) {
      return Fail(Error(ec, std::string(call) + " '" + where + "': " + ec.message()));
    };
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return fail("socket", ec);
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (ec) return fail("setsockopt SO_REUSEADDR", ec);
    acceptor_.bind(endpoint, ec);
    if (ec) return fail("bind", ec);
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen", ec);
    port_ = acceptor_.local_endpoint(ec).port();
    if (ec) return fail("getsockname", ec);
    return {};
  }

  uint16_t port() const { return port_; }

  void Run() {
    net::dispatch(acceptor_.get_executor(),
                  beast::bind_front_handler(&Listener::DoAccept, shared_from_this()));
  }

  void Close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
      self->backoff_.cancel();
    });
  }

 private:
  void DoAccept() {
    if (!acceptor_.is_open()) return;
    acceptor_.async_accept(net::make_strand(io_),
                           beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      backoff_.expires_after(kAcceptBackoff);
      backoff_.async_wait([self = shared_from_this()](beast::error_code) { self->DoAccept(); });
      return;
    }
    // Without it, Nagle holds back the last segment of a response until the client's delayed
    // ACK, about 40 ms later: every keep-alive request paid that (tests/bench/api_bench.cc).
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<HttpSession>(std::move(socket), tls_, shared_)->Run();
    DoAccept();
  }

  net::io_context& io_;
  ssl::context& tls_;
  ServerShared& shared_;
  tcp::acceptor acceptor_;
  net::steady_timer backoff_;
  uint16_t port_ = 0;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(Options options, const Router& router, EventHub& hub)
      : options_(std::move(options)),
        shared_{options_, router, hub, {}},
        tls_(options_.ssl_ctx.release()),
        io_(options_.threads),
        work_(net::make_work_guard(io_)) {}

  ~Impl() { Stop(); }

  Status Listen() {
    beast::error_code ec;
    auto address = net::ip::make_address(options_.bind_address, ec);
    if (ec) {
      return Fail(
          InvalidArgument("bind address '" + options_.bind_address + "' is not an IP address"));
    }
    listener_ = std::make_shared<Listener>(io_, tls_, shared_);
    return listener_->Open(tcp::endpoint(address, options_.port));
  }

  void Run() {
    listener_->Run();
    for (int i = 0; i < options_.threads; ++i) {
      threads_.emplace_back([this] {
        io_.run();
        std::lock_guard lock(mutex_);
        ++finished_;
        finished_cv_.notify_all();
      });
    }
  }

  uint16_t port() const { return listener_ ? listener_->port() : 0; }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    if (listener_) listener_->Close();
    shared_.connections.CloseAll();
    // Without the guard, run() returns once the last connection has gone.
    work_.reset();
    {
      std::unique_lock lock(mutex_);
      finished_cv_.wait_for(lock, options_.stop_grace,
                            [this] { return finished_ == static_cast<int>(threads_.size()); });
    }
    io_.stop();  // abandon connections that outlived the grace period
    for (auto& thread : threads_) thread.join();
    threads_.clear();
    // Stragglers' handlers die with io_; keep Publish from posting to them meanwhile.
    shared_.connections.DetachAll();
  }

 private:
  // Declared in destruction order: sessions (in io_'s queues) go before what they refer to.
  Options options_;
  ServerShared shared_;
  ssl::context tls_;
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable finished_cv_;
  int finished_ = 0;
  bool stopped_ = false;
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(Options options, const Router& router,
                                                      EventHub& hub) {
  if (!options.ssl_ctx) return Fail(InvalidArgument("start HTTPS server: no TLS context given"));
  if (options.threads < 1) {
    return Fail(InvalidArgument("start HTTPS server: threads must be at least 1, not " +
                                std::to_string(options.threads)));
  }
  auto impl = std::make_unique<Impl>(std::move(options), router, hub);
  MOAT_TRY_VOID_CTX(impl->Listen(), "start HTTPS server");
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;
uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace moat::broker::http
