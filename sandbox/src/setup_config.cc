#include "setup_config.h"

namespace moat::sandbox {

nlohmann::json SetupConfigToJson(const SetupConfig& config) {
  nlohmann::json mounts = nlohmann::json::array();
  for (const auto& mount : config.mounts) {
    mounts.push_back(
        {{"source", mount.source}, {"target", mount.target}, {"read_only", mount.read_only}});
  }
  return {{"id", config.id},
          {"hostname", config.hostname},
          {"lower_dir", config.lower_dir},
          {"user",
           {{"name", config.user.name},
            {"uid", config.user.uid},
            {"gid", config.user.gid},
            {"home", config.user.home},
            {"shell", config.user.shell},
            {"device_groups", config.user.device_groups}}},
          {"mounts", mounts},
          {"upper_size_bytes", config.upper_size_bytes},
          {"staging_dir", config.staging_dir},
          {"control_socket", config.control_socket},
          {"cgroup_dirs", config.cgroup_dirs},
          {"cgroup_session_only_dirs", config.cgroup_session_only_dirs},
          {"cgroup2_dir", config.cgroup2_dir},
          {"cgroup2_init_dir", config.cgroup2_init_dir},
          {"born_in_cgroup2_init_dir", config.born_in_cgroup2_init_dir},
          {"cgroup_namespace_made", config.cgroup_namespace_made},
          {"cgroup_self_move_file", config.cgroup_self_move_file},
          {"hidden_paths", config.hidden_paths},
          {"devices", config.devices},
          {"env", config.env}};
}

Result<SetupConfig> SetupConfigFromJson(const nlohmann::json& json) {
  try {
    SetupConfig config;
    config.id = json.at("id").get<std::string>();
    config.hostname = json.at("hostname").get<std::string>();
    config.lower_dir = json.at("lower_dir").get<std::string>();
    const auto& user = json.at("user");
    config.user.name = user.at("name").get<std::string>();
    config.user.uid = user.at("uid").get<uid_t>();
    config.user.gid = user.at("gid").get<gid_t>();
    config.user.home = user.at("home").get<std::string>();
    config.user.shell = user.at("shell").get<std::string>();
    config.user.device_groups = user.at("device_groups").get<std::vector<gid_t>>();
    for (const auto& mount : json.at("mounts")) {
      config.mounts.push_back({mount.at("source").get<std::string>(),
                               mount.at("target").get<std::string>(),
                               mount.at("read_only").get<bool>()});
    }
    config.upper_size_bytes = json.at("upper_size_bytes").get<uint64_t>();
    config.staging_dir = json.at("staging_dir").get<std::string>();
    config.control_socket = json.at("control_socket").get<std::string>();
    config.cgroup_dirs = json.at("cgroup_dirs").get<std::vector<std::string>>();
    config.cgroup_session_only_dirs =
        json.at("cgroup_session_only_dirs").get<std::vector<std::string>>();
    config.cgroup2_dir = json.value("cgroup2_dir", std::string());
    config.cgroup2_init_dir = json.value("cgroup2_init_dir", std::string());
    config.born_in_cgroup2_init_dir = json.value("born_in_cgroup2_init_dir", false);
    config.cgroup_namespace_made = json.value("cgroup_namespace_made", false);
    if (config.cgroup_namespace_made && !config.born_in_cgroup2_init_dir) {
      // moat-init would sit outside its namespace's root, where it cannot move in.
      return Fail(InvalidArgument("cgroup_namespace_made without born_in_cgroup2_init_dir"));
    }
    // moat-init creates its cgroup namespace at cgroup2_dir and lives in this one.
    if (config.cgroup2_init_dir != config.cgroup2_dir &&
        !config.cgroup2_init_dir.starts_with(config.cgroup2_dir + "/")) {
      return Fail(InvalidArgument("cgroup2_init_dir '" + config.cgroup2_init_dir +
                                  "' is not cgroup2_dir '" + config.cgroup2_dir + "' or below it"));
    }
    config.cgroup_self_move_file = json.value("cgroup_self_move_file", std::string("cgroup.procs"));
    if (config.cgroup_self_move_file != "cgroup.procs" && config.cgroup_self_move_file != "tasks") {
      return Fail(
          InvalidArgument("bad cgroup_self_move_file '" + config.cgroup_self_move_file + "'"));
    }
    config.hidden_paths = json.at("hidden_paths").get<std::vector<std::string>>();
    config.devices = json.at("devices").get<std::vector<std::string>>();
    config.env = json.at("env").get<std::map<std::string, std::string>>();
    return config;
  } catch (const nlohmann::json::exception& e) {
    return Fail(InvalidArgument(std::string("bad setup config: ") + e.what()));
  }
}

}  // namespace moat::sandbox
