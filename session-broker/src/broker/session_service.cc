#include "broker/session_service.h"

#include "broker/system_groups.h"
#include "db/app_store.h"
#include "db/host_store.h"
#include "db/session_store.h"
#include "moat/common/desktop_geometry.h"
#include "moat/common/log.h"

namespace moat::broker {
namespace {

using db::SessionState;

Error AgentError(const wire::WireError& error) {
  std::errc code = std::errc::io_error;  // the host failed: 502
  if (error.code == "invalid_argument") code = std::errc::invalid_argument;
  if (error.code == "not_found") code = std::errc::no_such_file_or_directory;
  if (error.code == "conflict") code = std::errc::operation_not_permitted;
  return Error(std::make_error_code(code), "agent: " + error.message);
}

Error Unavailable(std::string message) {
  return Error(std::make_error_code(std::errc::resource_unavailable_try_again), std::move(message));
}

std::string Detail(std::string_view key, std::string_view value) {
  return wire::Json{{key, value}}.dump();
}

// A create request with the policy's defaults filled in.
struct CreatePlan {
  std::string backend;
  std::string geometry;
  std::int64_t depth = 0;
  wire::Json limits;  // the policy's default_limits with the request's over them
  wire::SessionLimits typed_limits;
};

// Checks every value of the request, and of the policy defaults it falls back on.
Result<CreatePlan> PlanCreate(const CreateSessionRequest& request,
                              const db::EffectivePolicy& policy) {
  CreatePlan plan;
  plan.backend = request.backend.value_or(policy.backend);
  if (plan.backend != "sandbox" && plan.backend != "vm") {
    return Fail(InvalidArgument("backend must be 'sandbox' or 'vm', not '" + plan.backend + "'"));
  }
  if (!request.limits.is_object()) return Fail(InvalidArgument("'limits' must be an object"));
  plan.geometry = request.geometry.value_or(policy.desktop_geometry);
  plan.depth = request.depth.value_or(policy.desktop_depth);
  MOAT_TRY_VOID(CheckDesktopGeometry(plan.geometry, "geometry"));
  MOAT_TRY_VOID(CheckDesktopDepth(plan.depth, "depth"));
  plan.limits = wire::Json::parse(policy.default_limits);
  for (const auto& [key, value] : request.limits.items()) plan.limits[key] = value;
  MOAT_TRY_CTX(plan.typed_limits, wire::SessionLimitsFromJson(plan.limits, "limits"),
               "session limits");
  MOAT_TRY_VOID(wire::CheckLimitRanges(plan.typed_limits));
  return plan;
}

}  // namespace

SessionService::SessionService(db::ConnectionPool& pool, AgentHub& agents, Events& events,
                               Metrics& metrics)
    : pool_(pool), agents_(agents), events_(events), metrics_(metrics) {}

Result<wire::Json> SessionService::AgentCall(std::int64_t host_id, const wire::Envelope& request) {
  auto reply = agents_.Request(host_id, request);
  metrics_.RecordAgentRequest(reply && !reply->error);
  if (!reply) {
    if (reply.error().code() == std::errc::connection_refused) {
      return Fail(Unavailable(reply.error().message()));
    }
    return Fail(std::move(reply).error());
  }
  if (reply->error) return Fail(AgentError(*reply->error));
  return std::move(reply->body);
}

Result<SessionView> SessionService::Transition(const db::Database& db, std::string_view id,
                                               SessionState to, const db::Actor& actor,
                                               std::string_view detail) {
  MOAT_TRY(SessionView before, GetSessionView(db, id));
  MOAT_TRY_VOID(db::SessionStore(db).Transition(id, to, actor, detail));
  MOAT_TRY(SessionView after, GetSessionView(db, id));
  Changed();
  events_.SessionState(after, before.state);
  if (state_listener_) state_listener_(after, before.state);
  return after;
}

Result<SessionView> SessionService::LiveSessionOnHost(const db::Database& db, std::string_view id) {
  MOAT_TRY(SessionView session, GetSessionView(db, id));
  auto state = db::ParseSessionState(session.state);
  if (!state || db::IsTerminal(*state)) {
    return Fail(db::Conflict("session '" + session.id + "' is " + session.state));
  }
  if (!session.host_id) {
    return Fail(db::Conflict("session '" + session.id + "' is not placed on a host yet"));
  }
  return session;
}

Result<CreatedSession> SessionService::Create(const CreateSessionRequest& request,
                                              const db::Actor& actor) {
  auto db = pool_.Acquire();
  MOAT_TRY(db::User user, db::UserStore(*db).Get(request.user));
  if (user.disabled) return Fail(db::Conflict("user '" + user.name + "' is disabled"));
  if (user.role == db::Role::kAuditor) {
    return Fail(db::Forbidden("user '" + user.name +
                              "' is an auditor; auditors are read-only and have no sessions"));
  }
  MOAT_TRY(db::EffectivePolicy policy, EffectivePolicyOf(*db, user.name));
  // The whole request is checked before anything changes, even when a disconnected session
  // is given back instead: a bad request is refused the same way whatever the user has.
  MOAT_TRY(CreatePlan plan, PlanCreate(request, policy));

  // A user with a disconnected session gets it back instead of a new one.
  MOAT_TRY(auto disconnected,
           ListSessionViews(*db, {.user = user.name, .state = "disconnected", .limit = 1}));
  if (!disconnected.empty()) {
    MOAT_TRY(SessionView session, Transition(*db, disconnected.front().id, SessionState::kActive,
                                             actor, R"({"reason":"reconnect"})"));
    return CreatedSession{std::move(session), true};
  }

  // Check and insert under one lock: two creates at once must not both pass the count or both
  // take a host's last slot. Held only until the row exists, not across the agent's work.
  std::unique_lock placement(placement_mutex_);
  MOAT_TRY(std::int64_t live, db::SessionStore(*db).CountLive(user.id));
  if (live >= policy.sessions_per_user) {
    return Fail(db::Conflict("user '" + user.name + "' has " + std::to_string(live) +
                             " live sessions, the most the policy allows (sessions_per_user = " +
                             std::to_string(policy.sessions_per_user) + ")"));
  }
  MOAT_TRY(auto host, db::HostStore(*db).PickForPlacement(agents_.ConnectedHosts()));
  if (!host) {
    return Fail(
        Unavailable("no session host can take a new session now (all drained, full, "
                    "disabled or offline)"));
  }

  // Recorded as 'starting' and placed before the agent hears of it: a broker that dies now
  // leaves a row that reconciliation settles, never a wall nobody knows about.
  db::NewSession row{.user_id = user.id,
                     .host_id = host->id,
                     .backend = plan.backend,
                     .limits = plan.limits.dump()};
  MOAT_TRY(db::Session created, db::SessionStore(*db).Create(row, actor));
  placement.unlock();
  {
    std::lock_guard lock(mutex_);
    in_flight_.insert(created.id);
  }
  struct InFlight {
    SessionService* self;
    std::string id;
    ~InFlight() {
      std::lock_guard lock(self->mutex_);
      self->in_flight_.erase(id);
    }
  } in_flight{this, created.id};
  MOAT_TRY(SessionView starting, GetSessionView(*db, created.id));
  Changed();
  events_.SessionState(starting, "");

  wire::SessionCreate spec;
  spec.session_id = created.id;
  spec.user = user.name;
  spec.backend = plan.backend == "vm" ? wire::Backend::kVm : wire::Backend::kSandbox;
  spec.limits = plan.typed_limits;
  spec.desktop = request.desktop;
  if (request.desktop) {
    spec.geometry = plan.geometry;
    spec.depth = static_cast<uint64_t>(plan.depth);
  }
  auto reply = AgentCall(host->id, wire::MakeMessage(spec));
  if (!reply) {
    if (reply.error().code() == std::errc::timed_out) {
      std::lock_guard lock(mutex_);
      timed_out_creates_[created.id] = std::chrono::steady_clock::now();
    }
    std::string reason = reply.error().message();
    log::Warning("session start failed", {{"session", created.id}, {"error", reason}});
    (void)Transition(*db, created.id, SessionState::kFailed, db::Actor::System(),
                     Detail("reason", reason));
    return Fail(Error(reply.error().code(), "start session '" + created.id + "' on host '" +
                                                host->name + "': " + reason));
  }
  MOAT_TRY(SessionView active,
           Transition(*db, created.id, SessionState::kActive, db::Actor::System()));
  return CreatedSession{std::move(active), false};
}

Result<SessionView> SessionService::SetLimits(std::string_view id, const wire::Json& limits,
                                              const db::Actor& actor) {
  if (!limits.is_object()) return Fail(InvalidArgument("'limits' must be an object"));
  MOAT_TRY_CTX(wire::SessionLimits typed, wire::SessionLimitsFromJson(limits, "limits"),
               "session limits");
  MOAT_TRY_VOID(wire::CheckLimitRanges(typed));
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, LiveSessionOnHost(*db, id));
  wire::SessionSetLimits change{session.id, typed};
  MOAT_TRY(wire::Json reply, AgentCall(*session.host_id, wire::MakeMessage(change)));
  wire::Json stored = wire::Json::parse(session.limits);
  for (const auto& [key, value] : limits.items()) stored[key] = value;
  MOAT_TRY_VOID(db::SessionStore(*db).SetLimits(session.id, stored.dump(), actor));
  Changed();
  return GetSessionView(*db, session.id);
}

