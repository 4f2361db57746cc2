// WssClient: connects synchronously on the caller's thread, then hands the stream to its own I/O
// thread, which runs one read loop and one write chain fed by a queue. The shape follows the
// broker's WebSocketSession: a mutex-guarded queue filled from any thread, drained on the I/O
// thread, the mutex never held across I/O or a callback.
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "moat/common/net/client.h"
#include "net/tls_connect.h"

namespace moat::net {
namespace {

namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using namespace internal;  // NOLINT(google-build-using-namespace): the shared steps

// Of a refused upgrade's response body, this much goes into the error message.
constexpr size_t kMaxErrorBody = 512;
// Messages are read in pieces of at most this, so that the size limit is checked as they grow.
constexpr size_t kReadChunk = 64 << 10;

bool HasLineBreak(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// The path without its query, which may carry a token: for error messages.
std::string_view PathOnly(const BaseUrl& url) {
  return std::string_view(url.path).substr(0, url.path.find('?'));
}

}  // namespace

class WssClient::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(BaseUrl url, WssOptions options)
      : url_(std::move(url)),
        options_(std::move(options)),
        tls_(options_.ctx.release()),
        ws_(io_, tls_),
        close_timer_(io_) {}

  ~Impl() {
    if (!thread_.joinable()) return;
    // Only when the last owner let go on the I/O thread itself (see WssClient::~WssClient).
    if (std::this_thread::get_id() == thread_.get_id()) {
      thread_.detach();
    } else {
      thread_.join();
    }
  }

  // On the caller's thread, before the I/O thread exists.
  Status Connect() {
    auto deadline = Clock::now() + options_.timeout;
    MOAT_TRY_VOID(ConnectTls(io_, ws_.next_layer(), url_, deadline, options_.timeout));
    ws_.set_option(websocket::stream_base::decorator([this](websocket::request_type& request) {
      request.set(bhttp::field::user_agent, kUserAgent);
      for (const auto& [name, value] : options_.headers) request.set(name, value);
    }));
    // The size limit is enforced in OnRead, not by Beast: Beast's own check reports the error
    // only when its TLS teardown succeeds, which with a server still talking it often does not.
    ws_.read_message_max(0);
    websocket::response_type response;
    auto ec = RunUntil(
        io_, deadline,
        [&](auto handler) { ws_.async_handshake(response, url_.HostHeader(), url_.path, handler); },
        [this] { beast::get_lowest_layer(ws_).close(); });
    if (ec == websocket::error::upgrade_declined) return Fail(Refused(ec, response));
    if (ec) return Fail(StepError("WebSocket upgrade with", url_, ec, options_.timeout));

    // From here on the WebSocket stream keeps time: the close handshake, and pings when idle.
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = options_.timeout;
    timeout.idle_timeout = options_.idle_timeout;
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    return {};
  }

  // Starts the read loop and the I/O thread, which holds a reference until the loop has ended.
  void Start() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    io_.restart();
    DoRead();
    std::lock_guard join_lock(join_mutex_);  // a callback may detach before this returns
    thread_ = std::thread([self = shared_from_this()] {
      self->io_thread_id_ = std::this_thread::get_id();  // before any callback runs
      self->io_.run();
    });
  }

  // Any thread.
  Status Send(std::string text) {
    std::lock_guard lock(mutex_);
    if (!open_ || close_requested_) {
      return Fail(Error(std::make_error_code(std::errc::not_connected),
                        "send to WebSocket " + url_.HostPort() + ": the connection is closed"));
    }
    if (queued_bytes_ + text.size() > options_.max_queued_bytes) {
      return Fail(Error(std::make_error_code(std::errc::no_buffer_space),
                        "send to WebSocket " + url_.HostPort() + ": " +
                            std::to_string(queued_bytes_) +
                            " bytes are queued already; the server is not reading"));
    }
    queued_bytes_ += text.size();
    queue_.push_back(std::move(text));
    if (!writing_) {
      writing_ = true;
      asio::post(io_, [this] { DoWrite(); });
    }
    return {};
  }

