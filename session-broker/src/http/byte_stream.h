// A reliable, ordered byte stream as the display gateway relays it: a native VNC client's TLS
// socket, or a browser's WebSocket (binary messages, joined). Asio only, no Beast, so the
// gateway compiles without Beast's headers. All calls run on executor(), one read and one write
// at a time, Abort too. Coroutine parameters are references or trivial values only (see
// display/co_try.h on GCC 12).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <string>

#include "moat/common/error.h"

namespace moat::broker::http {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // At least one byte, or the error that ended the stream (the peer closed, a reset, Abort).
  virtual boost::asio::awaitable<Result<size_t>> ReadSome(boost::asio::mutable_buffer buffer) = 0;
  virtual boost::asio::awaitable<Status> Write(boost::asio::const_buffer data) = 0;
  // An orderly end: a WebSocket close frame with `code` and `reason` (4000-4999 are the
  // gateway's own), a TLS close_notify. Bounded in time; the stream is closed after it.
  virtual boost::asio::awaitable<void> Close(int code, const std::string& reason) = 0;
  // Closes the socket at once: pending operations end with an error.
  virtual void Abort() = 0;
  virtual boost::asio::any_io_executor executor() = 0;
  // "address:port" of the peer, for logs and the audit trail.
  virtual std::string peer() const = 0;
};

}  // namespace moat::broker::http
