// The "default" session profile: an allow-list at least as strict as Docker's default profile
// (moby profiles/seccomp/default.json, for a container without added capabilities), with
// everything else failing with EPERM. Tables are x86-64 names; only the x86-64 ABI is
// admitted (i386 and x32 entry kill the process, see seccomp_compile.cc). Names newer than the
// installed libseccomp (mseal, getxattrat, ...: Docker allows them) stay denied until it learns
// their numbers; calls Docker does not list yet (file_getattr, 6.17) are left out altogether.
//
// Where this profile is stricter than Docker (each also listed in a denied set below):
//   adjtimex, clock_adjtime  read-only clocks only; NTP state is the host's business
//   io_uring_*               large, fast-moving attack surface; Docker >= 25 denies it too
//   name_to_handle_at        pairs with open_by_handle_at ("shocker" breakout)
//   process_vm_readv/writev  no desktop need; debuggers use ptrace or /proc/PID/mem instead
//   modify_ldt               16-bit segments, a history of entry bugs (CVE-2015-3290)
//   fanotify_mark            fanotify is denied as a whole: whole-mount file watching
//   cachestat                page-cache residency of any readable file: a side channel
//   socket(AF_VSOCK)         guest-to-host channel of a VM; no session has a use for it
//   i386 and x32 ABIs        a second syscall table is a second filter to get right
#include "seccomp_policy.h"

#include <sched.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <string_view>

