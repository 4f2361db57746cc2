// The "default" session seccomp profile, exercised for real: every case forks a child that sets
// no_new_privs, installs the compiled program and makes one syscall; the parent checks how
// the child ended. Arguments are chosen so that, should the filter ever let a call through,
// the kernel rejects it anyway (missing paths, bad fds, bad flags) and the host is untouched.
#include "moat/sandbox/seccomp_policy.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "seccomp_policy.h"

extern char** environ;

namespace moat::sandbox {
namespace {

constexpr const char* kMissing = "/nonexistent/moat-seccomp-test";
constexpr int kExitSetupFailed = 250;

struct Outcome {
  bool exited = false;
  int code = -1;   // exit status when exited
  int signal = 0;  // terminating signal otherwise
};

// The compiled default profile, or nullptr after recording why it did not compile.
const SeccompProgram* DefaultProgram() {
  auto program = CachedSeccompProfile("default");
  if (program) return *program;
  ADD_FAILURE() << program.error().message();
  return nullptr;
}

// Runs `body` in a forked child, under the default profile unless `filtered` is false, and
// returns how the child ended. `body` returns the child's exit status.
template <typename Body>
Outcome RunInChild(Body body, bool filtered = true) {
  const SeccompProgram* program = DefaultProgram();
  if (program == nullptr) return Outcome{.exited = true, .code = kExitSetupFailed};
  const pid_t pid = fork();
  if (pid == 0) {
    // No controlling tty (vhangup, TIOCSTI cannot reach the runner's terminal), no core
    // files from SIGSYS, and no hang past ten seconds.
    setsid();
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    alarm(10);
    if (filtered) {
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(kExitSetupFailed);
      if (InstallSeccompProgram(program->bpf.data(), program->bpf.size()) != 0) {
        _exit(kExitSetupFailed);
      }
    }
    _exit(body());
  }
  Outcome outcome;
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) {
    ADD_FAILURE() << "fork/waitpid: " << std::strerror(errno);
    return outcome;
  }
  outcome.exited = WIFEXITED(status);
  outcome.code = outcome.exited ? WEXITSTATUS(status) : -1;
  outcome.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return outcome;
}

// 0 when the call succeeded, else its errno.
int ErrnoOf(long rc) { return rc == -1 ? errno : 0; }

// A process made by clone/clone3 that the filter failed to stop leaves at once.
long ExitIfChild(long rc) {
  if (rc == 0) _exit(0);
  return rc;
}

std::string Describe(const Outcome& o) {
  if (!o.exited) return std::string("killed by ") + strsignal(o.signal);
  if (o.code == kExitSetupFailed) return "filter setup failed";
  return "errno " + std::to_string(o.code) + " (" + std::strerror(o.code) + ")";
}

struct ForbiddenCall {
  const char* name;
  long (*call)();
  int expected_errno;
};

std::ostream& operator<<(std::ostream& os, const ForbiddenCall& c) { return os << c.name; }

struct CloneArgs {  // struct clone_args, CLONE_ARGS_SIZE_VER0
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

long Clone3(uint64_t flags) {
  CloneArgs args{};
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  return ExitIfChild(syscall(__NR_clone3, &args, sizeof(args)));
}

long CloneWith(unsigned long flags) {
  return ExitIfChild(syscall(__NR_clone, flags | SIGCHLD, 0, 0, 0, 0));
}

// clang-format off
#define DENY(nr, ...) {#nr, [] { return syscall(__NR_##nr __VA_OPT__(,) __VA_ARGS__); }, EPERM}
#define VARIANT(label, expr, err) {label, [] { return static_cast<long>(expr); }, err}
// clang-format on

// One line per forbidden syscall. EveryDeniedSyscallHasATestLine keeps this in step with the
// policy's denied sets.
const ForbiddenCall kForbiddenCalls[] = {
    DENY(unshare, CLONE_NEWNET),
    DENY(setns, -1, 0),
    DENY(mount, nullptr, kMissing, nullptr, 0, nullptr),
    DENY(umount2, kMissing, 0),
    DENY(pivot_root, kMissing, kMissing),
    DENY(chroot, kMissing),
    DENY(fsopen, "moat-no-such-fs", 0),
    DENY(fsconfig, -1, 0, nullptr, nullptr, 0),
    DENY(fsmount, -1, 0, 0),
    DENY(fspick, -1, kMissing, 0),
    DENY(move_mount, -1, kMissing, -1, kMissing, 0),
    DENY(open_tree, -1, kMissing, 0),
    DENY(mount_setattr, -1, kMissing, 0, nullptr, 0),
    DENY(create_module),
    DENY(init_module, nullptr, 0, ""),
    DENY(finit_module, -1, "", 0),
    DENY(delete_module, "moat_no_such_module", O_NONBLOCK),
    DENY(query_module),
    DENY(get_kernel_syms),
    DENY(kexec_load, 0, 0, nullptr, ~0ul),
    DENY(kexec_file_load, -1, -1, 0, nullptr, ~0ul),
    DENY(add_key, nullptr, nullptr, nullptr, 0, 0),
    DENY(request_key, nullptr, nullptr, nullptr, 0),
    DENY(keyctl, -1, 0, 0, 0, 0),
    DENY(settimeofday, nullptr, nullptr),
    DENY(clock_settime, CLOCK_MONOTONIC, nullptr),
    DENY(clock_adjtime, CLOCK_REALTIME, nullptr),
    DENY(adjtimex, nullptr),
    DENY(iopl, 0),
    DENY(ioperm, 0, 0, 0),
    DENY(modify_ldt, 0, nullptr, 0),
    DENY(bpf, -1, nullptr, 0),
    DENY(perf_event_open, nullptr, 0, -1, -1, 0),
    DENY(lookup_dcookie, 0, nullptr, 0),
    DENY(syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, nullptr, 0),
    DENY(fanotify_init, ~0u, 0),
    DENY(fanotify_mark, -1, 0, 0, -1, nullptr),
    VARIANT("cachestat", syscall(451 /* __NR_cachestat */, -1, nullptr, nullptr, 0), EPERM),
    DENY(userfaultfd, ~0u),
    DENY(io_uring_setup, 0, nullptr),
    DENY(io_uring_enter, -1, 0, 0, 0, nullptr, 0),
    DENY(io_uring_register, -1, 0, nullptr, 0),
    DENY(open_by_handle_at, -1, nullptr, 0),
    DENY(name_to_handle_at, -1, nullptr, nullptr, nullptr, 0),
    DENY(process_vm_readv, 0, nullptr, 0, nullptr, 0, 0),
    DENY(process_vm_writev, 0, nullptr, 0, nullptr, 0, 0),
    DENY(process_madvise, -1, nullptr, 0, 0, 0),
    DENY(kcmp, 0, 0, -1, 0, 0),
    DENY(pidfd_getfd, -1, 0, 0),
    DENY(get_mempolicy, nullptr, nullptr, 0, 0, 0),
    DENY(set_mempolicy, 0, nullptr, 0),
    DENY(set_mempolicy_home_node, 0, 0, 0, ~0ul),
    DENY(mbind, nullptr, 0, 0, nullptr, 0, ~0u),
    DENY(move_pages, 0, 0, nullptr, nullptr, nullptr, ~0u),
    DENY(migrate_pages, -1, 0, nullptr, nullptr),
    DENY(acct, kMissing),
    DENY(swapon, kMissing, 0),
    DENY(swapoff, kMissing),
    DENY(reboot, 0, 0, 0, nullptr),
    DENY(quotactl, 0, nullptr, 0, nullptr),
    DENY(quotactl_fd, -1, 0, 0, nullptr),
    DENY(sethostname, "", 1000),
    DENY(setdomainname, "", 1000),
    DENY(vhangup),
    DENY(uselib, kMissing),
    DENY(ustat, 0, nullptr),
    DENY(sysfs, 0, nullptr),
    DENY(_sysctl, nullptr),
    DENY(nfsservctl),
    DENY(afs_syscall),
    DENY(tuxcall),
    DENY(security),
    DENY(putpmsg),
    DENY(getpmsg),
    DENY(vserver),
    // Argument restrictions.
    VARIANT("clone_CLONE_NEWNS", CloneWith(CLONE_NEWNS), EPERM),
    VARIANT("clone_CLONE_NEWUTS", CloneWith(CLONE_NEWUTS), EPERM),
    VARIANT("clone_CLONE_NEWIPC", CloneWith(CLONE_NEWIPC), EPERM),
    VARIANT("clone_CLONE_NEWUSER", CloneWith(CLONE_NEWUSER), EPERM),
    VARIANT("clone_CLONE_NEWPID", CloneWith(CLONE_NEWPID), EPERM),
    VARIANT("clone_CLONE_NEWNET", CloneWith(CLONE_NEWNET), EPERM),
    VARIANT("clone_CLONE_NEWCGROUP", CloneWith(CLONE_NEWCGROUP), EPERM),
    VARIANT("clone3", Clone3(0), ENOSYS),
    VARIANT("clone3_CLONE_NEWUSER", Clone3(CLONE_NEWUSER), ENOSYS),
    VARIANT("ioctl_TIOCSTI", syscall(__NR_ioctl, -1, TIOCSTI, ""), EPERM),
    VARIANT("ioctl_TIOCSTI_high_bits", syscall(__NR_ioctl, -1, (1ul << 32) | TIOCSTI, ""), EPERM),
    VARIANT("ioctl_TIOCLINUX", syscall(__NR_ioctl, -1, TIOCLINUX, ""), EPERM),
    VARIANT("personality_ADDR_NO_RANDOMIZE", syscall(__NR_personality, ADDR_NO_RANDOMIZE), EPERM),
    VARIANT("personality_READ_IMPLIES_EXEC", syscall(__NR_personality, READ_IMPLIES_EXEC), EPERM),
    VARIANT("socket_AF_VSOCK", syscall(__NR_socket, AF_VSOCK, SOCK_STREAM, 0), EPERM),
    VARIANT("socket_AF_VSOCK_high_bits",
            syscall(__NR_socket, (1ul << 32) | AF_VSOCK, SOCK_STREAM, 0), EPERM),
};

#undef DENY
#undef VARIANT

class SeccompForbiddenSyscall : public testing::TestWithParam<ForbiddenCall> {};

TEST_P(SeccompForbiddenSyscall, FailsWithExpectedErrno) {
  const ForbiddenCall& c = GetParam();
  const Outcome outcome = RunInChild([&] { return ErrnoOf(c.call()); });
  EXPECT_TRUE(outcome.exited && outcome.code == c.expected_errno)
      << c.name << ": want errno " << c.expected_errno << " (" << std::strerror(c.expected_errno)
      << "), got " << Describe(outcome);
}

INSTANTIATE_TEST_SUITE_P(DefaultProfile, SeccompForbiddenSyscall,
                         testing::ValuesIn(kForbiddenCalls),
                         [](const testing::TestParamInfo<ForbiddenCall>& info) {
                           return std::string(info.param.name);
                         });

// ---- What a desktop session does keeps working -------------------------------------------

constexpr int kExitWrongResult = 249;

int WaitForSuccess(pid_t pid) {
  int status = 0;
  if (pid < 0) return errno;
  if (waitpid(pid, &status, 0) != pid) return errno;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : kExitWrongResult;
}

int SpawnAndWait(const char* const argv[]) {
  pid_t pid = -1;
  // posix_spawn tries clone3 first and must fall back to clone on ENOSYS.
  const int rc = posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ);
  return rc != 0 ? rc : WaitForSuccess(pid);
}

void ExpectSucceeds(const Outcome& o) {
  EXPECT_TRUE(o.exited && o.code == 0)
      << (o.exited && o.code == kExitWrongResult ? "wrong result" : Describe(o));
}

TEST(SeccompDefaultProfile, AllowsForkExecCloneSpawnAndThreads) {
  ExpectSucceeds(RunInChild([] {
    const pid_t forked = fork();
    if (forked == 0) {
      execl("/bin/true", "true", nullptr);
      _exit(127);
    }
    if (const int rc = WaitForSuccess(forked); rc != 0) return rc;
    const long cloned = CloneWith(0);  // plain fork flags pass the namespace check
    if (const int rc = cloned < 0 ? errno : WaitForSuccess(static_cast<pid_t>(cloned)); rc != 0) {
      return rc;
    }
    const char* const argv[] = {"/bin/true", nullptr};
    if (const int rc = SpawnAndWait(argv); rc != 0) return rc;
    pthread_t thread;  // glibc tries clone3 for threads too
    const auto noop = [](void*) -> void* { return nullptr; };
    if (const int rc = pthread_create(&thread, nullptr, noop, nullptr); rc != 0) return rc;
    return pthread_join(thread, nullptr);
  }));
}

TEST(SeccompDefaultProfile, AllowsOpeningAndReadingFiles) {
  char path[] = "/tmp/moat-seccomp-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(write(fd, "moat", 4), 4);
  close(fd);
  const Outcome outcome = RunInChild([&] {
    const int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno;
    char buf[8] = {};
    const ssize_t n = read(in, buf, sizeof(buf));
    close(in);
    return n == 4 && std::memcmp(buf, "moat", 4) == 0 ? 0 : kExitWrongResult;
  });
  unlink(path);
  ExpectSucceeds(outcome);
}

TEST(SeccompDefaultProfile, AllowsSocketpairAndCommonSocketFamilies) {
  ExpectSucceeds(RunInChild([] {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return errno;
    char c = 0;
    if (write(fds[0], "x", 1) != 1 || read(fds[1], &c, 1) != 1 || c != 'x') return kExitWrongResult;
    for (const int family : {AF_UNIX, AF_INET, AF_NETLINK}) {
      const int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return errno;
      close(fd);
    }
    return 0;
  }));
}

TEST(SeccompDefaultProfile, AllowsTerminalIoctlsButNotTiocsti) {
  ExpectSucceeds(RunInChild([] {
    const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || unlockpt(master) != 0) return errno;
    const int tty = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (tty < 0) return errno;
    termios t{};
    if (syscall(__NR_ioctl, tty, TCGETS, &t) != 0) return errno;
    // The kernel reads cmd as 32 bits, so high bits (sign extension) must not matter.
    if (syscall(__NR_ioctl, tty, (1ul << 32) | TCGETS, &t) != 0) return errno;
    if (syscall(__NR_ioctl, tty, TIOCSTI, "x") != -1 || errno != EPERM) return kExitWrongResult;
    return 0;
  }));
}

