// Typed bodies of the first agent-link messages, with their JSON codecs. Each body type names
// its envelope type in kType; MakeMessage/DecodeBody connect the two. Bodies are strict like
// the envelope: unknown keys are errors (a new field is a new protocol version).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/wire/envelope.h"

namespace moat::wire {

// "No limit": encoded as "max", as in the sandbox's session spec.
inline constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
inline constexpr double kNoCpuCap = std::numeric_limits<double>::infinity();

enum class Backend { kSandbox, kVm };
std::string_view BackendName(Backend backend);  // "sandbox", "vm"

struct IoDeviceLimits {
  std::string device;  // "MAJ:MIN" or a /dev path; the agent resolves it
  std::optional<uint64_t> read_bps, write_bps, read_iops, write_iops;
  bool operator==(const IoDeviceLimits&) const = default;
};

// The sandbox's limit keys, one for one; an unset field is left as it is.
struct SessionLimits {
  std::optional<double> cpu_percent;  // percent of one core; kNoCpuCap lifts the cap
  std::optional<uint64_t> cpu_weight, memory_max, memory_high, swap_max, pids_max, io_weight;
  std::vector<IoDeviceLimits> io_devices;
  bool operator==(const SessionLimits&) const = default;
};

// broker → agent: build a wall and start the session in it.
struct SessionCreate {
  static constexpr std::string_view kType = "session.create";
  std::string session_id;  // [a-z0-9][a-z0-9-]{0,31}
  std::string user;
  Backend backend = Backend::kSandbox;
  SessionLimits limits;
  bool desktop = true;  // start Xvnc and a window manager; false: a shell-only session
  // Of the desktop; unset: the agent's default (1280x800, depth 24). Ignored without desktop.
  std::optional<std::string> geometry;  // "WIDTHxHEIGHT", each 320..8192
  std::optional<uint64_t> depth;        // 16 or 24
  bool operator==(const SessionCreate&) const = default;
};

// broker → agent: change a running session's limits, live.
struct SessionSetLimits {
  static constexpr std::string_view kType = "session.set_limits";
  std::string session_id;
  SessionLimits limits;
  bool operator==(const SessionSetLimits&) const = default;
};

enum class SessionActionKind { kSuspend, kResume, kEnd };

// broker → agent: freeze, thaw or end a session.
struct SessionAction {
  static constexpr std::string_view kType = "session.action";
  std::string session_id;
  SessionActionKind action = SessionActionKind::kEnd;
  bool operator==(const SessionAction&) const = default;
};

// PSI "some" share (and memory "full") of the last 10 s, percent; absent without PSI.
struct Pressure {
  std::optional<double> cpu, memory, memory_full, io;
  bool operator==(const Pressure&) const = default;
};

struct UsageSample {
  std::string session_id;
  uint64_t at = 0;            // when it was read, Unix time in milliseconds
  uint64_t cpu_usage_us = 0;  // cumulative
  double cpu_percent = 0;     // of one core, since the previous sample
  uint64_t memory_current = 0, memory_peak = 0;
  uint64_t pids = 0;
  uint64_t io_read_bytes = 0, io_write_bytes = 0, io_read_ops = 0, io_write_ops = 0;  // cumulative
  uint64_t oom_kills = 0;
  Pressure psi;
  bool operator==(const UsageSample&) const = default;
};

// agent → broker, once a second, unrequested: one sample per running session.
struct UsageBatch {
  static constexpr std::string_view kType = "usage.batch";
  std::vector<UsageSample> samples;
  bool operator==(const UsageBatch&) const = default;
};

struct HostCapacity {
  uint64_t cpus = 0;
  uint64_t memory_bytes = 0;
  uint64_t max_sessions = 0;
  bool operator==(const HostCapacity&) const = default;
};

enum class RunningState { kRunning, kSuspended };

struct RunningSession {
  std::string session_id;
  std::string user;
  Backend backend = Backend::kSandbox;
  RunningState state = RunningState::kRunning;
  bool operator==(const RunningSession&) const = default;
};

// agent → broker, first message on every connection: who it is and which sessions it still
// has, so the broker can reconcile its database after either side restarted.
struct HostHello {
  static constexpr std::string_view kType = "host.hello";
  std::string agent_version;
  std::string host_name;
  HostCapacity capacity;
  std::vector<Backend> backends;  // what this host can run
  std::vector<RunningSession> sessions;
  bool operator==(const HostHello&) const = default;
};

// --- applications inside a session (app_messages.cc) --------------------------------------
// Replies carry the request's type, so each reply body names it too: DecodeBody<AppLaunched>
// reads the reply to an "app.launch".

// broker → agent: start an application in a running session, in a sub-group of its own.
struct AppLaunch {
  static constexpr std::string_view kType = "app.launch";
  std::string session_id;
  std::vector<std::string> argv;          // at least the program; argv[0] not empty
  std::vector<std::string> env;           // "K=V", K not empty; added to the session's environment
  std::optional<std::string> cwd;         // absolute; absent: the user's home
  std::optional<double> app_cpu_percent;  // the application's own CPU cap, percent of one core
  bool operator==(const AppLaunch&) const = default;
};

struct AppLaunched {
  static constexpr std::string_view kType = "app.launch";
  std::string session_id;
  uint64_t pid = 0;  // inside the session
  std::string app;   // its sub-group, "app-N"
  bool operator==(const AppLaunched&) const = default;
};

// broker → agent: the processes of a session, as its own /proc would show them.
struct AppPs {
  static constexpr std::string_view kType = "app.ps";
  std::string session_id;
  bool operator==(const AppPs&) const = default;
};

struct ProcessInfo {
  uint64_t pid = 0;     // inside the session; moat-init is 1
  uint64_t ppid = 0;    // inside the session; 0 for moat-init
  uint64_t uid = 0;     // real uid inside the session
  std::string app;      // "app-N", or "" for moat-init and what is not in an application group
  std::string command;  // cmdline joined with spaces, or "[comm]" when it has none
  std::string state;    // one letter, as in /proc/PID/stat: R S D T Z …
  uint64_t rss_bytes = 0;
  uint64_t cpu_time_ms = 0;  // user + system
  bool operator==(const ProcessInfo&) const = default;
};

struct ProcessList {
  static constexpr std::string_view kType = "app.ps";
  std::string session_id;
  std::vector<ProcessInfo> processes;  // by pid
  bool operator==(const ProcessList&) const = default;
};

// broker → agent: send a signal to one process of a session. pid 1 (moat-init) is refused:
// ending the session is session.action "end".
struct AppKill {
  static constexpr std::string_view kType = "app.kill";
  std::string session_id;
  uint64_t pid = 0;  // inside the session
  int signal = 15;   // 1..64
  bool operator==(const AppKill&) const = default;
};

struct AppKilled {
  static constexpr std::string_view kType = "app.kill";
  std::string session_id;
  uint64_t pid = 0;
  bool operator==(const AppKilled&) const = default;
};

// broker → agent: the limits in force, read back from the kernel, of a session or of one of
// its applications.
struct SessionGetLimits {
  static constexpr std::string_view kType = "session.get_limits";
  std::string session_id;
  std::optional<std::string> app;  // "app-N"
  bool operator==(const SessionGetLimits&) const = default;
};

struct SessionLimitsReport {
  static constexpr std::string_view kType = "session.get_limits";
  std::string session_id;
  std::optional<std::string> app;  // as asked
  SessionLimits limits;
  bool operator==(const SessionLimitsReport&) const = default;
};

// The ranges the sandbox accepts (cpu_percent 1..102400, memory at least 4 MiB, …); "max"
// where a limit can be lifted.
Status CheckLimitRanges(const SessionLimits& limits);

Json ToJson(const SessionLimits& limits);
Json ToJson(const SessionCreate& body);
Json ToJson(const SessionSetLimits& body);
Json ToJson(const SessionAction& body);
Json ToJson(const UsageBatch& body);
Json ToJson(const HostHello& body);
Json ToJson(const AppLaunch& body);
Json ToJson(const AppLaunched& body);
Json ToJson(const AppPs& body);
Json ToJson(const ProcessList& body);
Json ToJson(const AppKill& body);
Json ToJson(const AppKilled& body);
Json ToJson(const SessionGetLimits& body);
Json ToJson(const SessionLimitsReport& body);

// `where` is the key path used in errors ("body", "body.limits").
Result<SessionLimits> SessionLimitsFromJson(const Json& json, std::string_view where);
template <typename T>
Result<T> BodyFromJson(const Json& body);
template <>
Result<SessionCreate> BodyFromJson(const Json& body);
template <>
Result<SessionSetLimits> BodyFromJson(const Json& body);
template <>
Result<SessionAction> BodyFromJson(const Json& body);
template <>
Result<UsageBatch> BodyFromJson(const Json& body);
template <>
Result<HostHello> BodyFromJson(const Json& body);
template <>
Result<AppLaunch> BodyFromJson(const Json& body);
template <>
Result<AppLaunched> BodyFromJson(const Json& body);
template <>
Result<AppPs> BodyFromJson(const Json& body);
template <>
Result<ProcessList> BodyFromJson(const Json& body);
template <>
Result<AppKill> BodyFromJson(const Json& body);
template <>
Result<AppKilled> BodyFromJson(const Json& body);
template <>
Result<SessionGetLimits> BodyFromJson(const Json& body);
template <>
Result<SessionLimitsReport> BodyFromJson(const Json& body);

// A request or stream message carrying `body`.
template <typename T>
Envelope MakeMessage(const T& body, std::string id = NewMessageId()) {
  return Envelope{std::string(T::kType), std::move(id), std::nullopt, ToJson(body), std::nullopt};
}

// The typed body of `envelope`, which must be of T's type and not an error reply.
template <typename T>
Result<T> DecodeBody(const Envelope& envelope) {
  if (envelope.type != T::kType) {
    return Fail(InvalidArgument("expected a '" + std::string(T::kType) + "' message, got '" +
                                envelope.type + "'"));
  }
  if (envelope.error) {
    return Fail(InvalidArgument("'" + envelope.type + "' failed: " + envelope.error->code + ": " +
                                envelope.error->message));
  }
  MOAT_TRY_CTX(auto body, BodyFromJson<T>(envelope.body), "decode '" + envelope.type + "'");
  return body;
}

}  // namespace moat::wire
