#include "display/stream_bridge.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "display/rfb_handshake.h"

namespace moat::broker::display {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

struct Bridge {
  std::unique_ptr<http::ByteStream> stream;
  UnixSocket socket;

  void End() {
    boost::system::error_code ignored;
    socket.close(ignored);
    stream->Abort();
  }
};

// Coroutines take references only (see co_try.h on GCC 12).
net::awaitable<void> StreamToSocket(Bridge& bridge) {
  std::array<char, 64 << 10> buffer;
  while (true) {
    auto n = co_await bridge.stream->ReadSome(net::buffer(buffer));
    if (!n) break;
    auto [ec, written] =
        co_await net::async_write(bridge.socket, net::buffer(buffer.data(), *n), kTuple);
    if (ec) break;
  }
  bridge.End();
}

net::awaitable<void> SocketToStream(Bridge& bridge) {
  std::array<char, 64 << 10> buffer;
  while (true) {
    auto [ec, n] = co_await bridge.socket.async_read_some(net::buffer(buffer), kTuple);
    if (ec) break;
    auto sent = co_await bridge.stream->Write(net::buffer(buffer.data(), n));
    if (!sent) break;
  }
  bridge.End();
}

}  // namespace

Result<UniqueFd> BridgeToSocket(std::unique_ptr<http::ByteStream> stream) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return FailErrno("socketpair", "desktop tunnel");
  }
  UniqueFd ours(fds[0]);
  UniqueFd theirs(fds[1]);
  net::any_io_executor executor = stream->executor();
  auto bridge = std::make_shared<Bridge>(Bridge{std::move(stream), UnixSocket(executor)});
  boost::system::error_code ec;
  bridge->socket.assign(net::local::stream_protocol(), ours.Release(), ec);
  if (ec) return Fail(Error(ec, "adopt the tunnel's socket: " + ec.message()));
  // Both pumps start on the stream's strand; the pointer they hold keeps the bridge alive.
  net::co_spawn(
      executor, [bridge]() -> net::awaitable<void> { co_await StreamToSocket(*bridge); },
      net::detached);
  net::co_spawn(
      executor, [bridge]() -> net::awaitable<void> { co_await SocketToStream(*bridge); },
      net::detached);
  return theirs;
}

}  // namespace moat::broker::display
