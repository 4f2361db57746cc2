// The control plane's answers to the display gateway (display::DisplayBackend): logins checked
// like the API's, the session a login reaches (the owner's disconnected or connected desktop, or
// a new one), and every connection, takeover and shadow in the session database. It also
// keeps the gateway in step with state changes made elsewhere: a session disconnected through
// the API loses its owner's client, an ended one loses every client.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "auth/login.h"
#include "broker/desktop_tunnels.h"
#include "broker/metrics.h"
#include "broker/session_service.h"
#include "db/connection_pool.h"
#include "display/display_backend.h"
#include "display/display_gateway.h"

namespace moat::broker {

struct DisplayServiceOptions {
  std::string local_host_name;          // sessions on this host have reachable sockets
  std::filesystem::path agent_run_dir;  // the local agent's run directory
};

class DisplayService : public display::DisplayBackend {
 public:
  DisplayService(db::ConnectionPool& pool, SessionService& sessions, DesktopTunnels& tunnels,
                 Metrics& metrics, auth::PamCheck pam, DisplayServiceOptions options)
      : pool_(pool),
        sessions_(sessions),
        tunnels_(tunnels),
        metrics_(metrics),
        pam_(std::move(pam)),
        options_(std::move(options)) {}

  Result<std::string> CheckPassword(std::string_view user, std::string_view password,
                                    std::string_view address) override;
  Result<display::DisplayTarget> Open(const display::DisplayRequest& request) override;
  void Connected(const display::DisplayTarget& target,
                 const display::ConnectionInfo& client) override;
  void LeftBeforeShown(const display::DisplayTarget& target, const display::ConnectionInfo& client,
                       bool last) override;
  void Disconnected(const display::DisplayTarget& target, const display::ConnectionInfo& client,
                    std::string_view reason, bool last) override;
  void TakenOver(const display::DisplayTarget& target, const display::ConnectionInfo& old_client,
                 const display::ConnectionInfo& new_client) override;
  void Input(const std::string& session_id) override;

  // The RFB socket of a session on this host.
  std::filesystem::path SocketOf(const std::string& session_id) const;

 private:
  Result<display::DisplayTarget> Target(const SessionView& session, const db::User& viewer,
                                        bool shadow, bool started) const;
  // The desktop of a session on another host, through its agent's tunnel.
  Result<UniqueFd> RemoteDesktop(const SessionView& session) const;
  void Record(const display::DisplayTarget& target, std::string kind,
              const display::ConnectionInfo& client, std::string extra_key = "",
              std::string extra_value = "");
  // The owner has no client left: the session becomes disconnected.
  void DisconnectSession(const display::DisplayTarget& target);

  db::ConnectionPool& pool_;
  SessionService& sessions_;
  DesktopTunnels& tunnels_;
  Metrics& metrics_;
  auth::PamCheck pam_;
  DisplayServiceOptions options_;
};

}  // namespace moat::broker