TEST(SeccompDefaultProfile, AllowsDockerPersonalities) {
  ExpectSucceeds(RunInChild([] {
    if (personality(0xffffffff) == -1) return errno;
    return personality(PER_LINUX) == -1 ? errno : 0;
  }));
}

// Decision recorded in seccomp_policy.cc (kDebugging): debuggers work inside a session.
TEST(SeccompDefaultProfile, AllowsPtraceForDebuggers) {
  ExpectSucceeds(RunInChild([] {
    const pid_t pid = fork();
    if (pid == 0) _exit(ErrnoOf(syscall(__NR_ptrace, PTRACE_TRACEME, 0, nullptr, nullptr)));
    return WaitForSuccess(pid);
  }));
}

TEST(SeccompDefaultProfile, RunsShellCoreutilsAndPython) {
  ExpectSucceeds(RunInChild([] {
    // Seccomp: 2 means filter mode: the shell really runs under the inherited filter.
    const char* const shell[] = {"/bin/sh", "-c",
                                 "ls / >/dev/null && date >/dev/null && "
                                 "grep -q '^Seccomp:[[:space:]]*2' /proc/self/status",
                                 nullptr};
    if (const int rc = SpawnAndWait(shell); rc != 0) return rc;
    if (access("/usr/bin/python3", X_OK) != 0) return 0;
    const char* const python[] = {"/usr/bin/python3", "-c",
                                  "import socket, subprocess, threading\n"
                                  "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
                                  "subprocess.run(['/bin/true'], check=True)\n"
                                  "socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()\n",
                                  nullptr};
    return SpawnAndWait(python);
  }));
}