Status SessionService::OpenDisplayTunnel(std::string_view id, const std::string& ticket) {
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, LiveSessionOnHost(*db, id));
  wire::Envelope request{"display.open", wire::NewMessageId(), std::nullopt,
                         wire::Json{{"session_id", session.id}, {"ticket", ticket}}, std::nullopt};
  MOAT_TRY(wire::Json reply, AgentCall(*session.host_id, request));
  return {};
}

Result<wire::Json> SessionService::EffectiveLimits(std::string_view id) {
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, LiveSessionOnHost(*db, id));
  wire::Envelope request{"session.get_limits", wire::NewMessageId(), std::nullopt,
                         wire::Json{{"session_id", session.id}}, std::nullopt};
  return AgentCall(*session.host_id, request);
}

Result<SessionView> SessionService::Suspend(std::string_view id, const db::Actor& actor) {
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, LiveSessionOnHost(*db, id));
  auto state = *db::ParseSessionState(session.state);
  if (!db::IsTransitionAllowed(state, SessionState::kSuspended)) {
    return Fail(db::Conflict("session '" + session.id + "' is " + session.state +
                             "; only active or disconnected sessions can be suspended"));
  }
  MOAT_TRY_VOID(AgentCall(*session.host_id, wire::MakeMessage(wire::SessionAction{
                                                session.id, wire::SessionActionKind::kSuspend})));
  return Transition(*db, session.id, SessionState::kSuspended, actor);
}

