// Internal to the two Beast translation units (https_client.cc, wss_client.cc): the steps they
// share, run synchronously against a deadline on the client's own io_context. Only those files
// include this header, so Beast's compile cost stays there.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "moat/common/error.h"
#include "moat/common/net/client.h"
#include "moat/common/tls/context.h"

namespace moat::net::internal {

namespace beast = boost::beast;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

inline constexpr char kUserAgent[] = "moat/0.1";

// Starts an operation with `start(handler)` and runs `io` on this thread until the handler has
// run. When `deadline` passes first, `cancel()` aborts the operation (closes the socket, say)
// and the result is beast::error::timeout.
template <typename Start, typename Cancel>
beast::error_code RunUntil(asio::io_context& io, Clock::time_point deadline, Start&& start,
                           Cancel&& cancel) {
  beast::error_code result;
  bool done = false;
  start([&](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  io.restart();
  bool timed_out = false;
  while (!done) {
    if (io.run_one_until(deadline) > 0) continue;
    if (done) break;
    if (io.stopped() && Clock::now() < deadline) {
      return asio::error::make_error_code(asio::error::operation_aborted);  // cannot happen
    }
    timed_out = true;
    cancel();
    io.restart();
    while (!done && io.run_one() > 0) {
    }
    break;
  }
  return timed_out ? beast::error_code(beast::error::timeout) : result;
}

// "connect 127.0.0.1:8443: Connection refused", "… timed out after 30000 ms".
inline Error StepError(std::string_view step, const BaseUrl& url, const beast::error_code& ec,
                       std::chrono::milliseconds timeout) {
  std::string text = ec == beast::error::timeout
                         ? "timed out after " + std::to_string(timeout.count()) + " ms"
                         : ec.message();
  return Error(ec, std::string(step) + " " + url.HostPort() + ": " + text);
}

// The handshake error, with the reason certificate verification failed when it did:
// "… certificate verify failed: unable to get local issuer certificate".
inline Error HandshakeError(TlsStream& stream, const BaseUrl& url, const beast::error_code& ec,
                            std::chrono::milliseconds timeout) {
  Error error = StepError("TLS handshake with", url, ec, timeout);
  long verify = SSL_get_verify_result(stream.native_handle());
  if (ec != beast::error::timeout && verify != X509_V_OK) {
    error =
        Error(error.code(), error.message() + ": " + tls::PeerVerifyResult(stream.native_handle()));
  }
  return error;
}

// The endpoints of `url`: the address itself for an IP literal, else what the resolver says.
inline Result<tcp::resolver::results_type> Resolve(asio::io_context& io, const BaseUrl& url,
                                                   Clock::time_point deadline,
                                                   std::chrono::milliseconds timeout) {
  std::string port = std::to_string(url.port);
  tcp::resolver resolver(io);
  if (url.host_is_ip()) {
    beast::error_code ec;
    auto address = asio::ip::make_address(url.host, ec);
    if (ec) return Fail(StepError("parse address", url, ec, timeout));
    return tcp::resolver::results_type::create(tcp::endpoint(address, url.port), url.host, port);
  }
  tcp::resolver::results_type results;
  auto ec = RunUntil(
      io, deadline,
      [&](auto handler) {
        resolver.async_resolve(
            url.host, port,
            [&results, handler](beast::error_code ec, tcp::resolver::results_type found) mutable {
              results = std::move(found);
              handler(ec);
            });
      },
      [&] { resolver.cancel(); });
  if (ec) return Fail(StepError("resolve", url, ec, timeout));
  return results;
}

// TCP connect to the first endpoint that answers, then the TLS handshake: SNI for a DNS name,
// certificate checks as configured in the stream's context.
inline Status ConnectTls(asio::io_context& io, TlsStream& stream, const BaseUrl& url,
                         Clock::time_point deadline, std::chrono::milliseconds timeout) {
  MOAT_TRY(auto endpoints, Resolve(io, url, deadline, timeout));
  auto& tcp_stream = beast::get_lowest_layer(stream);
  auto close = [&] { tcp_stream.close(); };
  auto ec = RunUntil(
      io, deadline, [&](auto handler) { tcp_stream.async_connect(endpoints, handler); }, close);
  if (ec) return Fail(StepError("connect", url, ec, timeout));
  // Requests are small and answered at once: no Nagle delay waiting for an ACK.
  tcp_stream.socket().set_option(tcp::no_delay(true), ec);

  // SNI names a host; RFC 6066 forbids IP literals in it.
  if (!url.host_is_ip() &&
      SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()) != 1) {
    return Fail(tls::OpenSslError("SSL_set_tlsext_host_name", url.host));
  }
  ec = RunUntil(
      io, deadline,
      [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); }, close);
  if (ec) return Fail(HandshakeError(stream, url, ec, timeout));
  return {};
}

}  // namespace moat::net::internal