  // Any thread. `detach`: the owner is going away on the I/O thread, which cannot join itself;
  // the thread finishes the close on its own and its reference keeps this object alive.
  void Close(bool detach) {
    bool start = false;
    {
      std::lock_guard lock(mutex_);
      if (!close_requested_) {
        close_requested_ = true;
        start = open_;
      }
    }
    if (start) asio::post(io_, [this] { StartClose(); });
    if (std::this_thread::get_id() == io_thread_id_.load()) {
      // From a callback. join_mutex_ only to detach: another thread may hold it while joining
      // this one, but not while the owner is being destroyed here.
      if (detach) {
        std::lock_guard join_lock(join_mutex_);
        if (thread_.joinable()) thread_.detach();
      }
      return;
    }
    std::lock_guard join_lock(join_mutex_);  // Close may run on several threads at once
    if (thread_.joinable()) thread_.join();
  }

  bool open() const {
    std::lock_guard lock(mutex_);
    return open_ && !close_requested_;
  }

  const BaseUrl& url() const { return url_; }

 private:
  Error Refused(const beast::error_code& ec, const websocket::response_type& response) const {
    std::string message = "WebSocket upgrade at " + url_.HostPort() + std::string(PathOnly(url_)) +
                          " refused: " + std::to_string(response.result_int()) + " " +
                          std::string(response.reason());
    if (!response.body().empty()) {
      message += ": " + response.body().substr(0, kMaxErrorBody);
    }
    return Error(ec, std::move(message));
  }

  // I/O thread from here on.

