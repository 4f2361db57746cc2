// The native VNC client's side of the gateway: a TCP socket that becomes TLS in the middle of
// the RFB handshake (VeNCrypt 0.2, subtype X509Plain), then carries the client's username and
// password in the clear inside TLS.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "display/rfb_handshake.h"
#include "http/byte_stream.h"

namespace moat::broker::display {

struct PlainCredentials {
  std::string user;
  std::string password;
};

// The TLS stream once VeNCrypt switched to it, as a ByteStream for the relay.
class VencryptStream : public http::ByteStream {
 public:
  VencryptStream(net::ip::tcp::socket socket, net::ssl::context& tls);
  ~VencryptStream() override;

  // RFB version, security type VeNCrypt, VeNCrypt 0.2 with X509Plain, the TLS handshake and
  // the Plain credentials. A client that fails any step is told why where RFB lets it be.
  net::awaitable<Result<PlainCredentials>> Handshake();
  // The SecurityResult after the credentials were checked; on failure the reason is sent and
  // the connection should end.
  net::awaitable<Status> SendSecurityResult(const Status& verdict);
  // The client's ClientInit (its "shared" flag: the gateway decides that).
  net::awaitable<Status> ReadClientInit();

  net::awaitable<Result<size_t>> ReadSome(net::mutable_buffer buffer) override;
  net::awaitable<Status> Write(net::const_buffer data) override;
  net::awaitable<void> Close(int code, const std::string& reason) override;
  void Abort() override;
  net::any_io_executor executor() override;
  std::string peer() const override { return peer_; }

 private:
  struct Tls;
  net::awaitable<Result<std::string>> ReadRaw(size_t count);
  net::awaitable<Status> WriteRaw(std::string_view data);
  net::awaitable<Result<std::string>> ReadTls(size_t count);

  std::unique_ptr<Tls> tls_;
  std::string peer_;
};

}  // namespace moat::broker::display
