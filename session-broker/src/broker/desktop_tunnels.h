// Tickets for the desktops of other hosts: the display gateway asks a host's agent (over the
// link) to open a WebSocket back to the broker's agent port with a one-time ticket; the agent
// server hands that stream here, and the gateway's waiting login takes it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "http/byte_stream.h"
#include "moat/common/error.h"

namespace moat::broker {

class DesktopTunnels {
 public:
  // A new ticket (64 hex characters) that only `host_id`'s agent may answer.
  Result<std::string> NewTicket(std::int64_t host_id);
  // Whether `ticket` is waiting for `host_id`: checked before the agent's upgrade is accepted.
  bool Expects(const std::string& ticket, std::int64_t host_id) const;
  // The agent's stream; false when the ticket is unknown, used or another host's.
  bool Deliver(const std::string& ticket, std::int64_t host_id,
               std::unique_ptr<http::ByteStream> stream);
  // The stream for `ticket`, once the agent connected; ETIMEDOUT after `wait`. The ticket is
  // gone afterwards either way.
  Result<std::unique_ptr<http::ByteStream>> Await(const std::string& ticket,
                                                  std::chrono::milliseconds wait);

 private:
  struct Slot {
    std::int64_t host_id = 0;
    std::unique_ptr<http::ByteStream> stream;
  };
  mutable std::mutex mutex_;
  std::condition_variable delivered_;
  std::map<std::string, Slot> slots_;
};

}  // namespace moat::broker