// ---- Other ABIs kill the process ---------------------------------------------------------

TEST(SeccompDefaultProfile, KillsProcessOnX32Syscall) {
  const Outcome outcome = RunInChild([] { return ErrnoOf(syscall(0x40000000 | __NR_getpid)); });
  EXPECT_TRUE(!outcome.exited && outcome.signal == SIGSYS) << Describe(outcome);
}

long I386Getpid() {
  long rc = 20;  // __NR_getpid in the i386 table
  asm volatile("int $0x80" : "+a"(rc) : : "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11", "memory");
  return rc;
}

TEST(SeccompDefaultProfile, KillsProcessOnI386Syscall) {
  const Outcome probe = RunInChild([] { return I386Getpid() == getpid() ? 0 : 1; }, false);
  if (!probe.exited || probe.code != 0) GTEST_SKIP() << "no i386 syscall entry on this kernel";
  const Outcome outcome = RunInChild([] { return I386Getpid() == getpid() ? 0 : 1; });
  EXPECT_TRUE(!outcome.exited && outcome.signal == SIGSYS) << Describe(outcome);
}

// ---- The policy tables and the compiler --------------------------------------------------

const seccomp::Policy& DefaultPolicy() {
  const seccomp::Policy* policy = seccomp::FindPolicy("default");
  if (policy == nullptr) std::abort();
  return *policy;
}

