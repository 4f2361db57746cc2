#include "message_handler.h"

#include <unistd.h>

#include <algorithm>

#include "limits_conversion.h"

namespace moat::agent {
namespace {

Error NotFound(const std::string& session) {
  return Error(std::make_error_code(std::errc::no_such_file_or_directory),
               "no session '" + session + "' on this host");
}

Error Conflict(std::string message) {
  return Error(std::make_error_code(std::errc::file_exists), std::move(message));
}

std::string_view ActionName(wire::SessionActionKind action) {
  switch (action) {
    case wire::SessionActionKind::kSuspend:
      return "suspend";
    case wire::SessionActionKind::kResume:
      return "resume";
    case wire::SessionActionKind::kEnd:
      return "end";
  }
  return "unknown";
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

}  // namespace

std::string WireErrorCode(const Error& error) {
  const std::error_code& code = error.code();
  // A limit the host cannot carry (one application's io in a VM, per-app io on v1) is the
  // request's to change, not a failure of the host.
  if (code == std::errc::invalid_argument || code == std::errc::protocol_not_supported ||
      code == std::errc::message_size || code == std::errc::not_supported) {
    return "invalid_argument";
  }
  if (code == std::errc::no_such_file_or_directory || code == std::errc::no_such_process) {
    return "not_found";
  }
  if (code == std::errc::file_exists || code == std::errc::device_or_resource_busy) {
    return "conflict";
  }
  return "internal";
}

MessageHandler::MessageHandler(Backend& backend, HandlerOptions options)
    : backend_(backend), options_(std::move(options)) {
  if (options_.host_name.empty()) options_.host_name = HostName();
}

Result<wire::Envelope> MessageHandler::Handle(const wire::Envelope& request) {
  if (request.re || request.error) {
    return Fail(InvalidArgument("'" + request.type + "' message '" + request.id +
                                "' is a reply, not a request: not answered"));
  }
  Result<wire::Json> body = Fail(InvalidArgument("unknown message type '" + request.type + "'"));
  if (request.type == wire::SessionCreate::kType) {
    body = OnCreate(request);
  } else if (request.type == wire::SessionSetLimits::kType) {
    body = OnSetLimits(request);
  } else if (request.type == wire::SessionAction::kType) {
    body = OnAction(request);
  } else if (request.type == wire::AppLaunch::kType) {
    body = OnAppLaunch(request);
  } else if (request.type == wire::AppPs::kType) {
    body = OnAppPs(request);
  } else if (request.type == wire::AppKill::kType) {
    body = OnAppKill(request);
  } else if (request.type == wire::SessionGetLimits::kType) {
    body = OnGetLimits(request);
  } else if (request.type == "display.open") {
    body = OnDisplayOpen(request);
  }
  if (!body)
    return wire::MakeErrorReply(request, WireErrorCode(body.error()), body.error().message());
  return wire::MakeReply(request, std::move(*body));
}

// The broker's gateway wants this host's desktop of a session: the tunnel connects to the
// session's RFB socket now and back to the broker in a thread of its own.
Result<wire::Json> MessageHandler::OnDisplayOpen(const wire::Envelope& request) {
  if (!open_display_) return Fail(Conflict("this agent has no link to open a display tunnel on"));
  const wire::Json& body = request.body;
  if (!body.is_object() || !body.contains("session_id") || !body["session_id"].is_string() ||
      !body.contains("ticket") || !body["ticket"].is_string() ||
      body["ticket"].get<std::string>().size() != 64) {
    return Fail(InvalidArgument("display.open needs {\"session_id\", \"ticket\" (64 hex)}"));
  }
  std::string session = body["session_id"];
  MOAT_TRY(auto sessions, backend_.List());
  auto it = std::find_if(sessions.begin(), sessions.end(),
                         [&](const BackendSession& s) { return s.session_id == session; });
  if (it == sessions.end()) return Fail(NotFound(session));
  if (!it->running) return Fail(Conflict("session '" + session + "' has ended"));
  if (it->rfb_socket.empty()) return Fail(Conflict("session '" + session + "' has no desktop"));
  MOAT_TRY_VOID(open_display_(it->rfb_socket, body["ticket"].get<std::string>()));
  return wire::Json{{"session_id", session}};
}

// A running session of this backend, or the reason it is not one.
Status MessageHandler::CheckSessionRuns(const std::string& session) const {
  MOAT_TRY(auto sessions, backend_.List());
  auto it = std::find_if(sessions.begin(), sessions.end(),
                         [&](const BackendSession& s) { return s.session_id == session; });
  if (it == sessions.end()) return Fail(NotFound(session));
  if (!it->running) return Fail(Conflict("session '" + session + "' has ended"));
  return {};
}

Result<wire::Json> MessageHandler::OnCreate(const wire::Envelope& request) {
  MOAT_TRY(auto spec, wire::DecodeBody<wire::SessionCreate>(request));
  MOAT_TRY_VOID(backend_.Supports(spec.backend));
  if (options_.max_sessions != 0) {
    MOAT_TRY(auto sessions, backend_.List());
    if (sessions.size() >= options_.max_sessions) {
      return Fail(Conflict("this host runs its maximum of " +
                           std::to_string(options_.max_sessions) + " sessions"));
    }
  }
  MOAT_TRY_CTX(auto session, backend_.Create(spec), "create session '" + spec.session_id + "'");
  wire::Json reply{{"session_id", session.session_id},
                   {"backend", std::string(wire::BackendName(spec.backend))},
                   {"state", "running"}};
  // Where the display gateway relays the user's RFB stream to (a path on this host).
  if (!session.rfb_socket.empty()) reply["rfb_socket"] = session.rfb_socket;
  return reply;
}

Result<wire::Json> MessageHandler::OnSetLimits(const wire::Envelope& request) {
  MOAT_TRY(auto change, wire::DecodeBody<wire::SessionSetLimits>(request));
  MOAT_TRY_VOID(CheckSessionRuns(change.session_id));
  const std::string context = "set limits of session '" + change.session_id + "'";
  MOAT_TRY_VOID_CTX(backend_.SetLimits(change.session_id, "", change.limits), context);
  // Like `moat-sandbox set`: the values in force, read back from the kernel.
  MOAT_TRY_CTX(auto effective, backend_.ReadLimits(change.session_id, ""), context);
  return wire::Json{{"session_id", change.session_id}, {"limits", wire::ToJson(effective)}};
}

Result<wire::Json> MessageHandler::OnAction(const wire::Envelope& request) {
  MOAT_TRY(auto action, wire::DecodeBody<wire::SessionAction>(request));
  const std::string& id = action.session_id;
  const std::string context = std::string(ActionName(action.action)) + " session '" + id + "'";
  if (action.action == wire::SessionActionKind::kEnd) {
    // Ending also cleans up a session that ended by itself, so it does not require "running".
    MOAT_TRY(auto sessions, backend_.List());
    if (std::none_of(sessions.begin(), sessions.end(),
                     [&](const BackendSession& s) { return s.session_id == id; })) {
      return Fail(NotFound(id));
    }
    MOAT_TRY_VOID_CTX(backend_.End(id, options_.end_grace), context);
    return wire::Json{{"session_id", id}, {"state", "ended"}};
  }
  MOAT_TRY_VOID(CheckSessionRuns(id));
  if (action.action == wire::SessionActionKind::kSuspend) {
    MOAT_TRY_VOID_CTX(backend_.Freeze(id), context);
    return wire::Json{{"session_id", id}, {"state", "suspended"}};
  }
  MOAT_TRY_VOID_CTX(backend_.Thaw(id), context);
  return wire::Json{{"session_id", id}, {"state", "running"}};
}

Result<wire::Json> MessageHandler::OnAppLaunch(const wire::Envelope& request) {
  MOAT_TRY(auto launch, wire::DecodeBody<wire::AppLaunch>(request));
  const std::string& id = launch.session_id;
  MOAT_TRY_VOID(CheckSessionRuns(id));
  // moat-init is frozen with the session and could not answer.
  if (auto usage = backend_.Usage(id, ""); usage && usage->frozen) {
    return Fail(Conflict("session '" + id + "' is suspended: resume it first"));
  }
  AppLaunch app;
  app.argv = std::move(launch.argv);
  app.env = std::move(launch.env);
  app.cwd = launch.cwd.value_or("");
  app.limits.cpu_percent = launch.app_cpu_percent;
  const std::string context = "launch '" + app.argv[0] + "' in session '" + id + "'";
  MOAT_TRY_CTX(auto launched, backend_.Launch(id, app), context);
  return wire::ToJson(
      wire::AppLaunched{id, static_cast<uint64_t>(launched.pid), std::move(launched.app)});
}

Result<wire::Json> MessageHandler::OnAppPs(const wire::Envelope& request) {
  MOAT_TRY(auto ps, wire::DecodeBody<wire::AppPs>(request));
  MOAT_TRY_VOID(CheckSessionRuns(ps.session_id));
  MOAT_TRY_CTX(auto processes, backend_.Processes(ps.session_id),
               "list processes of session '" + ps.session_id + "'");
  return wire::ToJson(wire::ProcessList{ps.session_id, std::move(processes)});
}

Result<wire::Json> MessageHandler::OnAppKill(const wire::Envelope& request) {
  MOAT_TRY(auto kill, wire::DecodeBody<wire::AppKill>(request));
  if (kill.pid == 1) {
    return Fail(InvalidArgument(
        "pid 1 is the session's moat-init: end the session with session.action \"end\""));
  }
  MOAT_TRY_VOID(CheckSessionRuns(kill.session_id));
  MOAT_TRY_VOID_CTX(backend_.Signal(kill.session_id, static_cast<pid_t>(kill.pid), kill.signal),
                    "signal " + std::to_string(kill.signal) + " to process " +
                        std::to_string(kill.pid) + " of session '" + kill.session_id + "'");
  return wire::ToJson(wire::AppKilled{kill.session_id, kill.pid});
}

Result<wire::Json> MessageHandler::OnGetLimits(const wire::Envelope& request) {
  MOAT_TRY(auto get, wire::DecodeBody<wire::SessionGetLimits>(request));
  MOAT_TRY_VOID(CheckSessionRuns(get.session_id));
  MOAT_TRY_CTX(auto limits, backend_.ReadLimits(get.session_id, get.app.value_or("")),
               "read limits of session '" + get.session_id + "'");
  return wire::ToJson(wire::SessionLimitsReport{get.session_id, get.app, std::move(limits)});
}

wire::HostHello MessageHandler::MakeHello() const {
  wire::HostHello hello;
  hello.agent_version = options_.agent_version;
  hello.host_name = options_.host_name;
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGESIZE);
  hello.capacity.cpus = cpus > 0 ? static_cast<uint64_t>(cpus) : 0;
  hello.capacity.memory_bytes =
      pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size)
                                 : 0;
  hello.capacity.max_sessions = options_.max_sessions;
  for (auto kind : {wire::Backend::kSandbox, wire::Backend::kVm}) {
    if (backend_.Supports(kind)) hello.backends.push_back(kind);
  }
  for (const auto& session : backend_.List().value_or(std::vector<BackendSession>{})) {
    if (!session.running) continue;  // ended by itself: the agent's loop cleans it up
    wire::RunningSession running;
    running.session_id = session.session_id;
    running.user = session.user;
    running.backend = session.backend;
    auto usage = backend_.Usage(session.session_id, "");
    running.state =
        usage && usage->frozen ? wire::RunningState::kSuspended : wire::RunningState::kRunning;
    hello.sessions.push_back(std::move(running));
  }
  return hello;
}

}  // namespace moat::agent
