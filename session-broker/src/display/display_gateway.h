// The display gateway: native VNC clients on a TCP port (RFB with VeNCrypt X509Plain: the
// broker's certificate, then username and password) and browsers whose WebSocket the API
// server hands over, each relayed to its session's Xvnc socket. It keeps who is connected to
// what: a second login of the owner takes the session over (unless told not to), admins may
// watch read-only beside the owner, and every change goes to the DisplayBackend.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "display/display_backend.h"
#include "http/byte_stream.h"
#include "moat/common/error.h"
#include "moat/common/tls/openssl.h"

namespace moat::broker::display {

// WebSocket close codes (and reasons) the gateway ends a browser's stream with.
inline constexpr int kCloseTakenOver = 4001;
inline constexpr int kCloseDesktopEnded = 4002;
inline constexpr int kCloseRefused = 4003;
inline constexpr int kCloseBrokerStopping = 4004;
inline constexpr int kCloseProtocolError = 4005;

struct DisplayGatewayOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t vnc_port = 5900;  // 0: ephemeral (tests); see vnc_port()
  bool vnc_enabled = true;
  tls::SslCtxPtr ssl_ctx;  // the broker's server certificate; taken over
  int threads = 2;         // for native clients' sockets
  int workers = 4;         // for backend calls (database, session start)
  bool takeover = true;    // false: a second login is refused while the first is connected
};

class DisplayGateway {
 public:
  // Listens (when vnc_enabled) and starts the threads. `backend` must outlive the gateway.
  static Result<std::unique_ptr<DisplayGateway>> Start(DisplayGatewayOptions options,
                                                       DisplayBackend& backend);
  ~DisplayGateway();
  DisplayGateway(const DisplayGateway&) = delete;
  DisplayGateway& operator=(const DisplayGateway&) = delete;

  uint16_t vnc_port() const;

  // A browser's stream, its viewer authenticated and its target opened by the caller: the
  // RFB handshake (security None) and the relay run on the stream's own executor.
  void AttachWeb(std::unique_ptr<http::ByteStream> stream, DisplayTarget target,
                 ConnectionInfo client);

  // Ends a session's clients: its owner's (`owners_only`: the session was disconnected) or
  // everyone's (it ended). From any thread.
  void EndClients(const std::string& session_id, bool owners_only, int code,
                  const std::string& reason);

  // Refused (EPERM: the API's 409, with the reason) when `target` would take over a connected
  // owner's client and its policy forbids that, or would be a watcher beyond the desktop's
  // `max_watchers`; checked before a login is accepted, and again on admission.
  Status CheckAdmission(const DisplayTarget& target) const;

  // Clients relayed now (owners and viewers).
  size_t connection_count() const;

  // Stops listening, ends every connection (each recorded as disconnected), and joins.
  void Stop();

  class Impl;

 private:
  explicit DisplayGateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moat::broker::display
