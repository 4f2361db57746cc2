#include "setup.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "../cgroup_files.h"
#include "credentials.h"
#include "loopback.h"
#include "moat/common/text.h"
#include "moat/common/unix_connect.h"
#include "moat/sandbox/control_protocol.h"
#include "moat/sandbox/seccomp_policy.h"
#include "root_fs.h"

namespace moat::sandbox::init {
namespace {

// We are single-threaded, so in v1 hierarchies we move ourselves through `tasks`, and into the
// cgroup2 group we were born (clone_into_cgroup.h): neither waits for the kernel's global lock.
Status JoinSessionGroup(const SetupConfig& c, const std::string& dir) {
  if (dir != c.cgroup2_dir) return WriteCgroupFile(dir + "/" + c.cgroup_self_move_file, "0");
  if (c.born_in_cgroup2_init_dir) return {};
  return WriteCgroupFile(dir + "/cgroup.procs", "0");
}

// The controllers applications get limits of, among those `dir` (a cgroup2 group) offers.
std::vector<const char*> ControllersToDelegate(const std::string& dir) {
  std::vector<const char*> delegated;
  if (auto available = moat::text::ReadFile(dir + "/cgroup.controllers")) {
    for (const char* controller : {"cpu", "memory", "pids", "io"}) {
      if (available->find(controller) != std::string::npos) delegated.push_back(controller);
    }
  }
  return delegated;
}

// Roots our cgroup namespace at the session groups (join, then unshare), leaving us in them,
// or on v2 in the session group's `init` leaf (CgroupDriver::InitDirectory), from where the
// group hands its controllers down. Unless the host did it without cgroup.procs writes
// (SetupConfig::cgroup_namespace_made), each of those here in a cgroup2 group, and the
// subtree_control writes with us below, wait for the kernel's global lock.
Status EnterCgroupNamespace(const SetupConfig& c) {
  bool in_leaf = c.cgroup2_init_dir != c.cgroup2_dir;
  for (const auto& dir : c.cgroup_dirs) {
    if (!in_leaf || dir != c.cgroup2_dir) MOAT_TRY_VOID(JoinSessionGroup(c, dir));
  }
  for (const auto& dir : c.cgroup_session_only_dirs) MOAT_TRY_VOID(JoinSessionGroup(c, dir));
  if (in_leaf) MOAT_TRY_VOID(WriteCgroupFile(c.cgroup2_dir + "/cgroup.procs", "0"));
  if (::unshare(CLONE_NEWCGROUP) != 0) return FailErrno("unshare", "CLONE_NEWCGROUP");
  if (!in_leaf) return {};
  MOAT_TRY_VOID(WriteCgroupFile(c.cgroup2_init_dir + "/cgroup.procs", "0"));
  for (const char* controller : ControllersToDelegate(c.cgroup2_dir)) {
    MOAT_TRY_VOID(
        WriteCgroupFile(c.cgroup2_dir + "/cgroup.subtree_control", std::string("+") + controller));
  }
  return {};
}

// The session's group becomes the root of its cgroup namespace, so that moat-init can later
// move applications into sub-groups. On v2, where the group hands controllers to its children,
// moat-init lives in an "init" leaf: a group with processes of its own may not do that (the
// no-internal-processes rule). v1 has no such rule, nor has a v2 hierarchy without
// controllers (a hybrid host's), so moat-init stays in the session group there: fewer cgroup
// operations per hierarchy and wall (docs/performance.md).
Result<std::vector<UniqueFd>> JoinCgroups(const SetupConfig& c) {
  if (!c.cgroup_namespace_made) MOAT_TRY_VOID(EnterCgroupNamespace(c));
  std::vector<UniqueFd> dir_fds;
  for (const auto& dir : c.cgroup_dirs) {
    UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return FailErrno("open", dir);
    dir_fds.push_back(std::move(fd));
  }
  return dir_fds;
}

Status SetHostname(const SetupConfig& c) {
  if (::sethostname(c.hostname.data(), c.hostname.size()) != 0) {
    return FailErrno("sethostname", c.hostname);
  }
  return {};
}

// Bound while the host path is still visible; only host root may connect (mode 0600, and the
// run directory is masked inside the wall).
Result<UniqueFd> ListenOnControlSocket(const SetupConfig& c) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return FailErrno("socket", "AF_UNIX");
  MOAT_TRY(auto addr, UnixAddress(c.control_socket));
  ::unlink(c.control_socket.c_str());
  mode_t old_mask = ::umask(0177);
  int rc = ::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr));
  ::umask(old_mask);
  if (rc != 0) return FailErrno("bind", c.control_socket);
  if (::listen(fd.get(), 64) != 0) return FailErrno("listen", c.control_socket);
  return fd;
}

// The host writes our uid_map and gid_map: we only ask and wait.
Status AwaitIdMaps(int setup_socket) {
  MOAT_TRY_VOID(SendControlMessage(setup_socket, {{"phase", "userns"}}));
  MOAT_TRY(auto reply, ReceiveControlMessage(setup_socket));
  if (!reply.body.value("mapped", false)) {
    return Fail(InvalidArgument("host did not map ids: " + reply.body.dump()));
  }
  return {};
}

Status LoadSeccomp(int seccomp_fd) {
  struct stat st {};
  if (::fstat(seccomp_fd, &st) != 0) return FailErrno("fstat", "seccomp program");
  std::vector<uint8_t> program(static_cast<size_t>(st.st_size));
  if (::pread(seccomp_fd, program.data(), program.size(), 0) != st.st_size) {
    return FailErrno("read", "seccomp program");
  }
  ::close(seccomp_fd);
  int rc = InstallSeccompProgram(program.data(), program.size());
  if (rc != 0) return FailErrno("seccomp", "SECCOMP_SET_MODE_FILTER", -rc);
  return {};
}

}  // namespace

Result<SetupOutcome> RunSetup(const SetupConfig& config, int setup_socket, int seccomp_fd) {
  SetupOutcome outcome;
  MOAT_TRY_CTX(outcome.cgroup_dirs, JoinCgroups(config), "join cgroup");
  MOAT_TRY_VOID_CTX(SetHostname(config), "set hostname");
  MOAT_TRY_VOID_CTX(BringUpLoopback(), "bring up loopback");
  MOAT_TRY_VOID_CTX(BuildRoot(config), "build root");
  MOAT_TRY_CTX(outcome.control_listener, ListenOnControlSocket(config), "control socket");
  MOAT_TRY_VOID_CTX(PivotIntoRoot(config), "pivot root");
  MOAT_TRY_VOID_CTX(EnterUserNamespace([&] { return AwaitIdMaps(setup_socket); }),
                    "enter user namespace");
  MOAT_TRY_VOID_CTX(BecomeUser(config.user), "become user");
  MOAT_TRY_VOID_CTX(DropAllCapabilities(), "drop capabilities");
  MOAT_TRY_VOID_CTX(LockDownProcess(), "lock down");
  MOAT_TRY_VOID_CTX(LoadSeccomp(seccomp_fd), "load seccomp");
  return outcome;
}

}  // namespace moat::sandbox::init