namespace moat::sandbox::seccomp {
namespace {

using Names = std::string_view[];

// ---- Allowed sets ------------------------------------------------------------------------
// clang-format off

constexpr Names kFileIo = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "preadv2", "pwritev",
    "pwritev2", "lseek", "open", "openat", "openat2", "creat", "close", "close_range", "dup",
    "dup2", "dup3", "fcntl", "flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
    "fadvise64", "fallocate", "readahead", "truncate", "ftruncate", "copy_file_range", "sendfile",
    "splice", "tee", "vmsplice", "pipe", "pipe2"};

// mknod: device nodes are refused by the missing CAP_MKNOD; FIFOs and sockets are fine (Docker).
constexpr Names kFilesystemMetadata = {
    "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat",
    "faccessat2", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "readlink", "readlinkat",
    "mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2", "link", "linkat", "symlink",
    "symlinkat", "unlink", "unlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown",
    "fchown", "fchownat", "lchown", "utime", "utimes", "utimensat", "futimesat", "umask", "mknod",
    "mknodat"};

constexpr Names kExtendedAttributes = {
    "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr",
    "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr", "getxattrat",
    "setxattrat", "listxattrat", "removexattrat"};

constexpr Names kMemory = {
    "brk", "mmap", "munmap", "mprotect", "mremap", "msync", "mincore", "madvise", "mlock", "mlock2",
    "mlockall", "munlock", "munlockall", "memfd_create", "memfd_secret", "membarrier",
    "remap_file_pages", "pkey_alloc", "pkey_free", "pkey_mprotect", "mseal", "map_shadow_stack"};

constexpr Names kProcessLifecycle = {
    "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
    "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "arch_prctl", "prctl",
    "get_thread_area", "set_thread_area", "restart_syscall", "pidfd_open", "process_mrelease"};

// Both only ever take privileges away from the caller.
constexpr Names kSelfRestriction = {
    "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"};

// The setuid family is inert without CAP_SETUID/CAP_SETGID, which sessions never hold.
constexpr Names kCredentials = {
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
    "getresgid", "getgroups", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
    "setfsuid", "setfsgid", "setgroups", "getpgid", "getpgrp", "setpgid", "getsid", "setsid",
    "capget", "capset"};

constexpr Names kSchedulingAndLimits = {
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr",
    "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "getpriority",
    "setpriority", "ioprio_get", "ioprio_set", "getrlimit", "setrlimit", "prlimit64", "getrusage",
    "times"};

constexpr Names kSystemInfo = {"uname", "sysinfo", "getcpu", "getrandom"};

constexpr Names kSignals = {
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "kill", "tkill",
    "tgkill", "pidfd_send_signal", "pause", "signalfd", "signalfd4"};

// Reading clocks and arming timers; nothing that sets or slews a clock.
constexpr Names kTime = {
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    "alarm", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_gettime",
    "timer_settime", "timer_getoverrun", "timerfd_create", "timerfd_gettime", "timerfd_settime"};

constexpr Names kEventPolling = {
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl_old", "epoll_wait_old", "eventfd",
    "eventfd2", "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch"};

constexpr Names kFutex = {"futex", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue"};

constexpr Names kAsyncIo = {
    "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents"};

// socket(2) itself is in kRestrictSocketFamily below.
constexpr Names kNetworkSockets = {
    "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname", "getpeername",
    "getsockopt", "setsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
    "shutdown"};

constexpr Names kIpcSysv = {
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget",
    "msgsnd", "msgrcv", "msgctl"};

constexpr Names kIpcPosixMq = {
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr"};

// Debuggers and crash reporters (gdb, strace, crashpad) need ptrace. Docker allows it from
// kernel 4.8, which re-runs seccomp after a tracer rewrites a syscall, so a tracer cannot
// lift a tracee out of this filter. Reach is bounded by the session's pid namespace, its
// single uid and the absence of CAP_SYS_PTRACE. Anything entered into a session's pid
// namespace under the session uid WITHOUT this filter must be made non-dumpable first.
constexpr Names kDebugging = {"ptrace"};

// clang-format on

constexpr SyscallSet kAllowedSets[] = {
    {"kFileIo", kFileIo},
    {"kFilesystemMetadata", kFilesystemMetadata},
    {"kExtendedAttributes", kExtendedAttributes},
    {"kMemory", kMemory},
    {"kProcessLifecycle", kProcessLifecycle},
    {"kSelfRestriction", kSelfRestriction},
    {"kCredentials", kCredentials},
    {"kSchedulingAndLimits", kSchedulingAndLimits},
    {"kSystemInfo", kSystemInfo},
    {"kSignals", kSignals},
    {"kTime", kTime},
    {"kEventPolling", kEventPolling},
    {"kFutex", kFutex},
    {"kAsyncIo", kAsyncIo},
    {"kNetworkSockets", kNetworkSockets},
    {"kIpcSysv", kIpcSysv},
    {"kIpcPosixMq", kIpcPosixMq},
    {"kDebugging", kDebugging},
};

// ---- Argument restrictions ---------------------------------------------------------------

// CLONE_NEWTIME (0x80) lies in clone(2)'s exit-signal byte, where it is never a valid signal;
// it is listed so the mask names every namespace flag.
constexpr uint64_t kNamespaceCloneFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                          CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                          CLONE_NEWCGROUP | CLONE_NEWTIME;

constexpr uint64_t kTerminalInjectionIoctls[] = {TIOCSTI, TIOCLINUX};

// 0xffffffff only queries the current persona.
constexpr uint64_t kDockerPersonalities[] = {PER_LINUX, PER_LINUX32, UNAME26,
                                             uint64_t{PER_LINUX32} | uint64_t{UNAME26}, 0xffffffff};

constexpr uint64_t kDeniedSocketFamilies[] = {AF_VSOCK};

constexpr ArgRestriction kRestrictions[] = {
    {.name = "kRestrictCloneToNoNewNamespaces",
     .syscall = "clone",
     .kind = RestrictionKind::kAllowIfMaskedZero,
     .arg = 0,
     .mask = kNamespaceCloneFlags,
     .reason = "new namespaces are how unprivileged users reach mount/net kernel code"},
    {.name = "kClone3ReturnsEnosys",
     .syscall = "clone3",
     .kind = RestrictionKind::kFailWithErrno,
     .errno_value = ENOSYS,
     .reason = "flags sit behind a pointer seccomp cannot read; ENOSYS makes libc use clone",
     // moat-init starts applications right in their cgroup2 groups (CLONE_INTO_CGROUP).
     .supervisor_exempt = true},
    {.name = "kDenyTerminalInjectionIoctls",
     .syscall = "ioctl",
     .kind = RestrictionKind::kAllowUnlessLow32In,
     .arg = 1,
     .values = kTerminalInjectionIoctls,
     .reason = "TIOCSTI/TIOCLINUX push input into another program's tty (CVE-2017-5226)"},
    {.name = "kRestrictPersonality",
     .syscall = "personality",
     .kind = RestrictionKind::kAllowIfLow32In,
     .arg = 0,
     .values = kDockerPersonalities,
     .reason = "other flags (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE) weaken exploit mitigations"},
    {.name = "kRestrictSocketFamily",
     .syscall = "socket",
     .kind = RestrictionKind::kAllowUnlessLow32In,
     .arg = 0,
     .values = kDeniedSocketFamilies,
     .reason = "AF_VSOCK talks to the hypervisor; raw/packet sockets already need CAP_NET_RAW"},
};

// ---- Denied sets (documentation and tests; the default action denies them) --------------
// clang-format off

constexpr Names kNamespaces = {"unshare", "setns"};

constexpr Names kMountAndRoot = {
    "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "open_tree_attr", "mount_setattr", "statmount", "listmount"};

constexpr Names kKernelCode = {
    "create_module", "init_module", "finit_module", "delete_module", "query_module",
    "get_kernel_syms", "kexec_load", "kexec_file_load"};

constexpr Names kKeyring = {"add_key", "request_key", "keyctl"};

constexpr Names kClockSetting = {"settimeofday", "clock_settime", "clock_adjtime", "adjtimex"};

constexpr Names kHardwareAccess = {"iopl", "ioperm", "modify_ldt", "vm86", "vm86old"};

constexpr Names kKernelObservation = {
    "bpf", "perf_event_open", "lookup_dcookie", "syslog", "fanotify_init", "fanotify_mark",
    "cachestat"};

// userfaultfd stalls kernel page faults at will: the standard tool for winning kernel races.
constexpr Names kExploitPrimitives = {
    "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register"};

constexpr Names kFileHandles = {"open_by_handle_at", "name_to_handle_at"};

constexpr Names kCrossProcess = {
    "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp", "pidfd_getfd"};

constexpr Names kNumaPolicy = {
    "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node", "mbind", "move_pages",
    "migrate_pages"};

constexpr Names kHostAdministration = {
    "acct", "swapon", "swapoff", "reboot", "quotactl", "quotactl_fd", "sethostname",
    "setdomainname", "vhangup"};

constexpr Names kObsolete = {
    "uselib", "ustat", "sysfs", "_sysctl", "nfsservctl", "afs_syscall", "tuxcall", "security",
    "putpmsg", "getpmsg", "vserver"};

// clang-format on

constexpr SyscallSet kDeniedSets[] = {
    {"kNamespaces", kNamespaces},
    {"kMountAndRoot", kMountAndRoot},
    {"kKernelCode", kKernelCode},
    {"kKeyring", kKeyring},
    {"kClockSetting", kClockSetting},
    {"kHardwareAccess", kHardwareAccess},
    {"kKernelObservation", kKernelObservation},
    {"kExploitPrimitives", kExploitPrimitives},
    {"kFileHandles", kFileHandles},
    {"kCrossProcess", kCrossProcess},
    {"kNumaPolicy", kNumaPolicy},
    {"kHostAdministration", kHostAdministration},
    {"kObsolete", kObsolete},
};

constexpr Policy kDefaultPolicy = {.name = "default",
                                   .default_errno = EPERM,
                                   .allowed = kAllowedSets,
                                   .restrictions = kRestrictions,
                                   .denied = kDeniedSets};

constexpr std::string_view kPolicyNames[] = {kDefaultPolicy.name};

}  // namespace

const Policy* FindPolicy(std::string_view name) {
  if (name == kDefaultPolicy.name) return &kDefaultPolicy;
  return nullptr;
}

std::span<const std::string_view> PolicyNames() { return kPolicyNames; }

}  // namespace moat::sandbox::seccomp
