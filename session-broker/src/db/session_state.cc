#include "db/session_state.h"

#include <utility>

namespace moat::broker::db {
namespace {

using enum SessionState;

constexpr SessionState kAll[] = {kStarting, kActive, kDisconnected, kSuspended,
                                 kEnding,   kEnded,  kFailed};

constexpr std::pair<SessionState, std::string_view> kNames[] = {
    {kStarting, "starting"},   {kActive, "active"}, {kDisconnected, "disconnected"},
    {kSuspended, "suspended"}, {kEnding, "ending"}, {kEnded, "ended"},
    {kFailed, "failed"},
};

struct Edge {
  SessionState from;
  SessionState to;
};

// Every legal transition, and nothing else.
constexpr Edge kTransitions[] = {
    {kStarting, kActive},     {kStarting, kEnding},     {kStarting, kFailed},
    {kActive, kDisconnected}, {kActive, kSuspended},    {kActive, kEnding},
    {kActive, kFailed},       {kDisconnected, kActive}, {kDisconnected, kSuspended},
    {kDisconnected, kEnding}, {kDisconnected, kFailed}, {kSuspended, kActive},
    {kSuspended, kEnding},    {kSuspended, kFailed},    {kEnding, kEnded},
    {kEnding, kFailed},
};

}  // namespace

std::span<const SessionState> AllSessionStates() { return kAll; }

std::string_view ToString(SessionState state) {
  for (const auto& [value, name] : kNames) {
    if (value == state) return name;
  }
  return "unknown";
}

std::optional<SessionState> ParseSessionState(std::string_view text) {
  for (const auto& [value, name] : kNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool IsTransitionAllowed(SessionState from, SessionState to) {
  for (const Edge& edge : kTransitions) {
    if (edge.from == from && edge.to == to) return true;
  }
  return false;
}

bool IsTerminal(SessionState state) { return state == kEnded || state == kFailed; }

}  // namespace moat::broker::db
