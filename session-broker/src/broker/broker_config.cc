#include "broker/broker_config.h"

#include <unistd.h>

#include <array>
#include <string_view>

#include "moat/common/config/toml.h"

namespace moat::broker {
namespace {

using config::GetBool;
using config::GetInteger;
using config::GetIntegerInRange;
using config::GetString;
using config::GetStringArray;

constexpr std::string_view kDefaultConfig = "/etc/moat/moat.toml";

// Every key, as [section].key; the flag is --section.key.
constexpr std::array<std::string_view, 31> kKeys = {"listen.address",
                                                    "listen.port",
                                                    "listen.threads",
                                                    "listen.public_url",
                                                    "agents.address",
                                                    "agents.port",
                                                    "agents.request_timeout_s",
                                                    "state.dir",
                                                    "state.database",
                                                    "tls.cert",
                                                    "tls.key",
                                                    "tls.names",
                                                    "auth.pam",
                                                    "auth.pam_service",
                                                    "auth.token_ttl_s",
                                                    "auth.admin_user",
                                                    "usage.raw_retention_s",
                                                    "usage.minute_retention_s",
                                                    "local_agent.enabled",
                                                    "local_agent.binary",
                                                    "local_agent.host_name",
                                                    "local_agent.run_dir",
                                                    "local_agent.cgroup_parent",
                                                    "local_agent.capacity",
                                                    "local_agent.desktop_startup",
                                                    "local_agent.window_manager",
                                                    "display.enabled",
                                                    "display.address",
                                                    "display.port",
                                                    "display.takeover",
                                                    "display.novnc_dir"};
constexpr std::array<std::string_view, 1> kExtraKeys = {"log.level"};

bool IsKnownKey(std::string_view key) {
  for (auto known : kKeys) {
    if (known == key) return true;
  }
  return key == kExtraKeys[0];
}

Status RejectUnknown(const toml::table& root) {
  std::vector<std::string_view> sections = {"listen", "agents",      "state", "tls",    "auth",
                                            "usage",  "local_agent", "log",   "display"};
  MOAT_TRY_VOID(config::RejectUnknownKeys(root, sections));
  for (auto section : sections) {
    MOAT_TRY(auto table, config::GetTable(root, section));
    if (!table) continue;
    std::vector<std::string_view> known;
    std::vector<std::string> storage;
    for (auto key : kKeys) {
      if (key.starts_with(std::string(section) + "."))
        known.push_back(key.substr(section.size() + 1));
    }
    if (section == "log") known.push_back("level");
    MOAT_TRY_VOID(config::RejectUnknownKeys(**table, known, section));
  }
  return {};
}

// A flag's value as a TOML value: `9443` an integer, `false` a bool, `["a","b"]` an array;
// anything that does not parse as TOML is a string.
Status SetFromFlag(toml::table& root, std::string_view key, std::string_view value) {
  if (!IsKnownKey(key)) {
    return Fail(InvalidArgument("unknown option '--" + std::string(key) + "' (see --help)"));
  }
  auto dot = key.find('.');
  std::string section(key.substr(0, dot)), name(key.substr(dot + 1));
  toml::table* table = root[section].as_table();
  if (table == nullptr) {
    root.insert_or_assign(section, toml::table{});
    table = root[section].as_table();
  }
  auto parsed = config::ParseToml("v = " + std::string(value), "--" + std::string(key));
  if (parsed && parsed->get("v") != nullptr) {
    table->insert_or_assign(name, *parsed->get("v"));
  } else {
    table->insert_or_assign(name, std::string(value));
  }
  return {};
}

template <typename T, typename Getter>
Status Read(const toml::table& root, std::string_view key, T& out, Getter get) {
  MOAT_TRY(auto value, get(root, key));
  if (value) out = static_cast<T>(*value);
  return {};
}

Status ReadPath(const toml::table& root, std::string_view key, std::filesystem::path& out) {
  MOAT_TRY(auto value, GetString(root, key));
  if (value) out = *value;
  return {};
}

Status ReadOptionalPath(const toml::table& root, std::string_view key,
                        std::optional<std::filesystem::path>& out) {
  MOAT_TRY(auto value, GetString(root, key));
  if (value) out = *value;
  return {};
}

auto Range(int64_t min, int64_t max) {
  return [min, max](const toml::table& t, std::string_view key) {
    return GetIntegerInRange(t, key, min, max);
  };
}

Status Apply(const toml::table& root, BrokerConfig& c) {
  MOAT_TRY_VOID(RejectUnknown(root));
  MOAT_TRY_VOID(Read(root, "listen.address", c.listen_address, GetString));
  MOAT_TRY_VOID(Read(root, "listen.port", c.listen_port, Range(0, 65535)));
  MOAT_TRY_VOID(Read(root, "listen.threads", c.http_threads, Range(1, 64)));
  MOAT_TRY_VOID(Read(root, "listen.public_url", c.public_url, GetString));
  MOAT_TRY_VOID(Read(root, "agents.address", c.agent_address, GetString));
  MOAT_TRY_VOID(Read(root, "agents.port", c.agent_port, Range(0, 65535)));
  MOAT_TRY_VOID(Read(root, "agents.request_timeout_s", c.agent_request_timeout_s, Range(1, 3600)));
  MOAT_TRY_VOID(ReadPath(root, "state.dir", c.state_dir));
  MOAT_TRY_VOID(ReadPath(root, "state.database", c.database));
  MOAT_TRY_VOID(ReadOptionalPath(root, "tls.cert", c.tls_cert));
  MOAT_TRY_VOID(ReadOptionalPath(root, "tls.key", c.tls_key));
  MOAT_TRY_VOID(Read(root, "tls.names", c.tls_names, GetStringArray));
  MOAT_TRY_VOID(Read(root, "auth.pam", c.pam, GetBool));
  MOAT_TRY_VOID(Read(root, "auth.pam_service", c.pam_service, GetString));
  MOAT_TRY_VOID(Read(root, "auth.token_ttl_s", c.token_ttl_s, Range(60, 366 * 24 * 3600)));
  MOAT_TRY_VOID(Read(root, "auth.admin_user", c.admin_user, GetString));
  MOAT_TRY_VOID(
      Read(root, "usage.raw_retention_s", c.usage_raw_retention_s, Range(60, 3660 * 24 * 3600)));
  MOAT_TRY_VOID(Read(root, "usage.minute_retention_s", c.usage_minute_retention_s,
                     Range(3600, 3660 * 24 * 3600)));
  MOAT_TRY_VOID(Read(root, "local_agent.enabled", c.local_agent, GetBool));
  MOAT_TRY_VOID(ReadPath(root, "local_agent.binary", c.agent_binary));
  MOAT_TRY_VOID(Read(root, "local_agent.host_name", c.local_host_name, GetString));
  MOAT_TRY_VOID(ReadPath(root, "local_agent.run_dir", c.agent_run_dir));
  MOAT_TRY_VOID(Read(root, "local_agent.cgroup_parent", c.agent_cgroup_parent, GetString));
  MOAT_TRY_VOID(Read(root, "local_agent.capacity", c.local_capacity, Range(0, 100000)));
  MOAT_TRY_VOID(Read(root, "local_agent.desktop_startup", c.desktop_startup, GetString));
  MOAT_TRY_VOID(Read(root, "local_agent.window_manager", c.window_manager, GetString));
  MOAT_TRY_VOID(Read(root, "log.level", c.log_level, GetString));
  MOAT_TRY_VOID(Read(root, "display.enabled", c.display_enabled, GetBool));
  MOAT_TRY_VOID(Read(root, "display.address", c.display_address, GetString));
  MOAT_TRY_VOID(Read(root, "display.port", c.display_port, Range(0, 65535)));
  MOAT_TRY_VOID(Read(root, "display.takeover", c.display_takeover, GetBool));
  MOAT_TRY_VOID(ReadPath(root, "display.novnc_dir", c.novnc_dir));
  if (c.tls_cert.has_value() != c.tls_key.has_value()) {
    return Fail(InvalidArgument("tls.cert and tls.key go together: give both or neither"));
  }
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warning" &&
      c.log_level != "error") {
    return Fail(InvalidArgument("log.level must be debug, info, warning or error, not '" +
                                c.log_level + "'"));
  }
  if (c.usage_minute_retention_s < c.usage_raw_retention_s) {
    // UsageStore::Prune refuses such a pair every time, so no usage would ever be pruned.
    return Fail(InvalidArgument(
        "usage.minute_retention_s (" + std::to_string(c.usage_minute_retention_s) +
        ") must be at least usage.raw_retention_s (" + std::to_string(c.usage_raw_retention_s) +
        "): per-minute roll-ups are kept at least as long as the per-second samples"));
  }
  if (c.novnc_dir.empty()) {
    return Fail(
        InvalidArgument("display.novnc_dir must name a directory (default /usr/share/novnc)"));
  }
  if (c.admin_user.empty() || c.admin_user.size() > 64) {
    return Fail(InvalidArgument("auth.admin_user must be 1 to 64 characters"));
  }
  if (c.desktop_startup.find_first_not_of(" \t") == std::string::npos) {
    return Fail(InvalidArgument("local_agent.desktop_startup must name a command (default xterm)"));
  }
  if (c.window_manager.empty() || c.window_manager.find_first_of(" \t") != std::string::npos) {
    return Fail(
        InvalidArgument("local_agent.window_manager must be one program (default openbox)"));
  }
  return {};
}

}  // namespace

