// A ByteStream (an agent's desktop tunnel) joined to one end of a Unix socket pair, so that the
// relay reads a remote desktop exactly as a local one: through a connected Unix socket on its
// own executor. The bridge runs on the stream's executor until either side closes.
#pragma once

#include <memory>

#include "http/byte_stream.h"
#include "moat/common/error.h"
#include "moat/common/unique_fd.h"

namespace moat::broker::display {

// The other end of the pair, for the relay. From any thread.
Result<UniqueFd> BridgeToSocket(std::unique_ptr<http::ByteStream> stream);

}  // namespace moat::broker::display
