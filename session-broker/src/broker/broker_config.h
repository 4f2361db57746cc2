// moat-broker's options: a TOML file (/etc/moat/moat.toml by default) with every key
// overridable by a flag of the same dotted name (`--listen.port 9443`). A bad file or flag is
// refused with the key, its position and the reason; nothing starts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "moat/common/error.h"

namespace moat::broker {

struct BrokerConfig {
  std::filesystem::path config_file;  // the file read, or empty when none was

  // [listen] the HTTPS/WSS API, the web login and /metrics.
  std::string listen_address = "0.0.0.0";
  uint16_t listen_port = 8443;
  int http_threads = 4;    // handlers block on the database and on agents
  std::string public_url;  // how users reach the broker; empty: https://<hostname>:<port>

  // [agents] the agent link: WSS with mutual TLS.
  std::string agent_address = "0.0.0.0";
  uint16_t agent_port = 8444;
  int64_t agent_request_timeout_s = 60;

  // [state]
  std::filesystem::path state_dir = "/var/lib/moat";
  std::filesystem::path database;  // empty: <state_dir>/moat.db

  // [tls] the server certificate; absent: issued by the broker's own CA under state_dir/tls.
  std::optional<std::filesystem::path> tls_cert, tls_key;
  std::vector<std::string>
      tls_names;  // SANs of an issued certificate; empty: hostname, localhost, 127.0.0.1, ::1

  // [auth]
  bool pam = true;
  std::string pam_service = "moat";
  int64_t token_ttl_s = 12 * 3600;
  std::string admin_user = "admin";  // created on first start with a random password

  // [usage]
  int64_t usage_raw_retention_s = 24 * 3600;
  int64_t usage_minute_retention_s = 90 * 24 * 3600;

  // [local_agent] the agent the broker starts and supervises on its own host.
  bool local_agent = true;
  std::filesystem::path agent_binary;  // empty: moat-agent beside moat-broker
  std::string local_host_name;         // empty: the machine's hostname
  std::filesystem::path agent_run_dir = "/run/moat";
  std::string agent_cgroup_parent = "moat";
  int64_t local_capacity = 50;
  // Its desktops: what runs when a user has no ~/.config/moat/session, and the window manager.
  std::string desktop_startup = "xterm";
  std::string window_manager = "openbox";

  // [display] the display gateway for native VNC viewers (VeNCrypt: TLS, then username and
  // password); browsers reach desktops through the API port.
  bool display_enabled = true;
  std::string display_address = "0.0.0.0";
  uint16_t display_port = 5900;
  bool display_takeover = true;  // a second login takes a connected desktop over
  // Desktops in the browser: the web login page runs noVNC, served at /novnc/ from here.
  std::filesystem::path novnc_dir = "/usr/share/novnc";  // Debian's novnc package

  // [log]
  std::string log_level = "info";

  std::filesystem::path DatabasePath() const {
    return database.empty() ? state_dir / "moat.db" : database;
  }
};

// Reads `--config FILE` (default /etc/moat/moat.toml, which may be absent) and applies every
// other `--key value` or `--key=value` flag over it. `--help` is handled by the caller.
Result<BrokerConfig> LoadBrokerConfig(const std::vector<std::string>& args);

extern const char* const kBrokerUsage;

}  // namespace moat::broker
