// The broker's HTTPS/WSS front door, free of Boost: requests and responses are plain structs, a
// Router maps (method, path pattern) to handlers, and HttpServer runs the listener, one TLS
// session per connection and the /api/v1/events WebSocket stream fed by an EventHub. Beast stays
// inside http_server.cc and websocket_session.cc, so code that registers routes compiles fast.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/event_hub.h"
#include "moat/common/error.h"
#include "moat/common/tls/openssl.h"

namespace moat::broker::http {

// Header fields in arrival order. Names compare case-insensitively (RFC 9110 5.1).
class Headers {
 public:
  // The first field called `name`, if any.
  std::optional<std::string_view> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  // Replaces every field called `name` with one.
  void Set(std::string name, std::string value);
  // Appends a field (for repeatable ones such as Set-Cookie).
  void Add(std::string name, std::string value);

  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct HttpRequest {
  std::string method;  // "GET", as sent (methods are case-sensitive)
  std::string target;  // path and query, as sent: "/api/v1/sessions/7?verbose=1"
  Headers headers;
  std::string body;
  std::string peer_address;  // "127.0.0.1", "::1"
  uint16_t peer_port = 0;
  // The subject CN of the client certificate, when the server asked for one and it verified
  // (mutual TLS: an agent's host name); empty otherwise.
  std::string peer_common_name{};
  std::string peer_cert_fingerprint{};  // SHA-256 of that certificate, hex; empty without one
  // `{name}` and `{*name}` segments of the matched route pattern, percent-decoded; filled by
  // Router.
  std::map<std::string, std::string, std::less<>> path_params{};

  // The target up to '?', not decoded.
  std::string_view path() const;
  // The first query parameter called `name`, percent-decoded ('+' is a space).
  std::optional<std::string> QueryParam(std::string_view name) const;
  // The value of `{name}` in the matched pattern, or empty.
  std::string_view PathParam(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  Headers headers;
  std::string body;
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

// {"error": code, "message": message} with Content-Type application/json.
HttpResponse JsonError(int status, std::string_view code, std::string_view message);
// `json` (already serialised) with Content-Type application/json.
HttpResponse JsonResponse(int status, std::string json);

// Routes by method and path pattern. Patterns are absolute paths whose segments are literals or
// `{name}`, which matches one non-empty segment; the last segment may be `{*name}`, which matches
// the rest of the path, zero or more segments (`/novnc/{*file}` matches `/novnc`, `/novnc/` and
// `/novnc/core/rfb.js`; PathParam("file") is "", "" and "core/rfb.js"). Every segment is
// percent-decoded on its own; a rest with a segment that decodes to '/' (an encoded slash) does
// not match, so a handler can trust that the rest's slashes are the client's separators. Unknown
// path: 404; known path, other method: 405 with an Allow header; both as JsonError. Add routes
// before HttpServer::Start: Dispatch runs on many threads and Add is not synchronised with it.
class Router {
 public:
  // Fails on a pattern that is not absolute, has an empty `{}` or `{*}`, has `{*name}` before
  // its last segment or repeats a parameter name, or on a (method, pattern) pair that is already
  // routed.
  Status Add(std::string method, std::string_view pattern, Handler handler);
  // Fills request.path_params and runs the handler. A handler that throws gets a 500 JSON error.
  HttpResponse Dispatch(HttpRequest& request) const;

 private:
  struct Segment {
    std::string text;
    bool is_param = false;
    bool is_rest = false;  // `{*name}`: the rest of the path (only as the last segment)
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };

  static bool Match(const Route& route, const std::vector<std::string>& segments,
                    std::map<std::string, std::string, std::less<>>* params);

  std::vector<Route> routes_;
};

// The server's side of a two-way WebSocket connection (the agent link). Send queues and never
// blocks; after the connection ended, Send and Close do nothing.
class WsPeer {
 public:
  virtual ~WsPeer() = default;
  virtual void Send(std::string text) = 0;
  virtual void Close() = 0;
};

// What the broker does with one two-way WebSocket connection. Called on the connection's strand,
// one call at a time: OnOpen once the upgrade is done, OnMessage per text message, OnClose once
// at the end (also when OnOpen was never called because the upgrade failed).
class WsHandler {
 public:
  virtual ~WsHandler() = default;
  virtual void OnOpen(std::shared_ptr<WsPeer> peer) = 0;
  virtual void OnMessage(std::string text) = 0;
  virtual void OnClose() = 0;
};

// A two-way WebSocket endpoint. `accept` sees the upgrade request (with peer_common_name) and
// returns the connection's handler, or nullptr to refuse it with 403.
struct WsEndpoint {
  std::string path;
  std::function<std::shared_ptr<WsHandler>(const HttpRequest&)> accept;
  size_t max_message_bytes = 4 << 20;
  size_t max_queued_bytes = 64 << 20;  // a peer that reads slower than this is dropped
};

class ByteStream;  // http/byte_stream.h

// A WebSocket endpoint whose binary messages carry one byte stream (the display gateway's RFB
// for noVNC). `accept` sees the upgrade request and either refuses it with a response or says
// who takes the stream once the upgrade is done; `take` runs on the stream's strand.
struct StreamEndpoint {
  struct Decision {
    std::optional<HttpResponse> refusal;
    std::function<void(std::unique_ptr<ByteStream>)> take;
  };
  std::string path;
  std::function<Decision(const HttpRequest&)> accept;
};

struct HttpServerOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;       // 0: an ephemeral port, see HttpServer::port()
  tls::SslCtxPtr ssl_ctx;  // from tls::MakeServerContext; the server takes it over
  int threads = 2;
  size_t max_body_bytes = 1 << 20;     // larger bodies get 413
  size_t max_header_bytes = 16 << 10;  // larger headers get 431
  // A request must arrive whole within this; also the idle limit of a keep-alive connection.
  std::chrono::milliseconds request_timeout{30'000};

  // The WebSocket event stream. `authorize_events` looks at the upgrade request (e.g. its
  // bearer token or its `token` query parameter) and answers nullopt to admit it, or the
  // response that refuses it (401 without a valid token, 403 for a caller who may not watch).
  // Unset, every upgrade is refused with 401.
  std::string events_path = "/api/v1/events";
  std::function<std::optional<HttpResponse>(const HttpRequest&)> authorize_events;
  // A client whose unsent messages exceed either bound is dropped: slow readers never stall
  // the publisher.
  size_t event_queue_messages = 1024;
  size_t event_queue_bytes = 8 << 20;

  // Two-way WebSocket endpoints (the agent link), matched by path before the router.
  std::vector<WsEndpoint> ws_endpoints;
  // Byte-stream WebSocket endpoints (the display), matched by path before the router.
  std::vector<StreamEndpoint> stream_endpoints;

  // Stop waits this long for connections to finish before abandoning them.
  std::chrono::milliseconds stop_grace{3'000};
};

class HttpServer {
 public:
  using Options = HttpServerOptions;

  // Binds, listens and starts the threads. On failure nothing is left running. `router` and
  // `hub` must outlive the server.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> Start(Options options,
                                                                 const Router& router,
                                                                 EventHub& hub);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port actually bound: the ephemeral one when Options::port was 0.
  uint16_t port() const;
  // Stops accepting, ends every connection (WebSocket clients get a close frame "going away"),
  // and joins the threads. Idempotent; the destructor calls it.
  void Stop();

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moat::broker::http
