// moat-init's life as PID 1: reap every orphan, serve the control socket (launch, signal,
// ps, shutdown), report application exits, forward SIGTERM as a clean shutdown.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../setup_config.h"
#include "app_confinement.h"
#include "guest_cgroups.h"
#include "moat/common/unique_fd.h"
#include "moat/sandbox/control_protocol.h"

namespace moat::sandbox::init {

class Supervisor {
 public:
  Supervisor(SetupConfig config, UniqueFd listener, std::vector<UniqueFd> cgroup_dirs);
  // A VM guest's moat-init: no listener, one host connection over the virtio-serial `port`
  // (non-blocking), one JSON object per line and no fds. Applications run as the session's
  // user, confined as `confinement` says (moat-init itself stays the guest's root), and their
  // stdout and stderr go to a log in `log_dir`. Each application gets its own group below the
  // guest's applications' group (`cgroups`), whose limits the "limits" op changes.
  static Supervisor ForVmPort(SetupConfig config, UniqueFd port, AppConfinement confinement,
                              std::string log_dir, GuestCgroups cgroups, UniqueFd apps_dir);
  // Returns moat-init's exit code once every process of the session is gone after a shutdown.
  int Run();

 private:
  struct Client {
    UniqueFd socket;
    std::set<pid_t> apps;
  };

  void Watch(int fd);
  void Unwatch(int fd);
  void OnSignals();
  void OnAccept();
  void OnClientMessage(int fd);
  void CloseClient(int fd);
  void OnPortData();
  void Dispatch(int fd, const nlohmann::json& body, std::vector<UniqueFd>& fds);
  // Sends to a client: a seqpacket message, or a line on the VM port.
  void Send(int fd, const nlohmann::json& body, const std::vector<int>& fds = {});
  void ReapChildren();
  nlohmann::json HandleLaunch(int fd, const nlohmann::json& body, std::vector<UniqueFd>& fds,
                              UniqueFd& pty_master);
  nlohmann::json HandleSignal(const nlohmann::json& body);
  nlohmann::json ListProcesses();
  void BeginShutdown(std::chrono::milliseconds grace);
  // Removes the sub-groups of applications that have ended and whose processes are all gone.
  void RemoveEmptyAppGroups();
  // oom_kill of a group from v1's memory.oom_control; 0 where there is no such file (v2).
  uint64_t GroupOomKillsV1(const std::string& group) const;
  std::vector<std::string> ApplicationEnvironment(const nlohmann::json& request) const;

  SetupConfig config_;
  UniqueFd listener_;
  UniqueFd epoll_;
  UniqueFd signals_;
  UniqueFd shutdown_timer_;
  std::map<int, Client> clients_;
  std::map<pid_t, int> app_owner_;          // pid → client fd that launched it
  std::map<pid_t, std::string> app_group_;  // pid → its sub-group, while it runs
  std::set<std::string> ended_groups_;      // sub-groups to remove once empty
  std::vector<UniqueFd> cgroup_dirs_;
  int cgroup2_index_ = -1;  // which of them is a cgroup2 hierarchy's (AppSpawn)
  unsigned next_app_ = 1;
  // cgroup v1 counts an OOM kill only in the killed task's own group; this keeps the kills of
  // application groups already removed, so that the session's total stays true.
  uint64_t ended_app_oom_kills_ = 0;
  // Which of cgroup_dirs_ has memory.oom_control, once one had it (the memory hierarchy).
  mutable int oom_control_dir_ = -1;
  // The VM port (stream_fd_ >= 0): its client, partial input, and who applications run as.
  int stream_fd_ = -1;
  ControlLineReader stream_reader_;
  AppConfinement app_confinement_;
  // Whether the last read said the host side is connected (EAGAIN) rather than not (0): only
  // a 0 after a connected port is the end of a connection (see OnPortData).
  bool port_connected_ = false;
  std::string log_dir_;
  std::optional<GuestCgroups> guest_cgroups_;
  bool shutting_down_ = false;
  bool killed_ = false;
};

}  // namespace moat::sandbox::init
