// /proc and /sys attacks: host-wide knobs (sysrq, sysctls, uevent helper, binfmt_misc) that
// run code as host root or take the host down, kernel memory, PID 1's secrets, and the
// CVE-2019-5736 trick of writing through /proc/<pid>/exe to a host binary. Where a write is
// the real test it writes back the value it read, so a bare-host run changes nothing.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "probe.h"

namespace moat::escape {
namespace {

// Opening is the whole test: a writable fd on sysrq-trigger can reboot or crash the host.
Outcome ProcSysrqTrigger(const Facts&) { return OpenForWrite("/proc/sysrq-trigger"); }

Outcome ProcSysHostname(const Facts&) { return RewriteSame("/proc/sys/kernel/hostname"); }

// core_pattern and modprobe name programs the kernel runs as host root.
Outcome ProcSysCorePattern(const Facts&) { return RewriteSame("/proc/sys/kernel/core_pattern"); }
Outcome ProcSysModprobe(const Facts&) { return RewriteSame("/proc/sys/kernel/modprobe"); }

Outcome ProcSysDropCaches(const Facts&) {
  const char* path = "/proc/sys/vm/drop_caches";
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Blocked(Failed("open '/proc/sys/vm/drop_caches' for writing", errno));
  struct stat st {};
  fstat(fd, &st);
  if (S_ISCHR(st.st_mode)) {
    close(fd);
    return Blocked("'/proc/sys/vm/drop_caches' is masked by a device node");
  }
  // "4" only silences the kernel's drop_caches log line: proof of write without the cost.
  ssize_t n = write(fd, "4", 1);
  int err = errno;
  close(fd);
  if (n != 1) return Blocked(Failed("write '/proc/sys/vm/drop_caches'", err));
  return Escaped("wrote '/proc/sys/vm/drop_caches'");
}

// A binfmt_misc handler registered from inside runs for every matching exec on the host.
Outcome BinfmtMiscRegister(const Facts&) {
  return OpenForWrite("/proc/sys/fs/binfmt_misc/register");
}

Outcome SysUeventHelper(const Facts&) {
  const char* path = "/sys/kernel/uevent_helper";
  int err = 0;
  if (!Exists(path, &err)) return Blocked(Failed(std::string("stat '") + path + "'", err));
  return RewriteSame(path);
}

Outcome SysfsWrite(const Facts&) {
  std::vector<std::string> paths = {
      "/sys/kernel/uevent_helper", "/sys/kernel/mm/transparent_hugepage/enabled",
      "/sys/power/state",          "/sys/module/printk/parameters/time",
      "/sys/kernel/profiling",     "/sys/class/net/lo/mtu"};
  int err = 0;
  for (const auto& block : ListDir("/sys/block", &err)) {
    paths.push_back("/sys/block/" + block + "/queue/scheduler");
  }
  std::vector<std::string> failures;
  for (const auto& path : paths) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
      close(fd);
      return Escaped("opened '" + path + "' for writing");
    }
    if (errno != ENOENT && errno != EISDIR) failures.push_back(path + ": " + ErrName(errno));
  }
  if (failures.empty()) return Blocked("none of the sysfs files exist");
  return Blocked(Join(failures, ", "));
}

// The session's own limits and its frozen state belong to the agent: a session that could
// write them would lift its caps or thaw itself after an admin's suspend. In a delegated v2
// tree only cgroup.procs, cgroup.threads and cgroup.subtree_control are the session's.
Outcome CgroupLimitsWrite(const Facts&) {
  const char* files[] = {"memory.max",      "memory.high",
                         "memory.swap.max", "pids.max",
                         "cpu.max",         "cpu.weight",
                         "io.max",          "io.weight",
                         "cgroup.freeze",   "memory/memory.limit_in_bytes",
                         "pids/pids.max",   "cpu/cpu.cfs_quota_us",
                         "cpu/cpu.shares",  "freezer/freezer.state"};
  std::vector<std::string> dirs = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
  // Our own cgroup as the kernel names it, in case /sys/fs/cgroup is the host's whole tree.
  std::string own = ReadFile("/proc/self/cgroup").data;
  if (size_t p = own.find("0::"); p != std::string::npos) {
    std::string rel = own.substr(p + 3, own.find('\n', p) - p - 3);
    if (rel != "/") dirs.push_back("/sys/fs/cgroup" + rel);
  }
  std::vector<std::string> failures;
  for (const auto& dir : dirs) {
    for (const char* file : files) {
      std::string path = dir + "/" + file;
      int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK);
      if (fd >= 0) {
        close(fd);
        return Escaped("opened '" + path + "' for writing");
      }
      if (errno != ENOENT) failures.push_back(path + ": " + ErrName(errno));
    }
  }
  if (failures.empty()) return Blocked("no cgroup limit file is visible");
  return Blocked(Join(failures, ", "));
}