Result<SessionView> SessionService::Resume(std::string_view id, const db::Actor& actor) {
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, LiveSessionOnHost(*db, id));
  if (session.state != "suspended") {
    return Fail(
        db::Conflict("session '" + session.id + "' is " + session.state + ", not suspended"));
  }
  MOAT_TRY_VOID(AgentCall(*session.host_id, wire::MakeMessage(wire::SessionAction{
                                                session.id, wire::SessionActionKind::kResume})));
  return Transition(*db, session.id, SessionState::kActive, actor);
}

Result<SessionView> SessionService::Reconnect(std::string_view id, const db::Actor& actor,
                                              std::string_view detail) {
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, GetSessionView(*db, id));
  if (session.state != "disconnected") return session;
  return Transition(*db, session.id, SessionState::kActive, actor, detail);
}

Status SessionService::NoteInput(std::string_view id) {
  auto db = pool_.Acquire();
  MOAT_TRY_VOID(db::SessionStore(*db).TouchInput(id, db::SystemClock()()));
  Changed();
  return {};
}

Result<SessionView> SessionService::Disconnect(std::string_view id, const db::Actor& actor) {
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, GetSessionView(*db, id));
  if (session.state != "active") {
    return Fail(db::Conflict("session '" + session.id + "' is " + session.state +
                             "; only an active session can be disconnected"));
  }
  // The desktop keeps running; only the viewers go (the display gateway drops them).
  return Transition(*db, session.id, SessionState::kDisconnected, actor);
}

Result<SessionView> SessionService::End(std::string_view id, const db::Actor& actor,
                                        std::string_view reason) {
  {
    auto db = pool_.Acquire();
    MOAT_TRY(SessionView session, GetSessionView(*db, id));
    auto state = *db::ParseSessionState(session.state);
    if (db::IsTerminal(state)) {
      return Fail(db::Conflict("session '" + session.id + "' has already " +
                               (state == SessionState::kEnded ? "ended" : "failed")));
    }
    if (state != SessionState::kEnding) {
      MOAT_TRY_VOID(
          Transition(*db, session.id, SessionState::kEnding, actor, Detail("reason", reason)));
    }
  }
  return FinishEnd(id, actor);
}

// From 'ending': the agent ends the wall, then the row ends. An unreachable agent leaves the
// session 'ending'; reconciliation finishes it when the agent is back.
Result<SessionView> SessionService::FinishEnd(std::string_view id, const db::Actor& actor) {
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, GetSessionView(*db, id));
  if (session.host_id) {
    auto reply = AgentCall(*session.host_id, wire::MakeMessage(wire::SessionAction{
                                                 session.id, wire::SessionActionKind::kEnd}));
    if (!reply && reply.error().code() != std::errc::no_such_file_or_directory) {
      return Fail(std::move(reply).error().Wrap("end session '" + session.id +
                                                "' (it stays 'ending' until its host answers)"));
    }
  }
  return Transition(*db, session.id, SessionState::kEnded, actor);
}