  void DoRead() {
    ws_.async_read_some(read_buffer_, kReadChunk,
                        [this](beast::error_code ec, size_t) { OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    // Our close frame is out: Beast aborts the read and its close operation reads the answer.
    if (ec == asio::error::operation_aborted && close_sent_ && !ending_) return;
    if (ec) return Finish(EndError(ec, "receive from WebSocket"));
    if (read_buffer_.size() > options_.max_message_bytes) {
      return EndNow(Error(beast::error_code(websocket::error::message_too_big),
                          "WebSocket " + url_.HostPort() + ": a message exceeds " +
                              std::to_string(options_.max_message_bytes) + " bytes"));
    }
    if (!ws_.is_message_done()) return DoRead();
    std::string message = beast::buffers_to_string(read_buffer_.data());
    read_buffer_.consume(read_buffer_.size());
    if (options_.on_message) {
      try {
        options_.on_message(std::move(message));
      } catch (const std::exception& e) {
        return EndNow(
            Error(std::make_error_code(std::errc::operation_canceled),
                  "WebSocket " + url_.HostPort() + ": message handler failed: " + e.what()));
      } catch (...) {
        return EndNow(Error(std::make_error_code(std::errc::operation_canceled),
                            "WebSocket " + url_.HostPort() + ": message handler failed"));
      }
    }
    if (!ending_) DoRead();
  }

  // From OnRead, when no read is pending any more whose end would call Finish.
  void EndNow(Error error) {
    Abort(std::move(error));
    Finish(EndError({}, ""));
  }

  // Why the connection ended: the first error recorded by Abort, else what the read loop or the
  // close operation (`step`) says.
  Error EndError(const beast::error_code& ec, std::string_view step) {
    std::string peer = "WebSocket " + url_.HostPort();
    if (first_error_) return std::move(*first_error_);
    if (close_sent_ && (!ec || ec == websocket::error::closed)) {
      return Error(beast::error_code(websocket::error::closed), peer + ": closed by this client");
    }
    if (ec == websocket::error::closed) {
      const websocket::close_reason& reason = ws_.reason();
      std::string text = peer + ": closed by the server (" + std::to_string(reason.code);
      if (!reason.reason.empty()) text += " " + std::string(reason.reason.c_str());
      return Error(ec, text + ")");
    }
    return StepError(step, url_, ec, options_.idle_timeout);
  }

  // Sends the queue's head; with the queue empty and Close called, the close frame.
  void DoWrite() {
    bool close = false;
    bool has_message = false;
    {
      std::lock_guard lock(mutex_);
      if (ending_ || queue_.empty()) {
        writing_ = false;
        close = close_requested_;
      } else {
        has_message = true;
        current_ = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= current_.size();
      }
    }
    if (close) return DoClose();
    if (!has_message) return;
    ws_.binary(options_.binary);
    ws_.async_write(asio::buffer(current_), [this](beast::error_code ec, size_t) {
      current_.clear();
      if (ec) return Abort(StepError("send to WebSocket", url_, ec, options_.timeout));
      DoWrite();
    });
  }

  // Close was called: flush the queue (the write chain ends in DoClose), bounded by the timeout.
  void StartClose() {
    if (ending_) return;
    close_timer_.expires_after(options_.timeout);
    close_timer_.async_wait([this](beast::error_code ec) {
      if (ec) return;  // cancelled by Finish
      Abort(StepError("close WebSocket with", url_, beast::error::timeout, options_.timeout));
    });
    bool idle;
    {
      std::lock_guard lock(mutex_);
      idle = !writing_;
    }
    if (idle) DoClose();
  }

  // The close frame. The close operation reads up to the server's answer, then ends it all.
  void DoClose() {
    if (ending_ || close_sent_) return;
    close_sent_ = true;
    ws_.async_close(websocket::close_code::normal,
                    [this](beast::error_code ec) { Finish(EndError(ec, "close WebSocket with")); });
  }

  // Ends the connection for `error`: the socket closes, pending operations fail, and the end of
  // the read loop (or of the close operation) calls Finish.
  void Abort(Error error) {
    if (ending_) return;
    ending_ = true;
    first_error_ = std::move(error);
    beast::get_lowest_layer(ws_).close();
  }

  // Once, when the read loop or the close operation has ended: reports to on_close and lets the I/O
  // thread return.
  void Finish(Error error) {
    if (finished_) return;
    finished_ = ending_ = true;
    {
      std::lock_guard lock(mutex_);
      open_ = false;
      queue_.clear();
      queued_bytes_ = 0;
    }
    close_timer_.cancel();
    beast::get_lowest_layer(ws_).close();
    if (options_.on_close) {
      try {
        options_.on_close(error);
      } catch (...) {
        // Nothing is left to report it to.
      }
    }
    // What is still pending (a close op's teardown, WebSocket timers) is moot now; its
    // handlers are destroyed with io_ and never run.
    io_.stop();
  }

  const BaseUrl url_;
  WssOptions options_;
  asio::io_context io_{1};
  ssl::context tls_;
  websocket::stream<TlsStream> ws_;
  asio::steady_timer close_timer_;
  std::mutex join_mutex_;  // guards thread_
  std::thread thread_;
  std::atomic<std::thread::id> io_thread_id_;

  // I/O thread only.
  beast::flat_buffer read_buffer_;
  std::string current_;  // being written
  std::optional<Error> first_error_;
  bool close_sent_ = false;
  bool ending_ = false;  // Abort or Finish ran
  bool finished_ = false;

  mutable std::mutex mutex_;  // guards what follows; never held across I/O or a callback
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool open_ = false;             // the read loop runs
  bool writing_ = false;          // a DoWrite chain is running or posted
  bool close_requested_ = false;  // Close was called
};

Result<std::unique_ptr<WssClient>> WssClient::Connect(WssOptions options) {
  MOAT_TRY(auto url, ParseUrl(options.url));
  if (url.scheme != "wss") {
    return Fail(InvalidArgument("WebSocket client: URL '" + options.url + "' is not wss://"));
  }
  if (!options.ctx) return Fail(InvalidArgument("WebSocket client: no TLS context given"));
  for (const auto& [name, value] : options.headers) {
    if (name.empty() || HasLineBreak(name) || HasLineBreak(value)) {
      return Fail(InvalidArgument("WebSocket client: header field '" + name + "' is malformed"));
    }
  }
  auto impl = std::make_shared<Impl>(std::move(url), std::move(options));
  MOAT_TRY_VOID(impl->Connect());
  impl->Start();
  return std::unique_ptr<WssClient>(new WssClient(std::move(impl)));
}

WssClient::WssClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
WssClient::~WssClient() { impl_->Close(/*detach=*/true); }
Status WssClient::Send(std::string text) { return impl_->Send(std::move(text)); }
void WssClient::Close() { impl_->Close(/*detach=*/false); }
bool WssClient::open() const { return impl_->open(); }
const BaseUrl& WssClient::url() const { return impl_->url(); }

}  // namespace moat::net