Outcome ProcKcore(const Facts&) {
  ReadResult r = ReadFile("/proc/kcore", 64);
  if (!r.ok) return Blocked(ReadFailure("/proc/kcore", r));
  if (r.data.empty()) return Blocked("'/proc/kcore' reads as empty (masked)");
  return Escaped("read " + std::to_string(r.data.size()) + " bytes of kernel memory");
}

Outcome ProcInitEnviron(const Facts&) {
  ReadResult r = ReadFile("/proc/1/environ", 1 << 16);
  if (!r.ok) return Blocked(ReadFailure("/proc/1/environ", r));
  return Escaped("read " + std::to_string(r.data.size()) + " bytes of PID 1's environment");
}

// /proc/PID/cmdline is readable whatever the process's dumpable flag says: PID 1's must not
// show the host's (the path moat-init was started from).
Outcome ProcInitCmdline(const Facts&) {
  ReadResult r = ReadFile("/proc/1/cmdline", 1 << 16);
  if (!r.ok) return Blocked(ReadFailure("/proc/1/cmdline", r));
  std::string shown = r.data.substr(0, r.data.find_last_not_of('\0') + 1);
  for (char& c : shown) c = c == '\0' ? ' ' : c;
  // "/init": a VM guest's moat-init, which the guest's kernel started under that name.
  if (shown.empty() || shown == "moat-init" || shown == "/init") {
    return Blocked("PID 1's command line is '" + shown + "' alone");
  }
  return Escaped("PID 1's command line is the host's: '" + shown.substr(0, 120) + "'");
}

Outcome ProcInitMem(const Facts&) {
  int fd = open("/proc/1/mem", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Blocked(Failed("open '/proc/1/mem'", errno));
  close(fd);
  return Escaped("opened PID 1's memory (/proc/1/mem)");
}

// CVE-2019-5736: runc's /proc/self/exe was the host runc binary; a container that could open
// it for writing replaced runc on the host.
Outcome OverwriteExe(const std::string& link) {
  int fd = open(link.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return Escaped("opened '" + link + "' for writing");
  }
  int err = errno;
  if (err != ETXTBSY) return Blocked(Failed("open '" + link + "' for writing", err));
  // ETXTBSY only means the binary runs right now, after the permission checks passed; the
  // CVE waits for it to exit. access(W_OK) answers without the busy check, and sees a
  // read-only mount, which ETXTBSY would hide.
  if (faccessat(AT_FDCWD, link.c_str(), W_OK, AT_EACCESS) == 0) {
    return Escaped("'" + link + "' is writable; only busy (ETXTBSY) while it runs");
  }
  return Blocked(Failed("access '" + link + "' W_OK", errno));
}

Outcome ProcSelfExeOverwrite(const Facts&) { return OverwriteExe("/proc/self/exe"); }
Outcome ProcInitExeOverwrite(const Facts&) { return OverwriteExe("/proc/1/exe"); }

constexpr Attack kAttacks[] = {
    {"proc-sysrq-trigger", ProcSysrqTrigger},
    {"proc-sys-hostname", ProcSysHostname},
    {"proc-sys-core-pattern", ProcSysCorePattern},
    {"proc-sys-modprobe", ProcSysModprobe},
    {"proc-sys-drop-caches", ProcSysDropCaches},
    {"binfmt-misc-register", BinfmtMiscRegister},
    {"sys-uevent-helper", SysUeventHelper},
    {"sysfs-write", SysfsWrite},
    {"cgroup-limits-write", CgroupLimitsWrite},
    {"proc-kcore", ProcKcore},
    {"proc-init-environ", ProcInitEnviron},
    {"proc-init-mem", ProcInitMem},
    {"proc-init-cmdline", ProcInitCmdline},
    {"proc-self-exe-overwrite", ProcSelfExeOverwrite},
    {"proc-init-exe-overwrite", ProcInitExeOverwrite},
};

}  // namespace

std::span<const Attack> ProcSysAttacks() { return kAttacks; }

}  // namespace moat::escape
