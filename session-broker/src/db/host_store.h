// Session hosts: enrolment, the agent's heartbeats, and the admin switches (enabled, drained,
// capacity), each audited with its old and new value.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "db/audit.h"
#include "db/clock.h"
#include "db/database.h"

namespace moat::broker::db {

struct Host {
  std::int64_t id = 0;
  std::string name{};
  std::string address{};
  std::int64_t capacity = 0;
  bool enabled = true;
  bool drained = false;
  std::string state{};  // "unknown", "online", "offline"
  std::optional<std::int64_t> last_seen{};
  std::optional<std::string> cert_fingerprint{};
  std::int64_t created_at = 0;
};

struct NewHost {
  std::string name{};
  std::string address{};
  std::int64_t capacity = 0;
  std::optional<std::string> cert_fingerprint{};
};

class HostStore {
 public:
  explicit HostStore(const Database& db, Clock clock = SystemClock())
      : db_(db), clock_(std::move(clock)) {}

  Result<Host> Add(const NewHost& host, const Actor& actor);
  Result<Host> SetEnabled(std::string_view name, bool enabled, const Actor& actor);
  Result<Host> SetDrained(std::string_view name, bool drained, const Actor& actor);
  Result<Host> SetCapacity(std::string_view name, std::int64_t capacity, const Actor& actor);
  // The fingerprint of the client certificate the host's agent must present (the local agent's
  // certificate is reissued at every broker start). Audited.
  Status SetCertificate(std::string_view name, std::string_view fingerprint, const Actor& actor);
  // An agent's report: last_seen moves on; a change of state is also a "host.state" event.
  Status Heartbeat(std::int64_t id, std::string_view state);
  // At broker start-up, before any agent can connect: every host still 'online' (the broker
  // stopped or died while its agent was linked) becomes 'offline' until its agent says hello,
  // each with its "host.state" event. Returns how many changed.
  Result<std::int64_t> MarkOnlineHostsOffline();

  Result<Host> Get(std::string_view name) const;
  Result<std::vector<Host>> List() const;
  // Of the enabled, undrained, online hosts with a free slot whose agent is linked now (one of
  // `connected`), the least loaded (live sessions per slot, then most free slots); or none.
  Result<std::optional<Host>> PickForPlacement(std::span<const std::int64_t> connected) const;

 private:
  Result<Host> SetColumn(std::string_view name, std::string_view column, std::int64_t value,
                         const Actor& actor);

  const Database& db_;
  Clock clock_;
};

}  // namespace moat::broker::db
