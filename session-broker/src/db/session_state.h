// The session state machine as a table:
//   starting → active ⇄ disconnected;  active|disconnected → suspended → active;
//   any live state → ending → ended;    any live state → failed.
// ended and failed are terminal.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace moat::broker::db {

enum class SessionState { kStarting, kActive, kDisconnected, kSuspended, kEnding, kEnded, kFailed };

std::span<const SessionState> AllSessionStates();
std::string_view ToString(SessionState state);
std::optional<SessionState> ParseSessionState(std::string_view text);

bool IsTransitionAllowed(SessionState from, SessionState to);
bool IsTerminal(SessionState state);

}  // namespace moat::broker::db
