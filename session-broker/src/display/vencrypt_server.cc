#include "display/vencrypt_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace moat::broker::display {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr uint8_t kSecurityVencrypt = 19;
constexpr uint32_t kVencryptX509Plain = 262;
constexpr uint32_t kMaxCredential = 1024;

uint32_t GetU32(std::string_view b) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(b[i]);
  return value;
}

Error ProtocolError(const std::string& peer, const std::string& what) {
  return Error(std::make_error_code(std::errc::protocol_error), "VNC client " + peer + ": " + what);
}

}  // namespace

struct VencryptStream::Tls {
  Tls(net::ip::tcp::socket socket, net::ssl::context& context)
      : stream(std::move(socket), context) {}
  net::ssl::stream<net::ip::tcp::socket> stream;
};

VencryptStream::VencryptStream(net::ip::tcp::socket socket, net::ssl::context& tls) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  peer_ = ec ? "unknown" : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  socket.set_option(net::ip::tcp::no_delay(true), ec);
  socket.set_option(net::socket_base::keep_alive(true), ec);
  tls_ = std::make_unique<Tls>(std::move(socket), tls);
}

VencryptStream::~VencryptStream() = default;

net::awaitable<Result<std::string>> VencryptStream::ReadRaw(size_t count) {
  std::string data(count, '\0');
  auto [ec, n] = co_await net::async_read(tls_->stream.next_layer(), net::buffer(data), kTuple);
  if (ec) co_return Fail(ProtocolError(peer_, "read: " + ec.message()));
  co_return data;
}

net::awaitable<Status> VencryptStream::WriteRaw(std::string_view data) {
  auto [ec, n] = co_await net::async_write(tls_->stream.next_layer(), net::buffer(data), kTuple);
  if (ec) co_return Fail(ProtocolError(peer_, "write: " + ec.message()));
  co_return Status{};
}

net::awaitable<Result<std::string>> VencryptStream::ReadTls(size_t count) {
  std::string data(count, '\0');
  auto [ec, n] = co_await net::async_read(tls_->stream, net::buffer(data), kTuple);
  if (ec) co_return Fail(ProtocolError(peer_, "read over TLS: " + ec.message()));
  co_return data;
}

net::awaitable<Result<PlainCredentials>> VencryptStream::Handshake() {
  MOAT_CO_TRY_VOID(co_await WriteRaw(kRfbVersion));
  auto version = co_await ReadRaw(kRfbVersion.size());
  if (!version) co_return Fail(version.error());
  if (auto ok = CheckClientVersion(*version); !ok) {
    std::string refusal = NoSecurityTypes(ok.error().message());
    auto told = co_await WriteRaw(refusal);
    (void)told;
    co_return Fail(ProtocolError(peer_, ok.error().message()));
  }
  const char types[] = {1, static_cast<char>(kSecurityVencrypt)};
  MOAT_CO_TRY_VOID(co_await WriteRaw(std::string_view(types, sizeof types)));
  auto chosen = co_await ReadRaw(1);
  if (!chosen) co_return Fail(chosen.error());
  if (static_cast<uint8_t>((*chosen)[0]) != kSecurityVencrypt) {
    co_return Fail(ProtocolError(peer_, "chose a security type other than the offered VeNCrypt"));
  }

  // VeNCrypt 0.2: versions, then the subtypes (X509Plain only), then the client's choice.
  const char our_version[] = {0, 2};
  MOAT_CO_TRY_VOID(co_await WriteRaw(std::string_view(our_version, 2)));
  auto their_version = co_await ReadRaw(2);
  if (!their_version) co_return Fail(their_version.error());
  if ((*their_version)[0] != 0 || (*their_version)[1] != 2) {
    auto told = co_await WriteRaw(std::string_view("\xff", 1));
    (void)told;
    co_return Fail(ProtocolError(peer_, "speaks a VeNCrypt version other than 0.2"));
  }
  const char subtypes[] = {0, 1, 0, 0, 0x01, 0x06};  // accepted; one subtype: 262 X509Plain
  MOAT_CO_TRY_VOID(co_await WriteRaw(std::string_view(subtypes, sizeof subtypes)));
  auto subtype = co_await ReadRaw(4);
  if (!subtype) co_return Fail(subtype.error());
  if (GetU32(*subtype) != kVencryptX509Plain) {
    auto told = co_await WriteRaw(std::string_view("\0", 1));
    (void)told;
    co_return Fail(ProtocolError(peer_, "chose VeNCrypt subtype " +
                                            std::to_string(GetU32(*subtype)) +
                                            ", not the offered X509Plain (262)"));
  }
  MOAT_CO_TRY_VOID(co_await WriteRaw(std::string_view("\x01", 1)));

  auto [ec] = co_await tls_->stream.async_handshake(net::ssl::stream_base::server, kTuple);
  if (ec) co_return Fail(ProtocolError(peer_, "TLS handshake: " + ec.message()));

  auto lengths = co_await ReadTls(8);
  if (!lengths) co_return Fail(lengths.error());
  uint32_t user_length = GetU32(*lengths);
  uint32_t password_length = GetU32(std::string_view(*lengths).substr(4));
  if (user_length == 0 || user_length > kMaxCredential || password_length > kMaxCredential) {
    co_return Fail(ProtocolError(peer_, "Plain credentials of impossible lengths"));
  }
  auto text = co_await ReadTls(user_length + password_length);
  if (!text) co_return Fail(text.error());
  co_return PlainCredentials{text->substr(0, user_length), text->substr(user_length)};
}

net::awaitable<Status> VencryptStream::SendSecurityResult(const Status& verdict) {
  if (verdict) {
    const char ok[] = {0, 0, 0, 0};
    auto sent = co_await Write(net::buffer(ok, 4));
    co_return sent;
  }
  std::string failure = SecurityFailure(verdict.error().message());
  auto told = co_await Write(net::buffer(failure));
  (void)told;
  co_return Status{};
}

net::awaitable<Status> VencryptStream::ReadClientInit() {
  auto init = co_await ReadTls(1);
  if (!init) co_return Fail(init.error());
  co_return Status{};
}

net::awaitable<Result<size_t>> VencryptStream::ReadSome(net::mutable_buffer buffer) {
  auto [ec, n] = co_await tls_->stream.async_read_some(buffer, kTuple);
  if (ec) co_return Fail(ProtocolError(peer_, "receive: " + ec.message()));
  co_return n;
}

net::awaitable<Status> VencryptStream::Write(net::const_buffer data) {
  auto [ec, n] = co_await net::async_write(tls_->stream, data, kTuple);
  if (ec) co_return Fail(ProtocolError(peer_, "send: " + ec.message()));
  co_return Status{};
}

net::awaitable<void> VencryptStream::Close(int, const std::string&) {
  // RFB has no way to say why after the handshake; the viewer reports a closed connection.
  Abort();
  co_return;
}

void VencryptStream::Abort() {
  boost::system::error_code ignored;
  tls_->stream.next_layer().close(ignored);
}

net::any_io_executor VencryptStream::executor() { return tls_->stream.get_executor(); }

}  // namespace moat::broker::display
