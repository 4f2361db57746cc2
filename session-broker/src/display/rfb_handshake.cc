#include "display/rfb_handshake.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "moat/common/unix_connect.h"

namespace moat::broker::display {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr uint8_t kSecurityNone = 1;

void PutU32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

uint32_t GetU32(std::string_view b) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(b[i]);
  return value;
}

Error DesktopError(const std::filesystem::path& socket, const std::string& what) {
  return Error(std::make_error_code(std::errc::connection_refused),
               "session desktop at '" + socket.string() + "': " + what);
}

net::awaitable<Result<std::string>> ReadUnix(UnixSocket& socket, size_t count,
                                             const std::filesystem::path& path) {
  std::string data(count, '\0');
  auto [ec, n] = co_await net::async_read(socket, net::buffer(data), kTuple);
  if (ec) co_return Fail(DesktopError(path, "read: " + ec.message()));
  co_return data;
}

net::awaitable<Status> WriteUnix(UnixSocket& socket, std::string_view data,
                                 const std::filesystem::path& path) {
  auto [ec, n] = co_await net::async_write(socket, net::buffer(data), kTuple);
  if (ec) co_return Fail(DesktopError(path, "write: " + ec.message()));
  co_return Status{};
}

}  // namespace

net::awaitable<Result<std::string>> StreamReader::Read(size_t count) {
  std::string chunk(16 << 10, '\0');
  while (buffered_.size() < count) {
    auto n = co_await stream_.ReadSome(net::buffer(chunk));
    if (!n) co_return Fail(n.error());
    buffered_.append(chunk.data(), *n);
  }
  std::string out = buffered_.substr(0, count);
  buffered_.erase(0, count);
  co_return out;
}

std::string SecurityFailure(std::string_view reason) {
  std::string out;
  PutU32(out, 1);
  PutU32(out, static_cast<uint32_t>(reason.size()));
  out.append(reason);
  return out;
}

std::string NoSecurityTypes(std::string_view reason) {
  std::string out(1, '\0');
  PutU32(out, static_cast<uint32_t>(reason.size()));
  out.append(reason);
  return out;
}

Status CheckClientVersion(std::string_view version) {
  if (version == kRfbVersion) return {};
  std::string shown;
  for (char c : version) shown += (c >= 0x20 && c < 0x7f) ? c : '.';
  return Fail(InvalidArgument("client speaks '" + shown + "'; the gateway speaks RFB 3.8 only"));
}

net::awaitable<Status> ServeWithoutAuthentication(http::ByteStream& client, StreamReader& reader) {
  MOAT_CO_TRY_VOID(co_await client.Write(net::buffer(kRfbVersion)));
  auto version = co_await reader.Read(kRfbVersion.size());
  if (!version) co_return Fail(version.error());
  if (auto ok = CheckClientVersion(*version); !ok) {
    std::string refusal = NoSecurityTypes(ok.error().message());
    auto told = co_await client.Write(net::buffer(refusal));
    (void)told;
    co_return Fail(ok.error());
  }
  const char types[] = {1, kSecurityNone};
  MOAT_CO_TRY_VOID(co_await client.Write(net::buffer(types, sizeof types)));
  auto chosen = co_await reader.Read(1);
  if (!chosen) co_return Fail(chosen.error());
  if (static_cast<uint8_t>((*chosen)[0]) != kSecurityNone) {
    co_return Fail(InvalidArgument("client chose security type " +
                                   std::to_string(static_cast<uint8_t>((*chosen)[0])) +
                                   ", not the offered None"));
  }
  std::string ok_result;
  PutU32(ok_result, 0);
  MOAT_CO_TRY_VOID(co_await client.Write(net::buffer(ok_result)));
  auto client_init = co_await reader.Read(1);  // "shared": the gateway decides that
  if (!client_init) co_return Fail(client_init.error());
  co_return Status{};
}

namespace {

// From the version exchange to ClientInit sent, on a connected socket.
net::awaitable<Status> HandshakeWithDesktop(UnixSocket& socket, const std::filesystem::path& path) {
  auto version = co_await ReadUnix(socket, kRfbVersion.size(), path);
  if (!version) co_return Fail(version.error());
  if (version->rfind("RFB 003.", 0) != 0) co_return Fail(DesktopError(path, "not an RFB server"));
  MOAT_CO_TRY_VOID(co_await WriteUnix(socket, kRfbVersion, path));

  auto count = co_await ReadUnix(socket, 1, path);
  if (!count) co_return Fail(count.error());
  if ((*count)[0] == 0) co_return Fail(DesktopError(path, "Xvnc refused the connection"));
  auto types = co_await ReadUnix(socket, static_cast<uint8_t>((*count)[0]), path);
  if (!types) co_return Fail(types.error());
  if (types->find(static_cast<char>(kSecurityNone)) == std::string::npos) {
    co_return Fail(DesktopError(path, "Xvnc asks for authentication (SecurityTypes is not None)"));
  }
  const char none = kSecurityNone;
  MOAT_CO_TRY_VOID(co_await WriteUnix(socket, std::string_view(&none, 1), path));
  auto result = co_await ReadUnix(socket, 4, path);
  if (!result) co_return Fail(result.error());
  if (GetU32(*result) != 0) co_return Fail(DesktopError(path, "Xvnc's security result failed"));
  const char shared = 1;
  MOAT_CO_TRY_VOID(co_await WriteUnix(socket, std::string_view(&shared, 1), path));
  co_return Status{};
}

}  // namespace

net::awaitable<Result<UnixSocket>> ConnectToDesktop(const net::any_io_executor& executor,
                                                    const std::filesystem::path& path) {
  // The socket's directory is the session user's: never follow a link they put there.
  auto connected = ConnectUnixNoFollow(path.string());
  if (!connected) co_return Fail(DesktopError(path, connected.error().message()));
  UnixSocket socket(executor);
  boost::system::error_code ec;
  socket.assign(net::local::stream_protocol(), connected->Release(), ec);
  if (ec) co_return Fail(DesktopError(path, "adopt: " + ec.message()));
  MOAT_CO_TRY_VOID(co_await HandshakeWithDesktop(socket, path));
  co_return std::move(socket);
}

net::awaitable<Result<UnixSocket>> AdoptDesktop(const net::any_io_executor& executor,
                                                UniqueFd& connected,
                                                const std::filesystem::path& label) {
  UnixSocket socket(executor);
  boost::system::error_code ec;
  socket.assign(net::local::stream_protocol(), connected.Release(), ec);
  if (ec) co_return Fail(DesktopError(label, "adopt: " + ec.message()));
  MOAT_CO_TRY_VOID(co_await HandshakeWithDesktop(socket, label));
  co_return std::move(socket);
}

}  // namespace moat::broker::display
