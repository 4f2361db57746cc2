// The client-to-server half of an RFB stream, cut into messages so the gateway can see input
// (for idle time) and keep a read-only viewer's input from reaching the desktop. The
// server-to-client half needs no parsing: it is relayed as it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "moat/common/error.h"

namespace moat::broker::display {

class RfbClientFilter {
 public:
  // `read_only`: key, pointer, clipboard and desktop-resize messages are dropped.
  explicit RfbClientFilter(bool read_only) : read_only_(read_only) {}

  struct Output {
    std::string forward;     // whole messages to pass on, in order
    bool saw_input = false;  // a key or pointer event arrived and was forwarded
  };

  // Takes bytes as they arrive; keeps a partial message for the next call. Fails on a message
  // type the gateway does not know or a length beyond its limits: the connection must end, since
  // the stream cannot be followed any further.
  Result<Output> Feed(std::string_view bytes);

  // Bytes held back as the start of an incomplete message.
  size_t pending() const { return pending_.size(); }

  static constexpr size_t kMaxCutText = 16 << 20;

 private:
  // The size of the message at the start of `bytes`, 0 when more bytes are needed to tell.
  static Result<size_t> MessageSize(std::string_view bytes);

  bool read_only_;
  std::string pending_;
};

}  // namespace moat::broker::display
