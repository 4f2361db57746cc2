// Codecs of the agent → broker messages: the hello that opens a link and the usage stream.
#include <cmath>

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

// JSON has no NaN or infinity; a sample that computed one (a zero interval) sends 0.
double Finite(double value) { return std::isfinite(value) ? value : 0.0; }

Json ToJson(const Pressure& psi) {
  Json out = Json::object();
  if (psi.cpu) out["cpu"] = Finite(*psi.cpu);
  if (psi.memory) out["memory"] = Finite(*psi.memory);
  if (psi.memory_full) out["memory_full"] = Finite(*psi.memory_full);
  if (psi.io) out["io"] = Finite(*psi.io);
  return out;
}

Json ToJson(const UsageSample& sample) {
  return {{"session_id", sample.session_id},
          {"at", sample.at},
          {"cpu_usage_us", sample.cpu_usage_us},
          {"cpu_percent", Finite(sample.cpu_percent)},
          {"memory_current", sample.memory_current},
          {"memory_peak", sample.memory_peak},
          {"pids", sample.pids},
          {"io_read_bytes", sample.io_read_bytes},
          {"io_write_bytes", sample.io_write_bytes},
          {"io_read_ops", sample.io_read_ops},
          {"io_write_ops", sample.io_write_ops},
          {"oom_kills", sample.oom_kills},
          {"psi", ToJson(sample.psi)}};
}

Result<Pressure> PressureFromJson(const Json& json, const std::string& where) {
  MOAT_TRY_VOID(ExpectObject(json, where));
  MOAT_TRY_VOID(RejectUnknownKeys(json, {"cpu", "memory", "memory_full", "io"}, where));
  Pressure psi;
  MOAT_TRY_VOID(ReadOptional(json, "cpu", where, psi.cpu));
  MOAT_TRY_VOID(ReadOptional(json, "memory", where, psi.memory));
  MOAT_TRY_VOID(ReadOptional(json, "memory_full", where, psi.memory_full));
  MOAT_TRY_VOID(ReadOptional(json, "io", where, psi.io));
  return psi;
}

Result<UsageSample> SampleFromJson(const Json& json, const std::string& where) {
  MOAT_TRY_VOID(ExpectObject(json, where));
  MOAT_TRY_VOID(RejectUnknownKeys(
      json,
      {"session_id", "at", "cpu_usage_us", "cpu_percent", "memory_current", "memory_peak", "pids",
       "io_read_bytes", "io_write_bytes", "io_read_ops", "io_write_ops", "oom_kills", "psi"},
      where));
  UsageSample sample;
  MOAT_TRY_VOID(Read(json, "session_id", where, sample.session_id));
  MOAT_TRY_VOID(CheckSessionId(sample.session_id, Join(where, "session_id")));
  MOAT_TRY_VOID(Read(json, "at", where, sample.at));
  MOAT_TRY_VOID(Read(json, "cpu_usage_us", where, sample.cpu_usage_us));
  MOAT_TRY_VOID(Read(json, "cpu_percent", where, sample.cpu_percent));
  MOAT_TRY_VOID(Read(json, "memory_current", where, sample.memory_current));
  MOAT_TRY_VOID(Read(json, "memory_peak", where, sample.memory_peak));
  MOAT_TRY_VOID(Read(json, "pids", where, sample.pids));
  MOAT_TRY_VOID(Read(json, "io_read_bytes", where, sample.io_read_bytes));
  MOAT_TRY_VOID(Read(json, "io_write_bytes", where, sample.io_write_bytes));
  MOAT_TRY_VOID(Read(json, "io_read_ops", where, sample.io_read_ops));
  MOAT_TRY_VOID(Read(json, "io_write_ops", where, sample.io_write_ops));
  MOAT_TRY_VOID(Read(json, "oom_kills", where, sample.oom_kills));
  if (auto it = json.find("psi"); it != json.end()) {
    MOAT_TRY(sample.psi, PressureFromJson(*it, Join(where, "psi")));
  }
  return sample;
}

Result<HostCapacity> CapacityFromJson(const Json& json, const std::string& where) {
  MOAT_TRY_VOID(ExpectObject(json, where));
  MOAT_TRY_VOID(RejectUnknownKeys(json, {"cpus", "memory_bytes", "max_sessions"}, where));
  HostCapacity capacity;
  MOAT_TRY_VOID(Read(json, "cpus", where, capacity.cpus));
  MOAT_TRY_VOID(Read(json, "memory_bytes", where, capacity.memory_bytes));
  MOAT_TRY_VOID(Read(json, "max_sessions", where, capacity.max_sessions));
  return capacity;
}

