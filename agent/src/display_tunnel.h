// The agent's end of a remote desktop relay: the broker's display gateway reaches a desktop on
// another host through a WebSocket that this agent opens back to the broker's agent port (mutual
// TLS, like the link), carrying the session's RFB stream in binary messages. One thread per
// tunnel, for as long as the viewer stays.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "enrolment.h"
#include "moat/common/error.h"

namespace moat::agent {

class DisplayTunnels {
 public:
  explicit DisplayTunnels(AgentIdentity identity) : identity_(std::move(identity)) {}
  ~DisplayTunnels();  // ends every tunnel and joins its thread
  DisplayTunnels(const DisplayTunnels&) = delete;
  DisplayTunnels& operator=(const DisplayTunnels&) = delete;

  // Connects to the desktop's RFB socket now (a desktop that does not answer fails the
  // request), then opens /api/v1/agent/display?ticket=TICKET on the broker and relays.
  Status Open(const std::string& rfb_socket, const std::string& ticket);

 private:
  struct Tunnel;
  void Run(const std::shared_ptr<Tunnel>& tunnel, const std::string& ticket);

  AgentIdentity identity_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Tunnel>> tunnels_;
  std::vector<std::thread> threads_;
};

}  // namespace moat::agent
