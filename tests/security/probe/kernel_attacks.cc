// Privileged syscalls that reach host-global kernel state: modules, kexec and reboot, swap,
// the clock, keyrings (not namespaced), BPF, userfaultfd, perf, io_uring, port I/O, process
// accounting, quotas and the kernel log. A wall holds no capability and its seccomp policy
// denies most of these outright. Each call is built to fail harmlessly right after its
// permission check (bad magic, a junk module image, a path that does not exist), so a
// failure other than the denial errno proves the check passed without changing the host.
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/userfaultfd.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/quota.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "probe.h"

namespace moat::escape {
namespace {

constexpr char kJunkModule[] = "moat-escape: this is not an ELF kernel module";

Outcome InitModule(const Facts&) {
  long rc = syscall(SYS_init_module, kJunkModule, sizeof(kJunkModule), "");
  return JudgeGate("init_module", rc, errno);
}

Outcome FinitModule(const Facts&) {
  int fd = memfd_create("moat-escape-module", MFD_CLOEXEC);
  if (fd < 0) return Blocked(Failed("memfd_create", errno));
  (void)!write(fd, kJunkModule, sizeof(kJunkModule));
  long rc = syscall(SYS_finit_module, fd, "", 0);
  int err = errno;
  close(fd);
  return JudgeGate("finit_module", rc, err);
}

Outcome DeleteModule(const Facts&) {
  long rc = syscall(SYS_delete_module, "moat_escape_nonexistent", O_NONBLOCK);
  return JudgeGate("delete_module", rc, errno);
}

// Keyrings are not namespaced: a key is shared by every process of a uid on the host.
Outcome AddKey(const Facts&) {
  long rc = syscall(SYS_add_key, "user", "moat-escape", "x", 1, KEY_SPEC_PROCESS_KEYRING);
  return JudgeGate("add_key", rc, errno);
}

Outcome KeyctlUserKeyring(const Facts&) {
  long rc = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0);
  if (rc >= 0) return Escaped("reached the uid's host-wide user keyring " + std::to_string(rc));
  return JudgeGate("keyctl(KEYCTL_GET_KEYRING_ID, user keyring)", rc, errno);
}

Outcome BpfMapCreate(const Facts&) {
  bpf_attr attr{};
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
  int err = errno;
  if (fd >= 0) close(static_cast<int>(fd));
  return JudgeGate("bpf(BPF_MAP_CREATE)", fd, err);
}

Outcome BpfProgLoad(const Facts&) {
  // r0 = 0; exit
  bpf_insn prog[2] = {};
  prog[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  prog[1].code = BPF_JMP | BPF_EXIT;
  const char license[] = "GPL";
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = reinterpret_cast<uint64_t>(prog);
  attr.insn_cnt = 2;
  attr.license = reinterpret_cast<uint64_t>(license);
  long fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
  int err = errno;
  if (fd >= 0) close(static_cast<int>(fd));
  return JudgeGate("bpf(BPF_PROG_LOAD)", fd, err);
}

// userfaultfd stalls kernel copies at will, the usual way to win a kernel race.
Outcome Userfaultfd(const Facts&) {
  for (int flags : {O_CLOEXEC, O_CLOEXEC | UFFD_USER_MODE_ONLY}) {
    long fd = syscall(SYS_userfaultfd, flags);
    if (fd >= 0) {
      close(static_cast<int>(fd));
      return Escaped(std::string("userfaultfd") +
                     (flags & UFFD_USER_MODE_ONLY ? "(UFFD_USER_MODE_ONLY)" : "") + " succeeded");
    }
  }
  int err = errno;
  int fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return Escaped("opened /dev/userfaultfd");
  }
  return Blocked(Failed("userfaultfd", err) + "; " + Failed("open /dev/userfaultfd", errno));
}

Outcome PerfEventOpen(const Facts&) {
  perf_event_attr attr{};
  attr.type = PERF_TYPE_SOFTWARE;
  attr.size = sizeof(attr);
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  int err = errno;
  if (fd >= 0) close(static_cast<int>(fd));
  return JudgeGate("perf_event_open", fd, err, {EPERM, EACCES, ENOSYS, ENOENT});
}

Outcome Reboot(const Facts&) {
  // Both magics wrong: the kernel checks CAP_SYS_BOOT first, then answers EINVAL.
  long rc = syscall(SYS_reboot, 0, 0, LINUX_REBOOT_CMD_CAD_OFF, nullptr);
  return JudgeGate("reboot", rc, errno);
}

Outcome KexecLoad(const Facts&) {
  // 17 segments is one over KEXEC_SEGMENT_MAX: EINVAL once the permission check has passed.
  long rc = syscall(SYS_kexec_load, 0, 17, nullptr, 0);
  return JudgeGate("kexec_load", rc, errno);
}

Outcome Swapon(const Facts&) {
  long rc = swapon("/proc/self/moat-escape-nonexistent", 0);
  return JudgeGate("swapon", rc, errno);
}

Outcome SetTime(const Facts&) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  // The time just read: a bare-host run moves the clock by microseconds at most.
  long rc = clock_settime(CLOCK_REALTIME, &now);
  return JudgeGate("clock_settime(CLOCK_REALTIME)", rc, errno);
}

