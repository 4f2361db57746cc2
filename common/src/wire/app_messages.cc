// Codecs of the messages about applications inside a session (app.launch, app.ps, app.kill)
// and of the limits read-back (session.get_limits), requests and replies both.
#include "moat/common/wire/messages.h"
#include "wire/json_read.h"

namespace moat::wire {

using internal::CheckNotEmpty;
using internal::CheckSessionId;
using internal::ExpectObject;
using internal::Index;
using internal::Join;
using internal::Read;
using internal::ReadOptional;
using internal::RejectUnknownKeys;

namespace {

// The kernel's PID_MAX_LIMIT: no pid is larger, in any namespace.
constexpr uint64_t kMaxPid = 4194304;
// SIGRTMAX on Linux.
constexpr int kMaxSignal = 64;

// execve and chdir stop at the first NUL, so "a\u0000b" would run something else than asked.
Status CheckNoNul(const std::string& value, const std::string& where) {
  if (value.find('\0') != std::string::npos) {
    return Fail(InvalidArgument("'" + where + "' must not contain NUL"));
  }
  return {};
}

Status CheckAppName(const std::string& app, const std::string& where) {
  bool ok = app.size() > 4 && app.starts_with("app-") &&
            app.find_first_not_of("0123456789", 4) == std::string::npos;
  if (!ok) return Fail(InvalidArgument("'" + where + "' must be \"app-N\", not '" + app + "'"));
  return {};
}

Status ReadPid(const Json& body, uint64_t& pid) {
  auto it = body.find("pid");
  if (it == body.end()) return Fail(InvalidArgument("missing 'body.pid'"));
  if (!it->is_number_unsigned() || it->get<uint64_t>() < 1 || it->get<uint64_t>() > kMaxPid) {
    return Fail(InvalidArgument("'body.pid' must be a process id 1.." + std::to_string(kMaxPid)));
  }
  pid = it->get<uint64_t>();
  return {};
}

Status CheckArgv(const std::vector<std::string>& argv) {
  if (argv.empty()) return Fail(InvalidArgument("'body.argv' must name at least the program"));
  MOAT_TRY_VOID(CheckNotEmpty(argv[0], "body.argv[0]"));
  for (size_t i = 0; i < argv.size(); ++i)
    MOAT_TRY_VOID(CheckNoNul(argv[i], Index("body.argv", i)));
  return {};
}

Status CheckEnv(const std::vector<std::string>& env) {
  for (size_t i = 0; i < env.size(); ++i) {
    std::string where = Index("body.env", i);
    MOAT_TRY_VOID(CheckNoNul(env[i], where));
    auto eq = env[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      return Fail(InvalidArgument("'" + where + "' must be \"NAME=value\", not '" + env[i] + "'"));
    }
  }
  return {};
}

Json ToJson(const ProcessInfo& process) {
  return {{"pid", process.pid},
          {"ppid", process.ppid},
          {"uid", process.uid},
          {"app", process.app},
          {"command", process.command},
          {"state", process.state},
          {"rss_bytes", process.rss_bytes},
          {"cpu_time_ms", process.cpu_time_ms}};
}

Result<ProcessInfo> ProcessFromJson(const Json& json, const std::string& where) {
  MOAT_TRY_VOID(ExpectObject(json, where));
  MOAT_TRY_VOID(RejectUnknownKeys(
      json, {"pid", "ppid", "uid", "app", "command", "state", "rss_bytes", "cpu_time_ms"}, where));
  ProcessInfo process;
  MOAT_TRY_VOID(Read(json, "pid", where, process.pid));
  MOAT_TRY_VOID(Read(json, "ppid", where, process.ppid));
  MOAT_TRY_VOID(Read(json, "uid", where, process.uid));
  MOAT_TRY_VOID(Read(json, "app", where, process.app));
  if (!process.app.empty()) MOAT_TRY_VOID(CheckAppName(process.app, Join(where, "app")));
  MOAT_TRY_VOID(Read(json, "command", where, process.command));
  MOAT_TRY_VOID(Read(json, "state", where, process.state));
  MOAT_TRY_VOID(Read(json, "rss_bytes", where, process.rss_bytes));
  MOAT_TRY_VOID(Read(json, "cpu_time_ms", where, process.cpu_time_ms));
  return process;
}

}  // namespace

Json ToJson(const AppLaunch& body) {
  Json out = {{"session_id", body.session_id}, {"argv", body.argv}, {"env", body.env}};
  if (body.cwd) out["cwd"] = *body.cwd;
  if (body.app_cpu_percent) out["app_cpu_percent"] = *body.app_cpu_percent;
  return out;
}

template <>
Result<AppLaunch> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(
      RejectUnknownKeys(body, {"session_id", "argv", "env", "cwd", "app_cpu_percent"}, "body"));
  AppLaunch launch;
  MOAT_TRY_VOID(Read(body, "session_id", "body", launch.session_id));
  MOAT_TRY_VOID(CheckSessionId(launch.session_id, "body.session_id"));
  MOAT_TRY_VOID(Read(body, "argv", "body", launch.argv));
  MOAT_TRY_VOID(CheckArgv(launch.argv));
  if (body.contains("env")) MOAT_TRY_VOID(Read(body, "env", "body", launch.env));
  MOAT_TRY_VOID(CheckEnv(launch.env));
  MOAT_TRY_VOID(ReadOptional(body, "cwd", "body", launch.cwd));
  if (launch.cwd) {
    MOAT_TRY_VOID(CheckNoNul(*launch.cwd, "body.cwd"));
    if (!launch.cwd->starts_with('/')) {
      return Fail(
          InvalidArgument("'body.cwd' must be an absolute path, not '" + *launch.cwd + "'"));
    }
  }
  MOAT_TRY_VOID(ReadOptional(body, "app_cpu_percent", "body", launch.app_cpu_percent));
  if (launch.app_cpu_percent && !(*launch.app_cpu_percent > 0)) {
    return Fail(InvalidArgument("'body.app_cpu_percent' must be a number > 0"));
  }
  return launch;
}

