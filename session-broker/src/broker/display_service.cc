#include "broker/display_service.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "broker/system_groups.h"
#include "db/audit.h"
#include "db/clock.h"
#include "db/user_store.h"
#include "display/stream_bridge.h"
#include "moat/common/log.h"
#include "moat/common/vm_display.h"

namespace moat::broker {
namespace {

bool IsDesktopState(const std::string& state) {
  return state == "active" || state == "disconnected";
}

bool MayWatchOthers(const db::User& user) {
  return user.role == db::Role::kAdmin || user.role == db::Role::kOperator;
}

}  // namespace

Result<std::string> DisplayService::CheckPassword(std::string_view user, std::string_view password,
                                                  std::string_view address) {
  auto db = pool_.Acquire();
  auth::Login login(*db, db::SystemClock(), pam_);
  MOAT_TRY(db::User checked, login.Verify({.user = std::string(user),
                                           .password = std::string(password),
                                           .address = std::string(address)}));
  return checked.name;
}

std::filesystem::path DisplayService::SocketOf(const std::string& session_id) const {
  return options_.agent_run_dir / "sessions" / session_id / "display" / "rfb.sock";
}

Result<display::DisplayTarget> DisplayService::Target(const SessionView& session,
                                                      const db::User& viewer, bool shadow,
                                                      bool started) const {
  if (!IsDesktopState(session.state)) {
    return Fail(db::Conflict("session '" + session.id + "' is " + session.state +
                             "; only an active or disconnected desktop can be shown"));
  }
  std::filesystem::path socket;
  std::shared_ptr<UniqueFd> tunnel;
  if (session.host.value_or("") == options_.local_host_name) {
    socket = SocketOf(session.id);
    struct stat info {};
    if (::lstat(socket.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) {
      return Fail(
          db::Conflict("session '" + session.id + "' has no desktop (started without one)"));
    }
  } else {
    // Another host's desktop: its agent opens a tunnel back to this broker.
    MOAT_TRY(UniqueFd connected, RemoteDesktop(session));
    tunnel = std::make_shared<UniqueFd>(std::move(connected));
    socket = "host '" + session.host.value_or("?") + "', session '" + session.id + "'";
  }
  auto db = pool_.Acquire();
  MOAT_TRY(db::EffectivePolicy policy, EffectivePolicyOf(*db, session.user));
  return display::DisplayTarget{.session_id = session.id,
                                .owner = session.user,
                                .viewer = viewer.name,
                                .socket = std::move(socket),
                                .tunnel = std::move(tunnel),
                                .shadow = shadow,
                                .started = started,
                                .takeover = policy.display_takeover,
                                // One port per viewer in a VM (docs/vm.md): the gateway
                                // refuses a watcher that would wait for a free one.
                                .max_watchers = session.backend == "vm" ? kVmDisplayWatchers : 0};
}

Result<display::DisplayTarget> DisplayService::Open(const display::DisplayRequest& request) {
  auto db = pool_.Acquire();
  MOAT_TRY(db::User viewer, db::UserStore(*db).Get(request.user));
  if (viewer.disabled) return Fail(db::Forbidden("user '" + viewer.name + "' is disabled"));
  // Auditors are read-only: no desktop of their own, no control of anyone's. Watching is for
  // admins and operators (MayWatchOthers), so an auditor's login reaches nothing.
  if (viewer.role == db::Role::kAuditor) {
    return Fail(
        db::Forbidden("user '" + viewer.name +
                      "' is an auditor; auditors are read-only and may not use, start or watch "
                      "desktops"));
  }

  if (request.session_id) {
    auto session = GetSessionView(*db, *request.session_id);
    bool own = session && session->user == viewer.name;
    if (request.shadow) {
      if (!MayWatchOthers(viewer)) {
        return Fail(db::Forbidden("user '" + viewer.name +
                                  "' may not watch sessions (admins and operators may)"));
      }
      if (!session) return Fail(session.error());
      return Target(*session, viewer, /*shadow=*/true, false);
    }
    // Someone else's session is as absent as a missing one, as in the API.
    if (!session || !own) {
      return Fail(
          db::NotFound("no session '" + *request.session_id + "' of user '" + viewer.name + "'"));
    }
    return Target(*session, viewer, false, false);
  }
  if (request.shadow) return Fail(InvalidArgument("watching needs a session id"));

  // The user's own desktop: a disconnected one first, then a connected one (taken over), else
  // a new one.
  for (const char* state : {"disconnected", "active"}) {
    MOAT_TRY(auto sessions,
             ListSessionViews(*db, {.user = viewer.name, .state = state, .limit = 20}));
    for (const SessionView& session : sessions) {
      if (auto target = Target(session, viewer, false, false)) return target;
    }
  }
  MOAT_TRY(CreatedSession created,
           sessions_.Create({.user = viewer.name, .desktop = true}, db::Actor::User(viewer.id)));
  return Target(created.session, viewer, false, !created.reconnected);
}

Result<UniqueFd> DisplayService::RemoteDesktop(const SessionView& session) const {
  if (!session.host_id) return Fail(db::Conflict("session '" + session.id + "' has no host"));
  MOAT_TRY(std::string ticket, tunnels_.NewTicket(*session.host_id));
  if (auto asked = sessions_.OpenDisplayTunnel(session.id, ticket); !asked) {
    (void)tunnels_.Await(ticket, std::chrono::milliseconds(0));  // forgets the ticket
    return Fail(asked.error());
  }
  MOAT_TRY(auto stream, tunnels_.Await(ticket, std::chrono::seconds(10)));
  return display::BridgeToSocket(std::move(stream));
}

void DisplayService::Record(const display::DisplayTarget& target, std::string kind,
                            const display::ConnectionInfo& client, std::string extra_key,
                            std::string extra_value) {
  auto db = pool_.Acquire();
  auto viewer = db::UserStore(*db).Get(target.viewer);
  nlohmann::json detail{{"via", display::ViaName(client.via)}, {"peer", client.peer}};
  if (!extra_key.empty()) detail[extra_key] = extra_value;
  auto recorded =
      db::RecordEvent(*db,
                      {.session_id = target.session_id,
                       .actor = viewer ? db::Actor::User(viewer->id) : db::Actor::System(),
                       .kind = std::move(kind),
                       .new_value = target.viewer,
                       .detail = detail.dump()},
                      db::SystemClock()());
  if (!recorded) {
    log::Warning("display audit failed",
                 {{"session", target.session_id}, {"error", recorded.error().message()}});
  }
}

void DisplayService::Connected(const display::DisplayTarget& target,
                               const display::ConnectionInfo& client) {
  metrics_.RecordDisplayClient(client.via == display::Via::kWeb, +1);
  Record(target, target.shadow ? "display.shadow_started" : "display.connected", client);
  if (target.shadow) {
    // The owner sees that someone watches: a note on the desktop itself, which both native
    // and browser clients show.
    auto shown = sessions_.SendMessage(
        target.session_id,
        "Moat: " + target.viewer + " is viewing this desktop (read-only), from " + client.peer,
        db::Actor::System());
    if (!shown) {
      log::Warning("could not tell the user of a viewer",
                   {{"session", target.session_id}, {"error", shown.error().message()}});
    }
    return;
  }
  nlohmann::json detail{
      {"reason", "reconnect"}, {"via", display::ViaName(client.via)}, {"peer", client.peer}};
  auto db = pool_.Acquire();
  auto viewer = db::UserStore(*db).Get(target.viewer);
  db::Actor actor = viewer ? db::Actor::User(viewer->id) : db::Actor::System();
  if (auto back = sessions_.Reconnect(target.session_id, actor, detail.dump()); !back) {
    log::Warning("reconnect not recorded",
                 {{"session", target.session_id}, {"error", back.error().message()}});
  }
  (void)sessions_.NoteInput(target.session_id);  // a login is activity
}

void DisplayService::Disconnected(const display::DisplayTarget& target,
                                  const display::ConnectionInfo& client, std::string_view reason,
                                  bool last) {
  metrics_.RecordDisplayClient(client.via == display::Via::kWeb, -1);
  Record(target, target.shadow ? "display.shadow_ended" : "display.disconnected", client, "reason",
         std::string(reason));
  if (target.shadow || !last) return;
  DisconnectSession(target);
}

void DisplayService::LeftBeforeShown(const display::DisplayTarget& target,
                                     const display::ConnectionInfo& client, bool last) {
  Record(target, "display.left_before_shown", client);
  if (!target.shadow && last) DisconnectSession(target);
}

void DisplayService::DisconnectSession(const display::DisplayTarget& target) {
  auto db = pool_.Acquire();
  auto viewer = db::UserStore(*db).Get(target.viewer);
  db::Actor actor = viewer ? db::Actor::User(viewer->id) : db::Actor::System();
  // Already disconnected, ended or failed: nothing to change.
  (void)sessions_.Disconnect(target.session_id, actor);
}

void DisplayService::TakenOver(const display::DisplayTarget& target,
                               const display::ConnectionInfo& old_client,
                               const display::ConnectionInfo& new_client) {
  Record(target, "display.takeover", new_client, "previous_peer", old_client.peer);
}

void DisplayService::Input(const std::string& session_id) {
  if (auto noted = sessions_.NoteInput(session_id); !noted) {
    log::Debug("input not noted", {{"session", session_id}, {"error", noted.error().message()}});
  }
}

}  // namespace moat::broker
