// Two-way WebSocket connections (the agent link): every text message goes to the endpoint's
// WsHandler on the connection's strand; Send queues from any thread. A peer whose queue grows
// past the endpoint's bound is dropped, so a stuck agent never holds the broker's memory.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "http/outbound_queue.h"
#include "http/tls_stream.h"

namespace moat::broker::http::internal {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = boost::beast::websocket;

class PeerSession : public WsPeer,
                    public Connection,
                    public std::enable_shared_from_this<PeerSession> {
 public:
  PeerSession(TlsStream&& stream, std::shared_ptr<WsHandler> handler, ConnectionSet& connections,
              const WsEndpoint& endpoint)
      : ws_(std::move(stream)),
        executor_(ws_.get_executor()),
        handler_(std::move(handler)),
        connections_(connections),
        outbound_(SIZE_MAX, endpoint.max_queued_bytes) {
    ws_.read_message_max(endpoint.max_message_bytes);
  }

  ~PeerSession() override { connections_.Remove(this); }

  void Run(BeastRequest request) {
    if (!connections_.Add(shared_from_this())) {
      beast::get_lowest_layer(ws_).close();
      return Finish();
    }
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    timeout.idle_timeout = std::chrono::seconds(30);
    timeout.keep_alive_pings = true;  // a vanished agent is noticed within half a minute
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) { response.set("Server", "moat-broker"); }));
    ws_.async_accept(request,
                     beast::bind_front_handler(&PeerSession::OnAccept, shared_from_this()));
  }

  void Send(std::string text) override {
    outbound_.Add(std::move(text), [this](Outbound::Action action) {
      if (action == Outbound::Action::kOverflowed) {
        net::post(executor_, beast::bind_front_handler(&PeerSession::Drop, shared_from_this()));
      } else {
        net::post(executor_, beast::bind_front_handler(&PeerSession::DoWrite, shared_from_this()));
      }
    });
  }

  void Close() override {
    outbound_.IfAttached([this] {
      net::post(executor_, beast::bind_front_handler(&PeerSession::DoClose, shared_from_this()));
    });
  }

  void Detach() override { outbound_.Detach(); }

 private:
  using Outbound = OutboundQueue<std::string>;

  void OnAccept(beast::error_code ec) {
    if (ec) return Drop();
    accepted_ = true;
    if (close_when_accepted_) {
      outbound_.End();
      outbound_.Open();  // marks the stream open with nothing to write, so the close is graceful
      return DoClose();
    }
    handler_->OnOpen(shared_from_this());
    if (outbound_.Open()) DoWrite();
    DoRead();
  }

  void DoRead() {
    ws_.async_read(read_buffer_,
                   beast::bind_front_handler(&PeerSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return Drop();
    if (ws_.got_text()) handler_->OnMessage(beast::buffers_to_string(read_buffer_.data()));
    read_buffer_.consume(read_buffer_.size());
    DoRead();
  }

  void DoWrite() {
    auto next = outbound_.Next();
    if (!next) return;
    current_ = std::move(*next);
    ws_.text(true);
    ws_.async_write(net::buffer(current_),
                    beast::bind_front_handler(&PeerSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    current_.clear();
    if (ec) return Drop();
    DoWrite();
  }

  void DoClose() {
    // The 101 may already be with the client while OnAccept waits in the strand's queue: a
    // close now would look like a dropped connection, so it waits for the handshake's end.
    if (!accepted_ && !closed_) {
      close_when_accepted_ = true;
      return;
    }
    bool busy = outbound_.End();
    if (busy || closed_ || closing_) return Drop();
    closing_ = true;
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(2);
    timeout.idle_timeout = websocket::stream_base::none();
    timeout.keep_alive_pings = false;
    ws_.set_option(timeout);
    ws_.async_close(websocket::close_code::going_away,
                    [self = shared_from_this()](beast::error_code) { self->Drop(); });
  }

  void Drop() {
    outbound_.End();
    if (!closed_) {
      closed_ = true;
      beast::get_lowest_layer(ws_).close();
    }
    Finish();
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    handler_->OnClose();
  }

  websocket::stream<TlsStream> ws_;
  net::any_io_executor executor_;
  std::shared_ptr<WsHandler> handler_;
  ConnectionSet& connections_;
  Outbound outbound_;
  beast::flat_buffer read_buffer_;
  std::string current_;               // strand only
  bool accepted_ = false;             // strand only
  bool close_when_accepted_ = false;  // strand only
  bool closing_ = false;              // strand only
  bool closed_ = false;               // strand only
  bool finished_ = false;
};

}  // namespace

void StartPeerStream(TlsStream stream, BeastRequest request, std::shared_ptr<WsHandler> handler,
                     ConnectionSet& connections, const WsEndpoint& endpoint) {
  auto session =
      std::make_shared<PeerSession>(std::move(stream), std::move(handler), connections, endpoint);
  session->Run(std::move(request));
}

}  // namespace moat::broker::http::internal
