// HttpsClient: one keep-alive TLS connection driven synchronously, each step run on the
// client's own io_context against the request's deadline.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <optional>

#include "moat/common/net/client.h"
#include "net/tls_connect.h"

namespace moat::net {
namespace {

namespace bhttp = boost::beast::http;
using namespace internal;  // NOLINT(google-build-using-namespace): the shared steps

using BeastRequest = bhttp::request<bhttp::string_body>;
using BeastResponse = bhttp::response<bhttp::string_body>;

constexpr uint32_t kMaxResponseHeaderBytes = 64 << 10;

// CR, LF or NUL in a header would end it early and let the rest pose as more header fields.
bool HasLineBreak(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool IsToken(std::string_view text) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

// Safe to send twice: RFC 9110 9.2.2.
bool IsIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "TRACE";
}

bool HasField(const BeastRequest& request, std::string_view name) {
  return request.find(name) != request.end();
}

// The request as Beast sends it: the base path prefixed to the target, the default fields added.
Result<BeastRequest> BuildRequest(const BaseUrl& url, const ClientRequest& request) {
  if (!IsToken(request.method)) {
    return Fail(InvalidArgument("method '" + request.method + "' is not an HTTP token"));
  }
  if (!request.target.empty() && request.target.front() != '/') {
    return Fail(InvalidArgument("target '" + request.target + "' does not start with '/'"));
  }
  if (std::any_of(request.target.begin(), request.target.end(),
                  [](char c) { return c <= 0x20 || c >= 0x7f; })) {
    return Fail(
        InvalidArgument("target '" + request.target + "' has spaces or control characters"));
  }
  std::string target = url.path;
  if (!request.target.empty()) {
    if (target.back() == '/') target.pop_back();
    target += request.target;
  }
  BeastRequest out;
  out.version(11);
  out.method_string(request.method);
  out.target(target);
  for (const auto& [name, value] : request.headers) {
    if (!IsToken(name) || HasLineBreak(value)) {
      return Fail(InvalidArgument("header field '" + name + "' is malformed"));
    }
    out.insert(name, value);
  }
  if (!HasField(out, "Host")) out.set(bhttp::field::host, url.HostHeader());
  if (!HasField(out, "User-Agent")) out.set(bhttp::field::user_agent, kUserAgent);
  if (!request.body.empty() && !HasField(out, "Content-Type")) {
    out.set(bhttp::field::content_type, "application/json");
  }
  out.body() = request.body;
  out.keep_alive(true);
  out.prepare_payload();  // Content-Length; also 0 for an empty POST, PUT or PATCH
  return out;
}

ClientResponse ToClientResponse(BeastResponse&& response) {
  ClientResponse out;
  out.status = static_cast<int>(response.result_int());
  for (const auto& field : response) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(response.body());
  return out;
}

}  // namespace

class HttpsClient::Impl {
 public:
  Impl(BaseUrl url, tls::SslCtxPtr ctx, std::chrono::milliseconds timeout)
      : url_(std::move(url)), tls_(ctx.release()), timeout_(timeout) {}

  ~Impl() { Disconnect(); }

  Status Open(Clock::time_point deadline) {
    Disconnect();
    stream_.emplace(io_, tls_);
    buffer_.clear();
    ++connections_;
    if (auto status = ConnectTls(io_, *stream_, url_, deadline, timeout_); !status) {
      Disconnect();
      return status;
    }
    return {};
  }

  Result<ClientResponse> Send(const ClientRequest& request) {
    auto deadline = Clock::now() + timeout_;
    MOAT_TRY(auto beast_request, BuildRequest(url_, request));
    bool reused = stream_.has_value() && PeerStillThere();
    if (!reused) MOAT_TRY_VOID(Open(deadline));
    bool nothing_received = false;
    auto response = Exchange(beast_request, deadline, &nothing_received);
    if (!response && reused && nothing_received && IsIdempotent(request.method)) {
      // The server closed the reused connection just as the request went out.
      MOAT_TRY_VOID(Open(deadline));
      response = Exchange(beast_request, deadline, &nothing_received);
    }
    return response;
  }

  void set_max_response_bytes(size_t bytes) { max_response_bytes_ = bytes; }
  size_t connections_opened() const { return connections_; }
  const BaseUrl& url() const { return url_; }

