#include "display/display_relay.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "display/display_gateway.h"

namespace moat::broker::display {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// Idle time needs seconds, not every mouse move: one report per connection this often.
constexpr auto kInputReportInterval = std::chrono::seconds(5);
// A client that does not finish its close handshake within this is cut off.
constexpr auto kCloseGrace = std::chrono::seconds(5);
constexpr size_t kChunk = 64 << 10;
constexpr auto kHandshakeDeadline = std::chrono::seconds(30);

}  // namespace

DisplayRelay::DisplayRelay(std::unique_ptr<http::ByteStream> client, DisplayTarget target,
                           ConnectionInfo info, RelayRegistry& registry)
    : client_(std::move(client)),
      target_(std::move(target)),
      info_(std::move(info)),
      registry_(registry),
      filter_(target_.shadow),
      abort_timer_(client_->executor()) {}

net::awaitable<void> DisplayRelay::Run() {
  // Admitted before the desktop is reached: a takeover drops the previous owner first, which a
  // desktop that serves one connection at a time (a VM's port) needs, and the session never
  // looks disconnected in between.
  auto admitted = registry_.Admit(shared_from_this());
  if (!admitted) {
    registry_.Abandoned(*this);
    std::string why = admitted.error().message();
    co_await client_->Close(kCloseRefused, why);
    co_return;
  }
  net::any_io_executor executor = client_->executor();
  Result<UnixSocket> desktop = Fail(Error({}, "no desktop"));
  if (target_.tunnel && *target_.tunnel) {
    desktop = co_await AdoptDesktop(executor, *target_.tunnel, target_.socket);
  } else {
    desktop = co_await ConnectToDesktop(executor, target_.socket);
  }
  if (desktop && stopping_) desktop = Fail(Error({}, reason_));
  if (!desktop) {
    std::string why = desktop.error().message();
    co_await client_->Close(kCloseDesktopEnded, why);
    registry_.Finished(*this, why);
    co_return;
  }
  desktop_.emplace(std::move(*desktop));
  relaying_ = true;
  pumps_ = 2;
  auto self = shared_from_this();
  net::co_spawn(client_->executor(), self->ClientToDesktop(), net::detached);
  net::co_spawn(client_->executor(), self->DesktopToClient(), net::detached);
}

net::awaitable<void> DisplayRelay::RunWeb() {
  net::steady_timer deadline(client_->executor());
  deadline.expires_after(kHandshakeDeadline);
  deadline.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->client_->Abort();
  });
  StreamReader reader(*client_);
  auto handshake = co_await ServeWithoutAuthentication(*client_, reader);
  deadline.cancel();
  if (!handshake || stopping_) {
    registry_.Abandoned(*this);
    std::string why = handshake ? reason_ : handshake.error().message();
    co_await client_->Close(kCloseProtocolError, why);
    co_return;
  }
  early_bytes_ = reader.TakeLeftover();
  co_await Run();
}

net::awaitable<void> DisplayRelay::ClientToDesktop() {
  auto self = shared_from_this();  // the pump keeps the relay alive
  std::string chunk = std::move(early_bytes_);
  std::array<char, kChunk> buffer;
  while (!stopping_) {
    if (chunk.empty()) {
      auto n = co_await client_->ReadSome(net::buffer(buffer));
      if (!n) {
        Stop(1000, n.error().message());
        break;
      }
      chunk.assign(buffer.data(), *n);
    }
    auto out = filter_.Feed(chunk);
    chunk.clear();
    if (!out) {
      Stop(kCloseProtocolError, out.error().message());
      break;
    }
    if (out->saw_input) {
      auto now = std::chrono::steady_clock::now();
      if (!last_input_report_ || now - *last_input_report_ >= kInputReportInterval) {
        last_input_report_ = now;
        registry_.InputSeen(target_.session_id);
      }
    }
    if (out->forward.empty()) continue;
    auto [ec, written] = co_await net::async_write(*desktop_, net::buffer(out->forward), kTuple);
    if (ec) {
      Stop(kCloseDesktopEnded, "the session's desktop closed the connection");
      break;
    }
  }
  PumpEnded();
}

net::awaitable<void> DisplayRelay::DesktopToClient() {
  auto self = shared_from_this();
  std::array<char, kChunk> buffer;
  while (true) {
    auto [ec, n] = co_await desktop_->async_read_some(net::buffer(buffer), kTuple);
    if (ec) {
      Stop(kCloseDesktopEnded, "the session's desktop ended");
      break;
    }
    auto sent = co_await client_->Write(net::buffer(buffer.data(), n));
    if (!sent) {
      Stop(1000, sent.error().message());
      break;
    }
  }
  // The only writer to the client: the close frame goes from here.
  std::string why = reason_;
  co_await client_->Close(close_code_, why);
  client_->Abort();  // ends the other pump's read
  PumpEnded();
}

void DisplayRelay::Kick(int code, std::string reason) {
  net::post(client_->executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    self->Stop(code, reason);
  });
}

void DisplayRelay::Stop(int code, std::string reason) {
  if (stopping_) return;
  stopping_ = true;
  close_code_ = code;
  reason_ = std::move(reason);
  if (!relaying_) {  // still in the handshake: nothing to say, only to end
    client_->Abort();
    return;
  }
  boost::system::error_code ignored;
  desktop_->close(ignored);
  abort_timer_.expires_after(kCloseGrace);
  abort_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->client_->Abort();
  });
}

void DisplayRelay::PumpEnded() {
  if (--pumps_ > 0) return;
  abort_timer_.cancel();
  registry_.Finished(*this, reason_);
}

}  // namespace moat::broker::display
