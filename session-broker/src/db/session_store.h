// Sessions and their state machine. Every state change is one write transaction that checks the
// current state, updates the row and appends its session_events row; it commits before the caller
// announces anything. An illegal transition is an error that changes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/audit.h"
#include "db/clock.h"
#include "db/database.h"
#include "db/session_state.h"

namespace moat::broker::db {

struct Session {
  std::string id{};
  std::int64_t user_id = 0;
  std::optional<std::int64_t> host_id{};
  std::string backend{};
  SessionState state = SessionState::kStarting;
  std::string limits{};  // JSON object
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> last_input_at{};
  std::optional<std::int64_t> ended_at{};
  std::optional<std::string> failure_reason{};
};

struct NewSession {
  std::string id{};  // empty: a random id is made
  std::int64_t user_id = 0;
  std::optional<std::int64_t> host_id{};
  std::string backend = "sandbox";
  std::string limits = "{}";
};

struct SessionFilter {
  std::optional<std::int64_t> user_id{};
  std::optional<std::int64_t> host_id{};
  std::optional<SessionState> state{};
  bool live_only = false;  // not ended or failed
  int limit = 100;
  int offset = 0;
};

class SessionStore {
 public:
  explicit SessionStore(const Database& db, Clock clock = SystemClock())
      : db_(db), clock_(std::move(clock)) {}

  // Inserts the session in 'starting' with its "session.create" event.
  Result<Session> Create(const NewSession& session, const Actor& actor);

  // detail is a JSON object stored with the event; for 'failed', its "reason" member becomes
  // the session's failure_reason.
  Result<Session> Transition(std::string_view id, SessionState to, const Actor& actor,
                             std::string_view detail = "{}");

  // Replaces the session's limits, auditing the old and new values ("session.limits").
  Result<Session> SetLimits(std::string_view id, std::string_view limits, const Actor& actor);
  // Records the host a session was placed on ("session.place").
  Result<Session> Place(std::string_view id, std::int64_t host_id, const Actor& actor);
  // Last keyboard or pointer input, for the idle timeout. Not an event.
  Status TouchInput(std::string_view id, std::int64_t at);

  Result<Session> Get(std::string_view id) const;
  // Newest first.
  Result<std::vector<Session>> List(const SessionFilter& filter) const;
  Result<std::int64_t> CountLive(std::int64_t user_id) const;

 private:
  const Database& db_;
  Clock clock_;
};

}  // namespace moat::broker::db
