#include "session_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cgroup_files.h"
#include "moat/common/text.h"
#include "moat/common/unique_fd.h"

namespace moat::sandbox {

Status WriteSessionState(const std::string& path, const SessionInfo& info) {
  nlohmann::json json = {{"id", info.id},
                         {"user", info.user},
                         {"uid", info.uid},
                         {"pid", info.pid},
                         {"start_time", info.start_time},
                         {"id_slot", info.id_slot},
                         {"host_id_base", info.host_id_base},
                         {"created_unix", info.created_unix},
                         {"control_socket", info.control_socket},
                         {"cgroup", info.cgroup},
                         {"cgroup_entry", info.cgroup_entry}};
  std::string text = json.dump(2) + "\n";
  std::string temp = path + ".tmp";
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return FailErrno("open", temp);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return FailErrno("write", temp);
  }
  fd.Reset();
  if (::rename(temp.c_str(), path.c_str()) != 0) return FailErrno("rename", path);
  return {};
}

Result<SessionInfo> ReadSessionState(const std::string& path) {
  MOAT_TRY(auto text, moat::text::ReadFile(path));
  try {
    auto json = nlohmann::json::parse(text);
    SessionInfo info;
    info.id = json.at("id").get<std::string>();
    info.user = json.at("user").get<std::string>();
    info.uid = json.at("uid").get<uid_t>();
    info.pid = json.at("pid").get<pid_t>();
    info.start_time = json.at("start_time").get<uint64_t>();
    info.id_slot = json.at("id_slot").get<uint32_t>();
    info.host_id_base = json.at("host_id_base").get<uint32_t>();
    info.created_unix = json.at("created_unix").get<int64_t>();
    info.control_socket = json.at("control_socket").get<std::string>();
    info.cgroup = json.at("cgroup").get<std::string>();
    info.cgroup_entry = json.value("cgroup_entry", std::string());
    return info;
  } catch (const nlohmann::json::exception& e) {
    return Fail(InvalidArgument("session state '" + path + "' is corrupt: " + e.what()));
  }
}

}  // namespace moat::sandbox
