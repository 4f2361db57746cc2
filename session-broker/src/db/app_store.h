// Applications launched inside a session, each in its own sub-group of the session's cgroup.
// Starts and ends are events in the audit trail.
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

struct App {
  std::int64_t id = 0;
  std::string session_id{};
  std::string name{};
  std::string argv{};  // JSON array of strings
  std::optional<std::int64_t> pid{};
  std::optional<std::string> cgroup{};
  std::int64_t started_at = 0;
  std::optional<std::int64_t> ended_at{};
  std::optional<std::int64_t> exit_code{};
};

struct NewApp {
  std::string session_id{};
  std::string name{};
  std::string argv = "[]";
  std::optional<std::int64_t> pid{};
  std::optional<std::string> cgroup{};
};

class AppStore {
 public:
  explicit AppStore(const Database& db, Clock clock = SystemClock())
      : db_(db), clock_(std::move(clock)) {}

  Result<App> Start(const NewApp& app, const Actor& actor);
  // Ending an app twice is an error that changes nothing.
  Result<App> End(std::int64_t id, std::optional<std::int64_t> exit_code);

  Result<App> Get(std::int64_t id) const;
  // Oldest first; running ones only if `running_only`.
  Result<std::vector<App>> List(std::string_view session_id, bool running_only = false) const;

 private:
  const Database& db_;
  Clock clock_;
};

}  // namespace moat::broker::db
