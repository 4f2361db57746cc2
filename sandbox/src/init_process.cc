#include "init_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "moat/common/text.h"
#include "setup_config.h"

namespace moat::sandbox {

namespace {

constexpr const char* kInitPath = "/usr/sbin:/usr/bin:/sbin:/bin";

// What the child needs, prepared by the parent: after an exec-bound clone the child shares
// the parent's memory and may only make system calls (the agent is multi-threaded).
struct ChildPlan {
  const char* path;
  const char* const* argv;
  const char* const* envp;
  int sources[3];  // setup socket, seccomp program, /dev/null
  int (*in_process_init)();
};

// The setup socket on fd 3, the seccomp program on fd 4, /dev/null as stdio, and nothing else.
bool PrepareChild(const ChildPlan& plan) {
  // Move the sources above the targets first so that no dup2 clobbers a later source.
  int moved[3];
  for (int i = 0; i < 3; ++i) {
    moved[i] = ::fcntl(plan.sources[i], F_DUPFD_CLOEXEC, 10);
    if (moved[i] < 0) return false;
  }
  if (::dup2(moved[0], kSetupSocketFd) < 0 || ::dup2(moved[1], kSeccompProgramFd) < 0) {
    return false;
  }
  for (int fd = 0; fd < 3; ++fd) {
    if (::dup2(moved[2], fd) < 0) return false;
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // A session of its own: no controlling terminal of the host's, and no SIGHUP or SIGINT
  // when the terminal that started a detached session closes.
  if (::setsid() < 0) return false;
  // Only fds 0-4 may enter the wall: whatever the caller (a daemon with sockets of its own)
  // forgot to mark close-on-exec is closed here.
  return ::syscall(SYS_close_range, kSeccompProgramFd + 1, ~0U, 0) == 0;
}

int ExecInit(void* arg) {
  const auto* plan = static_cast<const ChildPlan*>(arg);
  if (!PrepareChild(*plan)) ::_exit(126);
  ::execve(plan->path, const_cast<char* const*>(plan->argv), const_cast<char* const*>(plan->envp));
  ::_exit(127);
}

// Makes the copy look as the exec'd moat-init would: its name, and an environment of PATH
// alone. The caller's command line (host paths, flags) and environment are not the session's
// to read in /proc/1: both are overwritten in place, where /proc/self/stat says they lie
// (fields 48 to 51: arg_start, arg_end, env_start, env_end).
void BecomeInitInName() {
  ::prctl(PR_SET_NAME, "moat-init");
  ::clearenv();
  ::setenv("PATH", kInitPath, 1);
  auto stat = text::ReadFile("/proc/self/stat");
  if (!stat) return;
  auto words = text::Words(std::string_view(*stat).substr(stat->rfind(')') + 1));
  constexpr size_t kArgStart = 48 - 3;  // the words after ")" begin at field 3
  if (words.size() < kArgStart + 4) return;
  for (size_t i = kArgStart; i < kArgStart + 4; i += 2) {
    auto start = text::ParseUnsigned(words[i]);
    auto end = text::ParseUnsigned(words[i + 1]);
    if (!start || !end || *end <= *start) continue;
    std::memset(reinterpret_cast<char*>(*start), 0, *end - *start);
  }
  if (auto start = text::ParseUnsigned(words[kArgStart])) {
    auto end = text::ParseUnsigned(words[kArgStart + 1]);
    constexpr char kName[] = "moat-init";
    if (end && *end >= *start + sizeof(kName)) {
      std::memcpy(reinterpret_cast<char*>(*start), kName, sizeof(kName));
    }
  }
}

// _exit, never exit: the caller's stdio buffers and atexit handlers are the caller's.
[[noreturn]] void RunInitInProcess(const ChildPlan& plan) {
  if (!PrepareChild(plan)) ::_exit(126);
  BecomeInitInName();
  ::_exit(plan.in_process_init());
}

}  // namespace

Result<InitProcess> StartInitProcess(const std::string& init_path, int seccomp_fd,
                                     int (*in_process_init)()) {
  if (!in_process_init && ::access(init_path.c_str(), X_OK) != 0) {
    return FailErrno("find moat-init", init_path);
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return FailErrno("socketpair", "setup socket");
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  UniqueFd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!dev_null) return FailErrno("open", "/dev/null");

  // Named "moat-init" whatever its path: the session reads PID 1's command line, and host
  // paths are not its business.
  const char* argv[] = {"moat-init", nullptr};
  const std::string path_variable = std::string("PATH=") + kInitPath;
  const char* envp[] = {path_variable.c_str(), nullptr};
  ChildPlan plan{
      init_path.c_str(), argv, envp, {theirs.get(), seccomp_fd, dev_null.get()}, in_process_init};
  constexpr int kNamespaces =
      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
  int pidfd = -1;
  pid_t pid = -1;
  if (in_process_init) {
    // A copy of this (single-threaded) process that goes on as PID 1: no exec, no second
    // start-up of a C library (docs/performance.md).
    long child = ::syscall(SYS_clone, kNamespaces | CLONE_PIDFD | SIGCHLD, nullptr, &pidfd, nullptr,
                           nullptr);
    if (child == 0) RunInitInProcess(plan);
    pid = static_cast<pid_t>(child);
  } else {
    // CLONE_VM | CLONE_VFORK, as posix_spawn does: the child borrows our memory until its
    // execve instead of copying our page tables only to drop them again.
    constexpr size_t kChildStackBytes = 64 * 1024;
    std::unique_ptr<char[]> stack(new char[kChildStackBytes]);
    pid = ::clone(ExecInit, stack.get() + kChildStackBytes,
                  CLONE_VM | CLONE_VFORK | kNamespaces | CLONE_PIDFD | SIGCHLD, &plan, &pidfd);
  }
  if (pid < 0) return FailErrno("clone", "session namespaces");
  InitProcess process;
  process.pid = pid;
  process.pidfd = UniqueFd(pidfd);
  process.setup_socket = std::move(ours);
  return process;
}

bool WaitForExit(int pidfd, int timeout_ms) { return WaitForReadable(pidfd, timeout_ms); }

bool WaitForReadable(int fd, int timeout_ms) {
  struct pollfd poll_fd = {fd, POLLIN, 0};
  for (;;) {
    int rc = ::poll(&poll_fd, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    return rc > 0;
  }
}

}  // namespace moat::sandbox