// Names that are absent on x86-64 or newer than Debian 12's libseccomp 2.5.4. Anything else
// that does not resolve is a typo.
const std::set<std::string_view> kUnresolvableHere = {
    "vm86",        "vm86old",       "mseal",          "getxattrat", "setxattrat",
    "listxattrat", "removexattrat", "open_tree_attr", "statmount",  "listmount"};

TEST(SeccompPolicy, EveryNameResolvesOrIsKnownToBeNewer) {
  for (const auto& sets : {DefaultPolicy().allowed, DefaultPolicy().denied}) {
    for (const seccomp::SyscallSet& set : sets) {
      for (std::string_view name : set.syscalls) {
        EXPECT_TRUE(seccomp::ResolveSyscall(name) >= 0 || kUnresolvableHere.contains(name))
            << set.name << ": '" << name << "' is not an x86-64 syscall libseccomp knows";
      }
    }
  }
}

TEST(SeccompPolicy, NoSyscallIsAllowedTwiceOrBothAllowedAndDenied) {
  std::set<std::string_view> allowed;
  for (const seccomp::SyscallSet& set : DefaultPolicy().allowed) {
    for (std::string_view name : set.syscalls) {
      EXPECT_TRUE(allowed.insert(name).second) << name << " again in " << set.name;
    }
  }
  for (const seccomp::ArgRestriction& r : DefaultPolicy().restrictions) {
    EXPECT_TRUE(allowed.insert(r.syscall).second) << r.syscall << " again in " << r.name;
  }
  for (const seccomp::SyscallSet& set : DefaultPolicy().denied) {
    for (std::string_view name : set.syscalls) {
      EXPECT_FALSE(allowed.contains(name)) << name << " is allowed but listed in " << set.name;
    }
  }
}