 private:
  // One request and its response. On failure the connection is dropped, and
  // `nothing_received` tells whether the server sent no byte of a response before it went.
  Result<ClientResponse> Exchange(BeastRequest& request, Clock::time_point deadline,
                                  bool* nothing_received) {
    *nothing_received = false;
    auto close = [this] { beast::get_lowest_layer(*stream_).close(); };
    auto ec = RunUntil(
        io_, deadline, [&](auto handler) { bhttp::async_write(*stream_, request, handler); },
        close);
    if (ec) {
      *nothing_received = ec != beast::error::timeout;
      Disconnect();
      return Fail(StepError("send request to", url_, ec, timeout_));
    }

    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_response_bytes_);
    parser.header_limit(kMaxResponseHeaderBytes);
    if (request.method() == bhttp::verb::head) parser.skip(true);
    ec = RunUntil(
        io_, deadline, [&](auto handler) { bhttp::async_read(*stream_, buffer_, parser, handler); },
        close);
    if (ec) {
      *nothing_received = ec != beast::error::timeout && !parser.got_some();
      Disconnect();
      if (ec == bhttp::error::body_limit) {
        return Fail(Error(ec, "read response from " + url_.HostPort() + ": body exceeds " +
                                  std::to_string(max_response_bytes_) + " bytes"));
      }
      return Fail(StepError("read response from", url_, ec, timeout_));
    }
    BeastResponse response = parser.release();
    if (!response.keep_alive()) Disconnect();  // "Connection: close"
    return ToClientResponse(std::move(response));
  }

  // Whether the idle connection is still usable: a FIN from the server (idle timeout, restart)
  // shows as hang-up or as end of file. Pending bytes alone are fine: TLS 1.3 session tickets
  // arrive after the handshake and wait there until the first response is read.
  bool PeerStillThere() {
    int fd = beast::get_lowest_layer(*stream_).socket().native_handle();
    pollfd pfd{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&pfd, 1, 0) == 0) return true;
    bool alive = !(pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
    if (alive && (pfd.revents & POLLIN)) {
      char byte;
      alive = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
    }
    if (!alive) Disconnect();
    return alive;
  }

  // No TLS close_notify: it would wait for the server's answer, and the server copes.
  void Disconnect() {
    if (!stream_) return;
    beast::error_code ignored;
    beast::get_lowest_layer(*stream_).socket().close(ignored);
    stream_.reset();
    buffer_.clear();
  }

  const BaseUrl url_;
  asio::io_context io_{1};
  ssl::context tls_;
  const std::chrono::milliseconds timeout_;
  std::optional<TlsStream> stream_;
  beast::flat_buffer buffer_;
  size_t max_response_bytes_ = kDefaultMaxResponseBytes;
  size_t connections_ = 0;
};

Result<std::unique_ptr<HttpsClient>> HttpsClient::Connect(std::string_view base_url,
                                                          tls::SslCtxPtr ctx,
                                                          std::chrono::milliseconds timeout) {
  MOAT_TRY(auto url, ParseUrl(base_url));
  if (url.scheme != "https") {
    return Fail(
        InvalidArgument("HTTPS client: URL '" + std::string(base_url) + "' is not https://"));
  }
  if (url.path.find('?') != std::string::npos) {
    return Fail(InvalidArgument("HTTPS client: base URL '" + std::string(base_url) +
                                "' must not have a query"));
  }
  if (!ctx) return Fail(InvalidArgument("HTTPS client: no TLS context given"));
  auto impl = std::make_unique<Impl>(std::move(url), std::move(ctx), timeout);
  MOAT_TRY_VOID(impl->Open(Clock::now() + timeout));
  return std::unique_ptr<HttpsClient>(new HttpsClient(std::move(impl)));
}

HttpsClient::HttpsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsClient::~HttpsClient() = default;
Result<ClientResponse> HttpsClient::Send(const ClientRequest& request) {
  return impl_->Send(request);
}
void HttpsClient::set_max_response_bytes(size_t bytes) { impl_->set_max_response_bytes(bytes); }
size_t HttpsClient::connections_opened() const { return impl_->connections_opened(); }
const BaseUrl& HttpsClient::url() const { return impl_->url(); }

}  // namespace moat::net
