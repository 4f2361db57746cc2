// A WebSocket's binary messages as one ByteStream (http/byte_stream.h), for the display
// gateway's noVNC clients: reads hand out message bytes as they come, writes send one binary
// message each, and flow control is TCP's (a slow browser slows the relay, nothing queues).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "http/byte_stream.h"
#include "http/tls_stream.h"

namespace moat::broker::http::internal {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = boost::beast::websocket;

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

class WebSocketByteStream : public Connection,
                            public std::enable_shared_from_this<WebSocketByteStream> {
 public:
  WebSocketByteStream(TlsStream&& stream, ConnectionSet& connections)
      : ws_(std::move(stream)), connections_(connections) {
    auto& socket = beast::get_lowest_layer(ws_).socket();
    beast::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    if (!ec) peer_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }

  ~WebSocketByteStream() override { connections_.Remove(this); }

  void Run(BeastRequest request, std::function<void(std::unique_ptr<ByteStream>)> take) {
    if (!connections_.Add(shared_from_this())) {
      beast::get_lowest_layer(ws_).close();
      return;
    }
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    timeout.idle_timeout = std::chrono::seconds(60);
    timeout.keep_alive_pings = true;  // a vanished browser is noticed within a minute
    ws_.set_option(timeout);
    ws_.binary(true);
    ws_.read_message_max(1 << 20);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) { response.set("Server", "moat-broker"); }));
    ws_.async_accept(
        request, [self = shared_from_this(), take = std::move(take)](beast::error_code ec) mutable {
          if (ec) return self->Abort();
          take(std::make_unique<Handle>(self));
        });
  }

  // From Stop, any thread.
  void Close() override {
    net::post(ws_.get_executor(), [self = shared_from_this()] { self->Abort(); });
  }

  void Abort() {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  // What the taker holds: the stream, kept alive by it.
  class Handle : public ByteStream {
   public:
    explicit Handle(std::shared_ptr<WebSocketByteStream> self) : self_(std::move(self)) {}

    net::awaitable<Result<size_t>> ReadSome(net::mutable_buffer buffer) override {
      auto [ec, n] = co_await self_->ws_.async_read_some(buffer, kTuple);
      if (ec) co_return Fail(Failure("receive from", ec));
      co_return n;
    }

    net::awaitable<Status> Write(net::const_buffer data) override {
      auto [ec, n] = co_await self_->ws_.async_write(data, kTuple);
      if (ec) co_return Fail(Failure("send to", ec));
      co_return Status{};
    }

    net::awaitable<void> Close(int code, const std::string& why_text) override {
      std::string reason = why_text.substr(0, 120);  // a close frame holds 123 bytes of reason
      websocket::stream_base::timeout timeout{};
      timeout.handshake_timeout = std::chrono::seconds(2);  // bounds the close handshake
      timeout.idle_timeout = websocket::stream_base::none();
      timeout.keep_alive_pings = false;
      self_->ws_.set_option(timeout);
      websocket::close_reason why(static_cast<websocket::close_code>(code), reason);
      co_await self_->ws_.async_close(why, kTuple);
      self_->Abort();
    }

    void Abort() override { self_->Abort(); }
    net::any_io_executor executor() override { return self_->ws_.get_executor(); }
    std::string peer() const override { return self_->peer_; }

   private:
    Error Failure(const char* what, beast::error_code ec) const {
      std::string text = std::string(what) + " WebSocket " + self_->peer_ + ": ";
      if (ec == websocket::error::closed) {
        text += "closed by the client (" + std::to_string(self_->ws_.reason().code) + ")";
      } else {
        text += ec.message();
      }
      return Error(std::make_error_code(std::errc::connection_aborted), text);
    }

    std::shared_ptr<WebSocketByteStream> self_;
  };

 private:
  websocket::stream<TlsStream> ws_;
  ConnectionSet& connections_;
  std::string peer_ = "unknown";
};

}  // namespace

void StartByteStream(TlsStream stream, BeastRequest request,
                     std::function<void(std::unique_ptr<ByteStream>)> take,
                     ConnectionSet& connections) {
  auto session = std::make_shared<WebSocketByteStream>(std::move(stream), connections);
  session->Run(std::move(request), std::move(take));
}

}  // namespace moat::broker::http::internal
