// Session hosts: enrolment, the agent's heartbeats, and the admin switches (enabled, drained,
// capacity), each audited with its old and new value.
#pragma once

#include <cstdint>
#include <optional>
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

  Result<Host> Get(std::string_view name) const;
  Result<std::vector<Host>> List() const;
  // The enabled, undrained, online host with the most free slots, if any has one.
  Result<std::optional<Host>> PickForPlacement() const;

 private:
  Result<Host> SetColumn(std::string_view name, std::string_view column, std::int64_t value,
                         const Actor& actor);

  const Database& db_;
  Clock clock_;
};

}  // namespace moat::broker::db
