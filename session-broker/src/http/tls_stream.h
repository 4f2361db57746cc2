// Internal to the two Beast translation units: the hand-off of an upgraded connection from the
// HTTP session (http_server.cc) to the event stream (websocket_session.cc). Only those files
// include this header, so Beast's compile cost stays there.
#pragma once

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cstddef>

#include "http/connection_set.h"
#include "http/event_hub.h"
#include "http/server.h"

namespace moat::broker::http::internal {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

struct EventStreamLimits {
  size_t max_messages = 0;
  size_t max_bytes = 0;
};

// Completes the WebSocket upgrade `request` (already authenticated) on `stream`, a TLS stream
// whose handshake is done, and subscribes the client to `hub`. Call on the stream's strand.
void StartEventStream(TlsStream stream, BeastRequest request, EventHub& hub,
                      ConnectionSet& connections, EventStreamLimits limits);

// Completes the WebSocket upgrade `request` (already accepted by `handler`'s endpoint) and runs
// a two-way connection for `handler`. Call on the stream's strand.
void StartPeerStream(TlsStream stream, BeastRequest request, std::shared_ptr<WsHandler> handler,
                     ConnectionSet& connections, const WsEndpoint& endpoint);

// Completes the WebSocket upgrade `request` and hands the connection, as a ByteStream of its
// binary messages, to `take`. Call on the stream's strand.
void StartByteStream(TlsStream stream, BeastRequest request,
                     std::function<void(std::unique_ptr<ByteStream>)> take,
                     ConnectionSet& connections);

}  // namespace moat::broker::http::internal
