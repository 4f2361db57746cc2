// The RFB handshakes the gateway takes part in: as the server towards clients (version, a
// security type, the security result, ClientInit) and as a client towards a session's Xvnc,
// whose Unix socket needs no authentication (only host root reaches it).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "display/co_try.h"
#include "http/byte_stream.h"
#include "moat/common/error.h"
#include "moat/common/unique_fd.h"

namespace moat::broker::display {

namespace net = boost::asio;
using UnixSocket = net::local::stream_protocol::socket;

inline constexpr std::string_view kRfbVersion = "RFB 003.008\n";

// Reads exact amounts from a ByteStream that hands out whatever arrived (a WebSocket message
// may hold several RFB messages); what is read beyond the handshake stays in leftover().
class StreamReader {
 public:
  explicit StreamReader(http::ByteStream& stream) : stream_(stream) {}
  net::awaitable<Result<std::string>> Read(size_t count);
  std::string TakeLeftover() { return std::move(buffered_); }

 private:
  http::ByteStream& stream_;
  std::string buffered_;
};

// RFB 3.8's failure forms: the reason a client shows its user.
std::string SecurityFailure(std::string_view reason);  // SecurityResult 1 + reason
std::string NoSecurityTypes(std::string_view reason);  // zero security types + reason

// Reads the client's ProtocolVersion after ours went out; only 3.8 is spoken.
Status CheckClientVersion(std::string_view version);

// The server side for a client that authenticated before the stream opened (a browser with
// its token): version, security type None, result OK, then the client's ClientInit.
net::awaitable<Status> ServeWithoutAuthentication(http::ByteStream& client, StreamReader& reader);

// Connects to a session's Xvnc and takes it to the point where ServerInit comes next, having
// sent ClientInit with "shared" set: the gateway, not Xvnc, decides who stays connected.
net::awaitable<Result<UnixSocket>> ConnectToDesktop(const net::any_io_executor& executor,
                                                    const std::filesystem::path& socket);
// The same over an already connected socket (a remote desktop's tunnel); `label` names it in
// errors.
net::awaitable<Result<UnixSocket>> AdoptDesktop(const net::any_io_executor& executor,
                                                UniqueFd& connected,
                                                const std::filesystem::path& label);

}  // namespace moat::broker::display