Result<RunningSession> RunningFromJson(const Json& json, const std::string& where) {
  MOAT_TRY_VOID(ExpectObject(json, where));
  MOAT_TRY_VOID(RejectUnknownKeys(json, {"session_id", "user", "backend", "state"}, where));
  RunningSession session;
  MOAT_TRY_VOID(Read(json, "session_id", where, session.session_id));
  MOAT_TRY_VOID(CheckSessionId(session.session_id, Join(where, "session_id")));
  MOAT_TRY_VOID(Read(json, "user", where, session.user));
  MOAT_TRY(session.backend, internal::ReadBackend(json, "backend", where));
  std::string state;
  MOAT_TRY_VOID(Read(json, "state", where, state));
  if (state == "running") {
    session.state = RunningState::kRunning;
  } else if (state == "suspended") {
    session.state = RunningState::kSuspended;
  } else {
    return Fail(InvalidArgument("'" + Join(where, "state") +
                                "' must be \"running\" or \"suspended\", not '" + state + "'"));
  }
  return session;
}

}  // namespace

Json ToJson(const UsageBatch& body) {
  Json samples = Json::array();
  for (const auto& sample : body.samples) samples.push_back(ToJson(sample));
  return {{"samples", std::move(samples)}};
}

template <>
Result<UsageBatch> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(body, {"samples"}, "body"));
  MOAT_TRY(const Json* samples, internal::ReadArray(body, "samples", "body"));
  UsageBatch batch;
  batch.samples.reserve(samples->size());
  for (size_t i = 0; i < samples->size(); ++i) {
    MOAT_TRY(auto sample, SampleFromJson((*samples)[i], Index("body.samples", i)));
    batch.samples.push_back(std::move(sample));
  }
  return batch;
}

Json ToJson(const HostHello& body) {
  Json backends = Json::array();
  for (Backend backend : body.backends) backends.push_back(BackendName(backend));
  Json sessions = Json::array();
  for (const auto& session : body.sessions) {
    sessions.push_back(
        {{"session_id", session.session_id},
         {"user", session.user},
         {"backend", BackendName(session.backend)},
         {"state", session.state == RunningState::kSuspended ? "suspended" : "running"}});
  }
  return {{"agent_version", body.agent_version},
          {"host_name", body.host_name},
          {"capacity",
           {{"cpus", body.capacity.cpus},
            {"memory_bytes", body.capacity.memory_bytes},
            {"max_sessions", body.capacity.max_sessions}}},
          {"backends", std::move(backends)},
          {"sessions", std::move(sessions)}};
}

template <>
Result<HostHello> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(
      body, {"agent_version", "host_name", "capacity", "backends", "sessions"}, "body"));
  HostHello hello;
  MOAT_TRY_VOID(Read(body, "agent_version", "body", hello.agent_version));
  MOAT_TRY_VOID(CheckNotEmpty(hello.agent_version, "body.agent_version"));
  MOAT_TRY_VOID(Read(body, "host_name", "body", hello.host_name));
  MOAT_TRY_VOID(CheckNotEmpty(hello.host_name, "body.host_name"));
  auto capacity = body.find("capacity");
  if (capacity == body.end()) return Fail(InvalidArgument("missing 'body.capacity'"));
  MOAT_TRY(hello.capacity, CapacityFromJson(*capacity, "body.capacity"));
  MOAT_TRY(const Json* backends, internal::ReadArray(body, "backends", "body"));
  for (size_t i = 0; i < backends->size(); ++i) {
    Json holder = {{"backend", (*backends)[i]}};
    auto backend = internal::ReadBackend(holder, "backend", "");
    if (!backend) {
      return Fail(
          InvalidArgument("'" + Index("body.backends", i) + "' must be \"sandbox\" or \"vm\""));
    }
    hello.backends.push_back(*backend);
  }
  MOAT_TRY(const Json* sessions, internal::ReadArray(body, "sessions", "body"));
  for (size_t i = 0; i < sessions->size(); ++i) {
    MOAT_TRY(auto session, RunningFromJson((*sessions)[i], Index("body.sessions", i)));
    hello.sessions.push_back(std::move(session));
  }
  return hello;
}

}  // namespace moat::wire
