// One client relayed to one session's desktop: two pumps on the client stream's executor, the
// client's messages through an RfbClientFilter (input noted, a viewer's input dropped) and the
// desktop's bytes back as they come. Either side ending ends both; the client is told why
// (a WebSocket close code) when it is still there to hear it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "display/display_backend.h"
#include "display/rfb_client_filter.h"
#include "display/rfb_handshake.h"
#include "http/byte_stream.h"

namespace moat::broker::display {

class DisplayRelay;

// The gateway's side of a relay: who is connected to what.
class RelayRegistry {
 public:
  virtual ~RelayRegistry() = default;
  // Before relaying: records the relay, taking the session over from an earlier owner's relay
  // (or refusing, when takeover is off).
  virtual Status Admit(const std::shared_ptr<DisplayRelay>& relay) = 0;
  // After both pumps ended, once.
  virtual void Finished(DisplayRelay& relay, const std::string& reason) = 0;
  // A relay that never got as far as Admit is forgotten (e.g. the desktop did not answer).
  virtual void Abandoned(DisplayRelay& relay) = 0;
  virtual void InputSeen(const std::string& session_id) = 0;
};

class DisplayRelay : public std::enable_shared_from_this<DisplayRelay> {
 public:
  DisplayRelay(std::unique_ptr<http::ByteStream> client, DisplayTarget target, ConnectionInfo info,
               RelayRegistry& registry);

  // Connects to the desktop and relays until either side ends. On the client stream's
  // executor.
  net::awaitable<void> Run();
  // A browser's stream: the RFB handshake without authentication (its token was checked
  // before the upgrade), then Run.
  net::awaitable<void> RunWeb();

  // From any thread: ends the relay with `code` and `reason` for the client.
  void Kick(int code, std::string reason);

  const DisplayTarget& target() const { return target_; }
  const ConnectionInfo& info() const { return info_; }

 private:
  net::awaitable<void> ClientToDesktop();
  net::awaitable<void> DesktopToClient();
  // On the executor: the first call decides the reason; closes the desktop side, which ends
  // the pump reading it; the client is aborted if it has not closed within a few seconds.
  void Stop(int code, std::string reason);
  void PumpEnded();

  std::unique_ptr<http::ByteStream> client_;
  DisplayTarget target_;
  ConnectionInfo info_;
  RelayRegistry& registry_;
  RfbClientFilter filter_;
  std::optional<UnixSocket> desktop_;
  std::string early_bytes_;  // from the client after its ClientInit, read with the handshake
  net::steady_timer abort_timer_;
  bool relaying_ = false;
  bool stopping_ = false;
  int close_code_ = 1000;
  std::string reason_;
  int pumps_ = 0;
  std::optional<std::chrono::steady_clock::time_point> last_input_report_;
};

}  // namespace moat::broker::display