Outcome Sethostname(const Facts&) {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  long rc = sethostname(name, strlen(name));
  return JudgeGate("sethostname", rc, errno);
}

Outcome Iopl(const Facts&) {
#if defined(__x86_64__) || defined(__i386__)
  long rc = syscall(SYS_iopl, 3);
  return JudgeGate("iopl(3)", rc, errno);
#else
  return Blocked("iopl does not exist on this architecture");
#endif
}

Outcome Ioperm(const Facts&) {
#if defined(__x86_64__) || defined(__i386__)
  long rc = syscall(SYS_ioperm, 0x80, 1, 1);
  return JudgeGate("ioperm(0x80)", rc, errno);
#else
  return Blocked("ioperm does not exist on this architecture");
#endif
}

Outcome Acct(const Facts&) {
  // A path that cannot exist: CAP_SYS_PACCT is checked first, then ENOENT.
  long rc = acct("/proc/self/moat-escape-nonexistent/acct");
  return JudgeGate("acct", rc, errno);
}

Outcome Quotactl(const Facts&) {
  // Another user's quota needs CAP_SYS_ADMIN; ESRCH (quotas off) means the check passed.
  int other = getuid() == 65534 ? 0 : 65534;
  std::vector<std::string> failures;
  for (const auto& dev : BlockDevicePaths()) {
    if (!Exists(dev)) continue;
    dqblk q{};
    long rc = quotactl(QCMD(Q_GETQUOTA, USRQUOTA), dev.c_str(), other, reinterpret_cast<char*>(&q));
    Outcome o = JudgeGate("quotactl Q_GETQUOTA '" + dev + "'", rc, errno,
                          {EPERM, EACCES, ENOSYS, ENOENT, ENODEV, ENOTBLK, EROFS});
    if (o.verdict == Verdict::kEscaped) return o;
    failures.push_back(o.detail);
  }
  if (failures.empty()) return Blocked("no block device is reachable for quotactl");
  return Blocked(Join(failures, "; "));
}

Outcome IoUringSetup(const Facts&) {
  io_uring_params params{};
  long fd = syscall(SYS_io_uring_setup, 1, &params);
  int err = errno;
  if (fd >= 0) close(static_cast<int>(fd));
  return JudgeGate("io_uring_setup", fd, err);
}

Outcome SyslogRead(const Facts&) {
  char buf[4096];
  int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf));
  if (n >= 0) return Escaped("read " + std::to_string(n) + " bytes of the kernel log (syslog)");
  return Blocked(Failed("syslog(SYSLOG_ACTION_READ_ALL)", errno));
}

constexpr Attack kAttacks[] = {
    {"init-module", InitModule},
    {"finit-module", FinitModule},
    {"delete-module", DeleteModule},
    {"add-key", AddKey},
    {"keyctl-user-keyring", KeyctlUserKeyring},
    {"bpf-map-create", BpfMapCreate},
    {"bpf-prog-load", BpfProgLoad},
    {"userfaultfd", Userfaultfd},
    {"perf-event-open", PerfEventOpen},
    {"reboot", Reboot},
    {"kexec-load", KexecLoad},
    {"swapon", Swapon},
    {"set-time", SetTime},
    {"sethostname", Sethostname},
    {"iopl", Iopl},
    {"ioperm", Ioperm},
    {"acct", Acct},
    {"quotactl", Quotactl},
    {"io-uring-setup", IoUringSetup},
    {"syslog-read", SyslogRead},
};

}  // namespace

std::span<const Attack> KernelAttacks() { return kAttacks; }

}  // namespace moat::escape