Result<wire::Json> SessionService::LaunchApp(std::string_view id, const AppLaunchRequest& app,
                                             const db::Actor& actor) {
  if (app.argv.empty() || app.argv.front().empty()) {
    return Fail(InvalidArgument("'argv' needs at least the program to run"));
  }
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, LiveSessionOnHost(*db, id));
  if (session.state == "suspended" || session.state == "starting") {
    return Fail(db::Conflict("session '" + session.id + "' is " + session.state +
                             "; applications start in active or disconnected sessions"));
  }
  wire::Json body{{"session_id", session.id}, {"argv", app.argv}, {"env", app.env}};
  if (app.cwd) body["cwd"] = *app.cwd;
  if (app.cpu_percent) body["app_cpu_percent"] = *app.cpu_percent;
  wire::Envelope request{"app.launch", wire::NewMessageId(), std::nullopt, std::move(body),
                         std::nullopt};
  MOAT_TRY(wire::Json reply, AgentCall(*session.host_id, request));
  db::NewApp record{
      .session_id = session.id, .name = app.argv.front(), .argv = wire::Json(app.argv).dump()};
  if (reply.contains("pid") && reply["pid"].is_number_integer()) {
    record.pid = reply["pid"].get<std::int64_t>();
  }
  if (reply.contains("app") && reply["app"].is_string()) record.cgroup = reply["app"];
  MOAT_TRY(db::App stored, db::AppStore(*db).Start(record, actor));
  reply["id"] = stored.id;
  return reply;
}

Result<wire::Json> SessionService::SendMessage(std::string_view id, const std::string& text,
                                               const db::Actor& actor) {
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, LiveSessionOnHost(*db, id));
  if (session.state != "active" && session.state != "disconnected") {
    return Fail(db::Conflict("session '" + session.id + "' is " + session.state +
                             "; messages go to active or disconnected sessions"));
  }
  // Every desktop's X server is display :1 inside its own wall (desktop_launcher.cc).
  wire::Json body{{"session_id", session.id},
                  {"argv",
                   {"xmessage", "-center", "-title", "Message from your administrator", "-buttons",
                    "OK:0", text}},
                  {"env", {"DISPLAY=:1"}}};
  wire::Envelope request{"app.launch", wire::NewMessageId(), std::nullopt, std::move(body),
                         std::nullopt};
  MOAT_TRY(wire::Json reply, AgentCall(*session.host_id, request));
  MOAT_TRY_VOID(db::RecordEvent(
      *db, {.session_id = session.id, .actor = actor, .kind = "session.message", .new_value = text},
      db::SystemClock()()));
  return reply;
}

Result<wire::Json> SessionService::Processes(std::string_view id) {
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, LiveSessionOnHost(*db, id));
  wire::Envelope request{"app.ps", wire::NewMessageId(), std::nullopt,
                         wire::Json{{"session_id", session.id}}, std::nullopt};
  return AgentCall(*session.host_id, request);
}

Result<wire::Json> SessionService::Kill(std::string_view id, std::int64_t pid, int signal,
                                        const db::Actor& actor) {
  if (pid < 1) return Fail(InvalidArgument("pid must be a positive number"));
  if (signal < 1 || signal > 64) {
    return Fail(InvalidArgument("signal must be 1 to 64, not " + std::to_string(signal)));
  }
  auto db = pool_.Acquire();
  MOAT_TRY(SessionView session, LiveSessionOnHost(*db, id));
  wire::Envelope request{"app.kill", wire::NewMessageId(), std::nullopt,
                         wire::Json{{"session_id", session.id}, {"pid", pid}, {"signal", signal}},
                         std::nullopt};
  MOAT_TRY(wire::Json reply, AgentCall(*session.host_id, request));
  wire::Json detail{{"pid", pid}, {"signal", signal}};
  MOAT_TRY_VOID(db::RecordEvent(*db,
                                {.session_id = session.id,
                                 .actor = actor,
                                 .kind = "app.kill",
                                 .new_value = std::to_string(pid),
                                 .detail = detail.dump()},
                                db::SystemClock()()));
  return reply;
}

std::shared_ptr<const SessionService::UsageJson> SessionService::LatestUsageJson() const {
  std::lock_guard lock(mutex_);
  return latest_usage_json_;
}

std::optional<wire::UsageSample> SessionService::LatestUsage(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = latest_usage_.find(id);
  if (it == latest_usage_.end()) return std::nullopt;
  return it->second;
}

}  // namespace moat::broker