TEST(SeccompPolicy, EveryDeniedSyscallHasATestLine) {
  std::set<std::string_view> tested;
  for (const ForbiddenCall& c : kForbiddenCalls) tested.insert(c.name);
  for (const seccomp::SyscallSet& set : DefaultPolicy().denied) {
    for (std::string_view name : set.syscalls) {
      if (seccomp::ResolveSyscall(name) < 0) continue;  // the arch check covers it
      EXPECT_TRUE(tested.contains(name)) << set.name << ": no test line for " << name;
    }
  }
}

TEST(SeccompCompile, Low32ComplementMatchesAllButTheExcludedLowWords) {
  const uint64_t excluded[] = {TIOCSTI, TIOCLINUX};
  const std::vector<seccomp::MaskedValue> rules = seccomp::Low32Complement(excluded);
  const auto allowed = [&](uint64_t x) {
    return std::any_of(rules.begin(), rules.end(),
                       [&](const seccomp::MaskedValue& r) { return (x & r.mask) == r.value; });
  };
  for (const uint64_t high : {0ul, 1ul << 32, 0xffffffff00000000ul}) {
    for (uint64_t low = 0; low <= 0xffff; ++low) {
      ASSERT_EQ(allowed(high | low), low != TIOCSTI && low != TIOCLINUX) << std::hex << low;
    }
    for (const uint64_t low : {0x80000000ul, 0xfffffffful, TIOCSTI | 1ul << 31}) {
      EXPECT_TRUE(allowed(high | low)) << std::hex << low;
    }
  }
  for (const seccomp::MaskedValue& r : rules) EXPECT_EQ(r.mask >> 32, 0u);
}

