// The /api/v1/events stream: one WebSocketSession per client, on its connection's strand. Each
// has a bounded queue filled by EventHub::Publish from any thread; a client that cannot keep
// up is dropped (its socket closed), so the publisher never waits for it.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
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

// Clients of the event stream only listen; what they send is read and discarded, up to this.
constexpr size_t kMaxIncomingMessage = 64 << 10;

class WebSocketSession : public EventSubscriber,
                         public Connection,
                         public std::enable_shared_from_this<WebSocketSession> {
 public:
  WebSocketSession(TlsStream&& stream, EventHub& hub, ConnectionSet& connections,
                   EventStreamLimits limits)
      : ws_(std::move(stream)),
        executor_(ws_.get_executor()),
        hub_(hub),
        connections_(connections),
        outbound_(limits.max_messages, limits.max_bytes) {}

  ~WebSocketSession() override {
    hub_.Unsubscribe(this);
    connections_.Remove(this);
  }

  // On the strand.
  void Run(BeastRequest request) {
    if (!connections_.Add(shared_from_this())) {  // the server is stopping
      beast::get_lowest_layer(ws_).close();
      return;
    }
    // Subscribed before the 101 goes out: a client that saw the upgrade succeed misses nothing
    // published after it. Messages wait in the queue until the handshake is done.
    hub_.Subscribe(weak_from_this());
    beast::get_lowest_layer(ws_).expires_never();  // the WebSocket stream keeps its own timers
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    timeout.idle_timeout = std::chrono::seconds(60);
    timeout.keep_alive_pings = true;  // a vanished client is noticed within a minute
    ws_.set_option(timeout);
    ws_.read_message_max(kMaxIncomingMessage);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) { response.set("Server", "moat-broker"); }));
    ws_.async_accept(request,
                     beast::bind_front_handler(&WebSocketSession::OnAccept, shared_from_this()));
  }

  // From any thread (EventHub::Publish). Never blocks beyond this session's queue lock.
  void Deliver(const std::shared_ptr<const std::string>& message) override {
    outbound_.Add(message, [this](Outbound::Action action) {
      if (action == Outbound::Action::kOverflowed) {
        net::post(executor_,
                  beast::bind_front_handler(&WebSocketSession::Abort, shared_from_this()));
      } else {
        net::post(executor_,
                  beast::bind_front_handler(&WebSocketSession::DoWrite, shared_from_this()));
      }
    });
  }

  void Close() override {
    net::post(executor_, [self = shared_from_this()] { self->DoClose(); });
  }

  void Detach() override { outbound_.Detach(); }

 private:
  using Outbound = OutboundQueue<std::shared_ptr<const std::string>>;

  void OnAccept(beast::error_code ec) {
    if (ec) return Drop();
    accepted_ = true;
    if (close_when_accepted_) {
      outbound_.End();
      outbound_.Open();  // marks the stream open with nothing to write, so the close is graceful
      return DoClose();
    }
    if (outbound_.Open()) DoWrite();
    DoRead();
  }

  void DoRead() {
    ws_.async_read(read_buffer_,
                   beast::bind_front_handler(&WebSocketSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return Drop();  // closed by the client, timed out, or dropped
    read_buffer_.consume(read_buffer_.size());
    DoRead();
  }

  // On the strand, with a write chain started: sends the queue's head.
  void DoWrite() {
    auto next = outbound_.Next();
    if (!next) return;
    current_ = std::move(*next);
    ws_.text(true);
    ws_.async_write(net::buffer(*current_),
                    beast::bind_front_handler(&WebSocketSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    current_.reset();
    if (ec) return Drop();
    DoWrite();
  }

  // Graceful end (server stopping): a close frame "going away" when the stream is idle; a
  // client with a write still pending is not reading, so it is dropped outright.
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

  // On the strand: drops a client that fell behind. The close is abortive (RST): what is still
  // queued in the kernel for it is discarded now instead of lingering, zero-window probed, in an
  // orphaned socket for minutes.
  void Abort() {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().set_option(net::socket_base::linger(true, 0), ec);
    Drop();
  }

  // On the strand: closes the socket; pending operations finish with an error and release
  // their references, which destroys the session.
  void Drop() {
    outbound_.End();
    hub_.Unsubscribe(this);
    if (closed_) return;
    closed_ = true;
    beast::get_lowest_layer(ws_).close();
  }

  websocket::stream<TlsStream> ws_;
  net::any_io_executor executor_;  // the connection's strand
  EventHub& hub_;
  ConnectionSet& connections_;
  Outbound outbound_;
  beast::flat_buffer read_buffer_;
  std::shared_ptr<const std::string> current_;  // being written; strand only
  bool accepted_ = false;                       // strand only
  bool close_when_accepted_ = false;            // strand only
  bool closing_ = false;                        // strand only
  bool closed_ = false;                         // strand only
};

}  // namespace

void StartEventStream(TlsStream stream, BeastRequest request, EventHub& hub,
                      ConnectionSet& connections, EventStreamLimits limits) {
  auto session = std::make_shared<WebSocketSession>(std::move(stream), hub, connections, limits);
  session->Run(std::move(request));
}

}  // namespace moat::broker::http::internal