const char* const kBrokerUsage =
    "usage: moat-broker [--config FILE] [--SECTION.KEY VALUE]...\n"
    "\n"
    "Runs Moat's control plane: the HTTPS/WSS API, the session database and (by default) a\n"
    "local moat-agent. Every key of the config file (default /etc/moat/moat.toml, which\n"
    "describes each one; see also docs/packaging.md) can be set by a flag of the same dotted\n"
    "name, e.g.\n"
    "  --listen.port 9443 --state.dir /tmp/moat --local_agent.enabled false\n"
    "Short forms: --port N (listen.port), --state-dir DIR (state.dir), --no-local-agent.\n";

Result<BrokerConfig> LoadBrokerConfig(const std::vector<std::string>& args) {
  std::optional<std::string> file;
  std::vector<std::pair<std::string, std::string>> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (!arg.starts_with("--")) {
      return Fail(InvalidArgument("unexpected argument '" + arg + "' (options start with --)"));
    }
    std::string key = arg.substr(2), value;
    if (key == "no-local-agent") {
      flags.emplace_back("local_agent.enabled", "false");
      continue;
    }
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else {
      if (i + 1 >= args.size()) return Fail(InvalidArgument("option '" + arg + "' needs a value"));
      value = args[++i];
    }
    if (key == "port") key = "listen.port";
    if (key == "state-dir") key = "state.dir";
    if (key == "config") {
      file = value;
      continue;
    }
    flags.emplace_back(key, value);
  }
  BrokerConfig config;
  toml::table root;
  if (file || std::filesystem::exists(kDefaultConfig)) {
    config.config_file =
        file ? std::filesystem::path(*file) : std::filesystem::path(kDefaultConfig);
    MOAT_TRY(root, config::LoadTomlFile(config.config_file));
  }
  for (const auto& [key, value] : flags) MOAT_TRY_VOID(SetFromFlag(root, key, value));
  MOAT_TRY_VOID(Apply(root, config));
  return config;
}

}  // namespace moat::broker