TEST(SeccompCompile, UnknownProfileIsAnError) {
  const auto program = CompileSeccompProfile("no-such-profile");
  ASSERT_FALSE(program.has_value());
  EXPECT_EQ(program.error().code(), std::make_error_code(std::errc::invalid_argument));
  EXPECT_NE(program.error().message().find("'no-such-profile'"), std::string::npos);
  EXPECT_FALSE(CachedSeccompProfile("no-such-profile").has_value());
}

TEST(SeccompCompile, CachedProfileIsCompiledOnce) {
  const auto first = CachedSeccompProfile("default");
  const auto second = CachedSeccompProfile("default");
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ((*first)->bpf.size() % 8, 0u);
}

// moat-init's program lets clone3 through (it starts applications in their cgroup2 groups
// with it) and keeps every other rule; the filter each application adds refuses clone3 again.
TEST(SeccompSupervisorProgram, LetsOnlyClone3ThroughAndApplicationsLoseItAgain) {
  const auto supervisor = CachedSeccompProfile("default", SeccompAudience::kSupervisor);
  ASSERT_TRUE(supervisor) << supervisor.error().message();
  ASSERT_NE(*supervisor, DefaultProgram());
  const SeccompProgram* program = *supervisor;
  constexpr int kClone3Refused = 1, kNamespaceAllowed = 2, kUnshareAllowed = 3, kStillAllowed = 4;
  const Outcome outcome = RunInChild(
      [program] {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            InstallSeccompProgram(program->bpf.data(), program->bpf.size()) != 0) {
          return kExitSetupFailed;
        }
        // A zero size is EINVAL from the kernel itself: the call got through.
        if (ErrnoOf(syscall(__NR_clone3, nullptr, 0)) != EINVAL) return kClone3Refused;
        if (ErrnoOf(CloneWith(CLONE_NEWUSER)) != EPERM) return kNamespaceAllowed;
        if (ErrnoOf(unshare(CLONE_NEWNS)) != EPERM) return kUnshareAllowed;
        if (InstallApplicationFilter() != 0) return kExitSetupFailed;
        if (ErrnoOf(Clone3(CLONE_NEWUSER)) != ENOSYS) return kStillAllowed;
        if (ErrnoOf(syscall(__NR_clone3, nullptr, 0)) != ENOSYS) return kStillAllowed;
        // ...and the rest of the program still holds under the added filter.
        if (ErrnoOf(CloneWith(CLONE_NEWUSER)) != EPERM) return kNamespaceAllowed;
        return 0;
      },
      /*filtered=*/false);
  EXPECT_TRUE(outcome.exited) << Describe(outcome);
  EXPECT_EQ(outcome.code, 0) << "1: clone3 refused, 2: a namespace clone allowed, 3: unshare "
                                "allowed, 4: clone3 allowed after the application filter";
}

// InstallApplicationFilter adds back exactly what kSupervisor leaves out; it knows one rule.
TEST(SeccompPolicy, OnlyClone3sEnosysIsLeftToTheApplicationFilter) {
  int exempt = 0;
  for (const seccomp::ArgRestriction& r : DefaultPolicy().restrictions) {
    if (!r.supervisor_exempt) continue;
    ++exempt;
    EXPECT_EQ(r.syscall, "clone3") << r.name;
    EXPECT_EQ(r.kind, seccomp::RestrictionKind::kFailWithErrno) << r.name;
    EXPECT_EQ(r.errno_value, ENOSYS) << r.name;
  }
  EXPECT_EQ(exempt, 1);
}

TEST(SeccompCompile, InstallRejectsMalformedPrograms) {
  const uint8_t bytes[12] = {};
  EXPECT_EQ(InstallSeccompProgram(nullptr, 8), -EINVAL);
  EXPECT_EQ(InstallSeccompProgram(bytes, 0), -EINVAL);
  EXPECT_EQ(InstallSeccompProgram(bytes, sizeof(bytes)), -EINVAL);
}

}  // namespace
}  // namespace moat::sandbox
