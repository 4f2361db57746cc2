#include "app_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>

#include "../clone_into_cgroup.h"
#include "moat/sandbox/seccomp_policy.h"

namespace moat::sandbox::init {
namespace {

// Where the kernel or a filter refuses clone3 (ENOSYS): asked once, not at every launch.
bool clone3_refused = false;

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Runs in the forked child: only async-signal-safe calls; reports errno on `report_fd`,
// negated when it was the working directory asked for that failed.
[[noreturn]] void ExecChild(const AppSpawn& spawn, char* const* argv, char* const* envp,
                            const char* pty_name, const char* self_move, const char* cgroup2_move,
                            int born_in, int report_fd) {
  auto die = [report_fd](int err) {
    (void)!::write(report_fd, &err, sizeof(err));
    ::_exit(127);
  };
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  if (::setsid() < 0) die(errno);
  // Join the application's own sub-group before exec, so that all it ever runs is counted
  // and limited there.
  if (spawn.cgroup_dirs != nullptr) {
    for (int i = 0; i < static_cast<int>(spawn.cgroup_dirs->size()); ++i) {
      if (i == born_in) continue;
      // cgroup.procs is all cgroup2 has for a whole process.
      const char* file = i == spawn.cgroup2_index ? cgroup2_move : self_move;
      int procs = ::openat((*spawn.cgroup_dirs)[i].get(), file, O_WRONLY | O_CLOEXEC);
      if (procs < 0 || ::write(procs, "0", 1) != 1) die(errno);
      ::close(procs);
    }
  }
  if (pty_name != nullptr) {
    int slave = ::open(pty_name, O_RDWR);
    if (slave < 0) die(errno);
    if (::ioctl(slave, TIOCSCTTY, 0) != 0) die(errno);
    for (int fd = 0; fd < 3; ++fd) {
      if (::dup2(slave, fd) < 0) die(errno);
    }
    if (slave > 2) ::close(slave);
  } else {
    // dup2 onto 0..2 in two passes so a passed fd numbered 0..2 is not overwritten early.
    int moved[3];
    for (int fd = 0; fd < 3; ++fd) {
      int source = spawn.stdio[fd] >= 0 ? spawn.stdio[fd] : ::open("/dev/null", O_RDWR | O_CLOEXEC);
      moved[fd] = ::fcntl(source, F_DUPFD_CLOEXEC, 3);
      if (moved[fd] < 0) die(errno);
    }
    for (int fd = 0; fd < 3; ++fd) {
      if (::dup2(moved[fd], fd) < 0) die(errno);
    }
  }
  // Confined (a VM guest's unfiltered moat-init), the application gets the whole profile.
  // Otherwise it has our own program, which lets clone3 through (SeccompAudience::kSupervisor),
  // and adds the refusal: a second filter only where needed, as each runs at every syscall.
  if (spawn.confine != nullptr) {
    if (int err = ConfineApplication(*spawn.confine); err != 0) die(err);
  } else if (int rc = InstallApplicationFilter(); rc != 0) {
    die(-rc);
  }
  if (spawn.no_huge_pages && ::prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) die(errno);
  if (!spawn.cwd.empty() && ::chdir(spawn.cwd.c_str()) != 0) {
    if (spawn.cwd_required) die(-errno);
    if (::chdir("/") != 0) die(errno);
  }
  ::execvpe(argv[0], argv, envp);
  die(errno);
  __builtin_unreachable();
}

}  // namespace

Result<SpawnedApp> SpawnApplication(const AppSpawn& spawn) {
  if (spawn.argv.empty()) return Fail(InvalidArgument("no command given"));
  SpawnedApp app;
  std::string pty_name;
  if (spawn.tty) {
    app.pty_master = UniqueFd(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!app.pty_master) return FailErrno("posix_openpt", "/dev/ptmx");
    if (::grantpt(app.pty_master.get()) != 0 || ::unlockpt(app.pty_master.get()) != 0) {
      return FailErrno("unlockpt", "/dev/ptmx");
    }
    char name[128];
    if (::ptsname_r(app.pty_master.get(), name, sizeof(name)) != 0) return FailErrno("ptsname", "");
    pty_name = name;
    if (spawn.rows && spawn.cols) {
      struct winsize size = {spawn.rows, spawn.cols, 0, 0};
      ::ioctl(app.pty_master.get(), TIOCSWINSZ, &size);
    }
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return FailErrno("pipe2", "exec report");
  UniqueFd report_read(report[0]), report_write(report[1]);
  UniqueFd birth_group;
  if (spawn.cgroup_dirs != nullptr) {
    for (int i = 0; i < static_cast<int>(spawn.cgroup_dirs->size()); ++i) {
      int dir = (*spawn.cgroup_dirs)[i].get();
      if (::mkdirat(dir, spawn.cgroup_name.c_str(), 0755) != 0 && errno != EEXIST) {
        return FailErrno("create application cgroup", spawn.cgroup_name);
      }
      if (i == spawn.cgroup2_index && !clone3_refused) {
        birth_group =
            UniqueFd(::openat(dir, spawn.cgroup_name.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!birth_group) return FailErrno("open application cgroup", spawn.cgroup_name);
      }
    }
  }
  std::string self_move = spawn.cgroup_name + "/" + spawn.self_move_file;
  std::string cgroup2_move = spawn.cgroup_name + "/cgroup.procs";
  auto argv = CStrings(spawn.argv);
  auto envp = CStrings(spawn.env);
  CloneResult child;
  if (birth_group) {
    child = ForkIntoCgroup(birth_group.get());
    clone3_refused = child.pid < 0 && child.error == ENOSYS;
  }
  // Where the kernel did not start it in its group, the child moves there itself.
  int born_in = child.pid >= 0 ? spawn.cgroup2_index : -1;
  if (child.pid < 0) {
    child.pid = ::fork();
    if (child.pid < 0) return FailErrno("fork", spawn.argv[0]);
  }
  if (child.pid == 0) {
    ExecChild(spawn, argv.data(), envp.data(), spawn.tty ? pty_name.c_str() : nullptr,
              self_move.c_str(), cgroup2_move.c_str(), born_in, report_write.get());
  }
  pid_t pid = child.pid;
  report_write.Reset();
  int err = 0;
  ssize_t n;
  do {
    n = ::read(report_read.get(), &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  if (n == sizeof(err)) {
    // The child has already exited with 127; the reaper collects it.
    // Not the command's fault but the request's: like `env -C`, a 125 for the CLI, not 127.
    if (err < 0) {
      return Fail(Error(std::make_error_code(std::errc::invalid_argument),
                        ErrnoError("chdir", spawn.cwd, -err).message()));
    }
    return FailErrno("exec", spawn.argv[0], err);
  }
  app.pid = pid;
  return app;
}

}  // namespace moat::sandbox::init
