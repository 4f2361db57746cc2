// What the display gateway asks of the control plane: password checks, which session a login
// reaches (perhaps starting one), and the record of every connection. The gateway calls these
// from its own worker threads, never from a socket's strand, since each may block on the
// database or an agent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"

namespace moat::broker::display {

enum class Via { kVnc, kWeb };

inline const char* ViaName(Via via) { return via == Via::kVnc ? "vnc" : "web"; }

struct DisplayRequest {
  std::string user;                       // already authenticated
  std::optional<std::string> session_id;  // unset: the user's own (reconnect, or a new desktop)
  bool shadow = false;                    // read-only view of someone's session (admins)
};

struct DisplayTarget {
  std::string session_id;
  std::string owner;             // the session's user
  std::string viewer;            // who connects (the owner, or an admin shadowing)
  std::filesystem::path socket;  // the session's RFB socket on this machine
  // A desktop on another host: the connected end of its agent's tunnel (stream_bridge.h),
  // used instead of `socket`. Shared so that copies of the target stay cheap.
  std::shared_ptr<UniqueFd> tunnel{};
  bool shadow = false;
  bool started = false;  // Open started the session for this login
  bool takeover = true;  // the owner's policy: a second login takes over (else it is refused)
  // Watchers the desktop takes at once beside its owner; 0: no limit (a sandbox's Xvnc). A VM
  // desktop has one port per viewer (docs/vm.md), so one more would wait for a free port.
  int max_watchers = 0;
};

struct ConnectionInfo {
  Via via = Via::kVnc;
  std::string peer;  // "address:port"
};

class DisplayBackend {
 public:
  virtual ~DisplayBackend() = default;
  // The user's name when the password is right. Errors: EACCES refused, EAGAIN throttled (the
  // broker's login throttling applies to the gateway as to the API).
  virtual Result<std::string> CheckPassword(std::string_view user, std::string_view password,
                                            std::string_view address) = 0;
  // The session this login shows. EACCES: not the viewer's and not shadowable by them.
  virtual Result<DisplayTarget> Open(const DisplayRequest& request) = 0;
  // A client is relayed to the session now: an owner's makes a disconnected session active.
  virtual void Connected(const DisplayTarget& target, const ConnectionInfo& client) = 0;
  // A client is gone. `last` when no owner's client remains, so the session is disconnected.
  virtual void Disconnected(const DisplayTarget& target, const ConnectionInfo& client,
                            std::string_view reason, bool last) = 0;
  // A login started the session, but its viewer left before the desktop was relayed: no
  // connection to count, but the session has no client. `last` as for Disconnected.
  virtual void LeftBeforeShown(const DisplayTarget& target, const ConnectionInfo& client,
                               bool last) = 0;
  // A second login of the owner took the session over from `old_client`.
  virtual void TakenOver(const DisplayTarget& target, const ConnectionInfo& old_client,
                         const ConnectionInfo& new_client) = 0;
  // Keyboard or mouse input arrived (at most every few seconds per connection).
  virtual void Input(const std::string& session_id) = 0;
};

}  // namespace moat::broker::display
