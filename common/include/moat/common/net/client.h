// HTTPS and WSS clients for talking to the broker (moatctl, moat-agent, tests). Free of Boost:
// Beast stays inside https_client.cc and wss_client.cc, so users of this header compile fast.
// TLS settings and verification (CA, expected host name, client certificate) come from the
// SSL_CTX made by tls::MakeClientContext; the clients add SNI for DNS names.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/tls/openssl.h"

namespace moat::net {

// "https://host:port/path?query" or "wss://…", split up. No user info, no fragment.
struct BaseUrl {
  std::string scheme;  // "https" or "wss", lower case
  std::string host;    // a DNS name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = 443;
  std::string path;  // path and query as given, "/" when the URL has none; starts with '/'

  // "127.0.0.1:8443", "[::1]:8443": for error messages and logs.
  std::string HostPort() const;
  // The Host header value: HostPort(), without the port when it is 443.
  std::string HostHeader() const;
  // An IPv4 or IPv6 literal rather than a DNS name (no SNI, no resolver).
  bool host_is_ip() const;
};

// "https://127.0.0.1:8443", "wss://host:9/api/v1/events?x=1", "https://[::1]/". The port
// defaults to 443. Anything else fails with a message that names the URL and what is wrong.
Result<BaseUrl> ParseUrl(std::string_view url);

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in arrival order
  std::string body;

  // The first header field called `name`, compared case-insensitively.
  std::optional<std::string> Header(std::string_view name) const;
};

struct ClientRequest {
  std::string method = "GET";
  // Path and query, e.g. "/api/v1/sessions?state=running"; appended to the base URL's path.
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
};

// One keep-alive HTTPS connection. Not thread-safe: use one per thread.
//
// Each request sends Host, User-Agent and Content-Length, and Content-Type: application/json
// when it has a body and names no Content-Type itself. Before reusing the connection the client
// checks whether the server has closed it meanwhile (idle timeout, restart) and reconnects
// first. If a reused connection still fails before any byte of the response arrives (the server
// closed it at that very moment), an idempotent request (GET, HEAD, PUT, DELETE, OPTIONS) is
// sent once more on a new connection; a POST is not, since the server may have acted on it.
class HttpsClient {
 public:
  static constexpr size_t kDefaultMaxResponseBytes = 64 << 20;

  // Parses `base_url` (https only; its path, if any, prefixes every request target), then
  // connects and completes the TLS handshake within `timeout`, which also bounds every Send.
  [[nodiscard]] static Result<std::unique_ptr<HttpsClient>> Connect(
      std::string_view base_url, tls::SslCtxPtr ctx,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends `request` and reads the whole response, reconnecting if needed, within the timeout.
  // Any HTTP status is a success here; errors are transport failures, timeouts and bad input.
  [[nodiscard]] Result<ClientResponse> Send(const ClientRequest& request);

  // A larger response body fails the request. Default kDefaultMaxResponseBytes.
  void set_max_response_bytes(size_t bytes);
  // TCP connections opened so far (1 after Connect): shows keep-alive and reconnects at work.
  size_t connections_opened() const;
  const BaseUrl& url() const;

 private:
  class Impl;
  explicit HttpsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct WssOptions {
  std::string url;     // wss://host:port/path?query
  tls::SslCtxPtr ctx;  // from tls::MakeClientContext
  // Extra fields of the upgrade request, e.g. {"Authorization", "Bearer …"}.
  std::vector<std::pair<std::string, std::string>> headers;
  // Bounds Connect as a whole, and Close (flushing queued messages and the close handshake).
  std::chrono::milliseconds timeout{10'000};
  // With no frame from the server for this long, the client pings; without an answer to that
  // either, the connection ends. Catches a server that vanished without closing.
  std::chrono::milliseconds idle_timeout{60'000};
  // On the client's I/O thread, for every message, text or binary.
  std::function<void(std::string)> on_message;
  // Send binary messages instead of text (a byte stream such as a desktop's RFB).
  bool binary = false;
  // On the client's I/O thread, exactly once, when the connection ends for whatever reason:
  // closed by the server (the message has its close code and reason), by Close, or failed.
  std::function<void(const Error&)> on_close;
  // A larger incoming message ends the connection.
  size_t max_message_bytes = 4 << 20;
  // Send fails while more than this is queued and not yet written.
  size_t max_queued_bytes = 16 << 20;
};

// A WebSocket over TLS with its own I/O thread. The callbacks may call Send and Close, but must
// not block for long: they hold up the I/O thread.
class WssClient {
 public:
  // Connects (TCP, TLS with SNI and verification per the ctx, WebSocket upgrade) synchronously
  // within options.timeout, then starts the I/O thread. An upgrade refused with an HTTP status
  // fails with an error whose message has that status and the response body ("401 …").
  [[nodiscard]] static Result<std::unique_ptr<WssClient>> Connect(WssOptions options);
  // Calls Close.
  ~WssClient();
  WssClient(const WssClient&) = delete;
  WssClient& operator=(const WssClient&) = delete;

  // Queues a text message; never waits for the network. Messages go out in Send order. Fails
  // once the connection has ended or Close was called, and when the queue is full.
  [[nodiscard]] Status Send(std::string text);
  // Sends what is queued, then a close frame, waits for the server's answer (at most
  // options.timeout) and joins the I/O thread. Idempotent. From a callback (on the I/O thread)
  // it starts the close and returns without waiting.
  void Close();
  // Connected, and Close not yet called.
  bool open() const;
  const BaseUrl& url() const;

 private:
  class Impl;
  explicit WssClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // shared with the I/O thread
};

}  // namespace moat::net