Json ToJson(const AppLaunched& body) {
  return {{"session_id", body.session_id}, {"pid", body.pid}, {"app", body.app}};
}

template <>
Result<AppLaunched> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(body, {"session_id", "pid", "app"}, "body"));
  AppLaunched launched;
  MOAT_TRY_VOID(Read(body, "session_id", "body", launched.session_id));
  MOAT_TRY_VOID(CheckSessionId(launched.session_id, "body.session_id"));
  MOAT_TRY_VOID(ReadPid(body, launched.pid));
  MOAT_TRY_VOID(Read(body, "app", "body", launched.app));
  MOAT_TRY_VOID(CheckAppName(launched.app, "body.app"));
  return launched;
}

Json ToJson(const AppPs& body) { return {{"session_id", body.session_id}}; }

template <>
Result<AppPs> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(body, {"session_id"}, "body"));
  AppPs ps;
  MOAT_TRY_VOID(Read(body, "session_id", "body", ps.session_id));
  MOAT_TRY_VOID(CheckSessionId(ps.session_id, "body.session_id"));
  return ps;
}

Json ToJson(const ProcessList& body) {
  Json processes = Json::array();
  for (const auto& process : body.processes) processes.push_back(ToJson(process));
  return {{"session_id", body.session_id}, {"processes", std::move(processes)}};
}

template <>
Result<ProcessList> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(body, {"session_id", "processes"}, "body"));
  ProcessList list;
  MOAT_TRY_VOID(Read(body, "session_id", "body", list.session_id));
  MOAT_TRY_VOID(CheckSessionId(list.session_id, "body.session_id"));
  MOAT_TRY(const Json* processes, internal::ReadArray(body, "processes", "body"));
  list.processes.reserve(processes->size());
  for (size_t i = 0; i < processes->size(); ++i) {
    MOAT_TRY(auto process, ProcessFromJson((*processes)[i], Index("body.processes", i)));
    list.processes.push_back(std::move(process));
  }
  return list;
}

Json ToJson(const AppKill& body) {
  return {{"session_id", body.session_id}, {"pid", body.pid}, {"signal", body.signal}};
}

template <>
Result<AppKill> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(body, {"session_id", "pid", "signal"}, "body"));
  AppKill kill;
  MOAT_TRY_VOID(Read(body, "session_id", "body", kill.session_id));
  MOAT_TRY_VOID(CheckSessionId(kill.session_id, "body.session_id"));
  MOAT_TRY_VOID(ReadPid(body, kill.pid));
  if (auto it = body.find("signal"); it != body.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > kMaxSignal) {
      return Fail(InvalidArgument("'body.signal' must be a signal number 1.." +
                                  std::to_string(kMaxSignal)));
    }
    kill.signal = static_cast<int>(it->get<int64_t>());
  }
  return kill;
}

Json ToJson(const AppKilled& body) { return {{"session_id", body.session_id}, {"pid", body.pid}}; }

template <>
Result<AppKilled> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(body, {"session_id", "pid"}, "body"));
  AppKilled killed;
  MOAT_TRY_VOID(Read(body, "session_id", "body", killed.session_id));
  MOAT_TRY_VOID(CheckSessionId(killed.session_id, "body.session_id"));
  MOAT_TRY_VOID(ReadPid(body, killed.pid));
  return killed;
}

Json ToJson(const SessionGetLimits& body) {
  Json out = {{"session_id", body.session_id}};
  if (body.app) out["app"] = *body.app;
  return out;
}

template <>
Result<SessionGetLimits> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(body, {"session_id", "app"}, "body"));
  SessionGetLimits get;
  MOAT_TRY_VOID(Read(body, "session_id", "body", get.session_id));
  MOAT_TRY_VOID(CheckSessionId(get.session_id, "body.session_id"));
  MOAT_TRY_VOID(ReadOptional(body, "app", "body", get.app));
  if (get.app) MOAT_TRY_VOID(CheckAppName(*get.app, "body.app"));
  return get;
}

Json ToJson(const SessionLimitsReport& body) {
  Json out = {{"session_id", body.session_id}, {"limits", ToJson(body.limits)}};
  if (body.app) out["app"] = *body.app;
  return out;
}

template <>
Result<SessionLimitsReport> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(body, {"session_id", "app", "limits"}, "body"));
  SessionLimitsReport report;
  MOAT_TRY_VOID(Read(body, "session_id", "body", report.session_id));
  MOAT_TRY_VOID(CheckSessionId(report.session_id, "body.session_id"));
  MOAT_TRY_VOID(ReadOptional(body, "app", "body", report.app));
  if (report.app) MOAT_TRY_VOID(CheckAppName(*report.app, "body.app"));
  auto it = body.find("limits");
  if (it == body.end()) return Fail(InvalidArgument("missing 'body.limits'"));
  MOAT_TRY(report.limits, SessionLimitsFromJson(*it, "body.limits"));
  return report;
}

}  // namespace moat::wire
