// Mount-table and namespace attacks: chroot and pivot_root, new mounts (tmpfs, proc, cgroup),
// the cgroup v1 release_agent (CVE-2022-0492), unmasking /proc, new or foreign namespaces, and
// clone3 (namespaces or another cgroup behind a pointer seccomp cannot read).
// A wall grants no CAP_SYS_ADMIN and its seccomp policy denies these calls; every attack that
// could change a mount table first moves into a private mount namespace, so that a bare-host
// run (where these succeed, as they must for the probe to prove it can see an escape) leaves
// the host's mounts alone.
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <sstream>

#include "probe.h"

namespace moat::escape {
namespace {

std::string PrivateNote(int private_ns_err) {
  return private_ns_err == 0 ? " (in a private mount namespace)" : "";
}

Outcome TryMount(const char* source, const char* fstype, const char* data) {
  int private_err = EnterPrivateMountNamespace();
  std::string dir = MakeTempDir();
  const std::string target = dir.empty() ? "/mnt" : dir;
  int rc = mount(source, target.c_str(), fstype, 0, data);
  int err = errno;
  if (rc == 0) umount2(target.c_str(), MNT_DETACH);
  if (!dir.empty()) rmdir(dir.c_str());
  std::string call = std::string("mount ") + fstype + " on '" + target + "'";
  if (rc == 0) return Escaped(call + " succeeded" + PrivateNote(private_err));
  if (private_err == 0) {
    return Escaped("unshare(CLONE_NEWNS) succeeded, so CAP_SYS_ADMIN is held; " +
                   Failed(call, err));
  }
  return JudgeGate(call, rc, err, {EPERM, EACCES, ENOSYS, EROFS});
}

Outcome ChrootBreakout(const Facts&) {
  std::string dir = MakeTempDir();
  if (dir.empty()) return Blocked(Failed("mkdtemp in /tmp", errno));
  std::string jail = dir + "/jail";
  mkdir(jail.c_str(), 0700);
  struct stat outer {};
  stat("/", &outer);
  int rc = chroot(jail.c_str());
  int err = errno;
  if (rc != 0) {
    rmdir(jail.c_str());
    rmdir(dir.c_str());
    return Blocked(Failed("chroot '" + jail + "'", err));
  }
  // The classic breakout: the cwd is outside the new root, so ".." climbs to the real root.
  for (int i = 0; i < 64; ++i) (void)!chdir("..");
  (void)!chroot(".");
  struct stat climbed {};
  stat("/", &climbed);
  rmdir(jail.c_str());
  rmdir(dir.c_str());
  bool out = climbed.st_dev == outer.st_dev && climbed.st_ino == outer.st_ino;
  return Escaped(std::string("chroot succeeded (CAP_SYS_CHROOT)") +
                 (out ? "; chdir(\"..\") climbed back to the outer root" : ""));
}

Outcome PivotRoot(const Facts&) {
  // Paths that do not exist: the permission check comes first, so ENOENT means it passed and
  // nothing is ever pivoted.
  long rc = syscall(SYS_pivot_root, "/moat-escape-nonexistent-new", "/moat-escape-nonexistent-old");
  return JudgeGate("pivot_root", rc, errno);
}

Outcome MountTmpfs(const Facts&) { return TryMount("tmpfs", "tmpfs", "size=1m"); }
Outcome MountProc(const Facts&) { return TryMount("proc", "proc", nullptr); }
Outcome MountCgroupV1(const Facts&) { return TryMount("cgroup", "cgroup", "none,name=moatesc"); }
Outcome MountCgroup2(const Facts&) { return TryMount("cgroup2", "cgroup2", nullptr); }

// CVE-2022-0492: cgroup v1's release_agent runs as root on the host. Writing it from a
// container (directly, or after mounting a v1 hierarchy from a new user namespace) escapes.
Outcome CgroupReleaseAgent(const Facts&) {
  std::vector<std::string> candidates = {"/sys/fs/cgroup/release_agent"};
  int err = 0;
  for (const auto& name : ListDir("/sys/fs/cgroup", &err)) {
    candidates.push_back("/sys/fs/cgroup/" + name + "/release_agent");
  }
  std::vector<std::string> notes;
  int refused = 0;
  std::string last;
  for (const auto& path : candidates) {
    if (!Exists(path)) continue;
    Outcome o = RewriteSame(path);
    if (o.verdict == Verdict::kEscaped) return o;
    ++refused;
    last = o.detail;
  }
  if (refused > 0)
    notes.push_back(std::to_string(refused) + " release_agent files refused, e.g. " + last);
  // The CVE route: a new user+mount+cgroup namespace, then a v1 mount of our own.
  bool userns = unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) == 0;
  if (!userns) {
    notes.push_back(Failed("unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWCGROUP)", errno));
    EnterPrivateMountNamespace();
  }
  std::string dir = MakeTempDir();
  if (dir.empty()) dir = "/mnt";
  for (const char* opts : {"memory", "rdma", "none,name=moatesc"}) {
    if (mount("cgroup", dir.c_str(), "cgroup", 0, opts) != 0) {
      notes.push_back(Failed(std::string("mount cgroup -o ") + opts, errno));
      continue;
    }
    Outcome o = RewriteSame(dir + "/release_agent");
    umount2(dir.c_str(), MNT_DETACH);
    if (o.verdict == Verdict::kEscaped) {
      rmdir(dir.c_str());
      return Escaped(std::string("mounted cgroup -o ") + opts + ", then " + o.detail);
    }
    notes.push_back(o.detail);
  }
  rmdir(dir.c_str());
  return Blocked(notes.empty() ? "no release_agent found" : Join(notes, "; "));
}

std::vector<std::string> ProcSubmounts() {
  ReadResult info = ReadFile("/proc/self/mountinfo");
  std::vector<std::string> mounts;
  std::istringstream lines(info.data);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    if (point.rfind("/proc/", 0) == 0) mounts.push_back(point);
  }
  // Deepest first, so a child mount goes before its parent.
  std::sort(mounts.begin(), mounts.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return mounts;
}

// Walls mask /proc/kcore, /proc/sysrq-trigger, … with binds and remount /proc/sys read-only;
// unmounting a mask would uncover the host file behind it.
Outcome UmountProcMask(const Facts&) {
  std::vector<std::string> targets = ProcSubmounts();
  int private_err = EnterPrivateMountNamespace();
  if (targets.empty()) targets.push_back("/proc");
  std::vector<std::string> failures;
  for (const auto& t : targets) {
    if (umount2(t.c_str(), MNT_DETACH) == 0) {
      return Escaped("umount '" + t + "' succeeded" + PrivateNote(private_err));
    }
    failures.push_back(Failed("umount '" + t + "'", errno));
  }
  if (private_err == 0) return Escaped("unshare(CLONE_NEWNS) succeeded; " + Join(failures, "; "));
  return Blocked(Join(failures, "; "));
}

Outcome Fsopen(const Facts&) {
  long fd = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
  int err = errno;
  if (fd >= 0) close(static_cast<int>(fd));
  return JudgeGate("fsopen tmpfs", fd, err);
}

Outcome OpenTreeClone(const Facts&) {
  long fd =
      syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  int err = errno;
  if (fd >= 0) close(static_cast<int>(fd));
  return JudgeGate("open_tree '/' OPEN_TREE_CLONE", fd, err);
}

Outcome UnshareNamespaces(const Facts&) {
  struct Kind {
    int flag;
    const char* name;
  };
  const Kind kinds[] = {{CLONE_NEWNS, "mnt"},   {CLONE_NEWNET, "net"}, {CLONE_NEWPID, "pid"},
                        {CLONE_NEWUTS, "uts"},  {CLONE_NEWIPC, "ipc"}, {CLONE_NEWCGROUP, "cgroup"},
                        {CLONE_NEWTIME, "time"}};
  std::vector<std::string> won, lost;
  for (const auto& k : kinds) {
    if (unshare(k.flag) == 0) {
      won.push_back(k.name);
    } else {
      lost.push_back(std::string(k.name) + ": " + ErrName(errno));
    }
  }
  if (!won.empty()) return Escaped("unshare without a user namespace created: " + Join(won, ", "));
  return Blocked("unshare " + Join(lost, ", "));
}

Outcome UnshareUserns(const Facts&) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    return Blocked(Failed("unshare(CLONE_NEWUSER|CLONE_NEWNS)", errno));
  }
  return Escaped("unshare(CLONE_NEWUSER|CLONE_NEWNS) succeeded: CapEff " + StatusField("CapEff") +
                 " in the new user namespace");
}

Outcome CloneNewuser(const Facts&) {
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid < 0) return Blocked(Failed("clone(CLONE_NEWUSER)", errno));
  waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return Escaped("clone(CLONE_NEWUSER) created a child in a new user namespace");
}

// clone3 takes its flags behind a pointer that seccomp cannot read, so the session's filter
// must refuse the call whole (ENOSYS, which sends libc back to clone): otherwise a session could
// make namespaces through it, or be born in another cgroup.
long Clone3(uint64_t flags, int cgroup_fd) {
  struct clone_args args {};
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) args.cgroup = static_cast<uint64_t>(cgroup_fd);
  return syscall(SYS_clone3, &args, sizeof(args));
}

Outcome Clone3Newuser(const Facts&) {
  // clone3 itself, without a flag: only the filter refuses that, and with ENOSYS. A refusal of
  // CLONE_NEWUSER alone could be the host's user namespace policy, proving nothing of the wall.
  long plain = Clone3(0, -1);
  if (plain == 0) _exit(0);
  if (plain > 0) {
    waitpid(static_cast<pid_t>(plain), nullptr, 0);
    return Escaped(
        "clone3 is allowed: its flags sit behind a pointer seccomp cannot read, so "
        "namespaces and cgroup moves are open to it");
  }
  if (errno != ENOSYS) {
    return Escaped(Failed("clone3(0)", errno) + ", not the filter's ENOSYS: is it in place?");
  }
  long pid = Clone3(CLONE_NEWUSER, -1);
  if (pid == 0) _exit(0);
  if (pid < 0) return Blocked(Failed("clone3(CLONE_NEWUSER)", errno));
  waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return Escaped("clone3(CLONE_NEWUSER) created a child in a new user namespace");
}

// A child born in a cgroup the session does not own would leave its limits behind.
Outcome Clone3IntoCgroup(const Facts&) {
  std::string own = ReadFile("/proc/self/cgroup").data;
  std::vector<std::string> lost;
  for (const char* dir : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids"}) {
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      lost.push_back(std::string(dir) + ": open " + ErrName(errno));
      continue;
    }
    int hold[2];
    if (pipe2(hold, O_CLOEXEC) != 0) return Blocked(Failed("pipe2", errno));
    long pid = Clone3(CLONE_INTO_CGROUP, fd);
    if (pid == 0) {
      char byte;
      close(hold[1]);
      (void)!read(hold[0], &byte, 1);  // until the parent has looked
      _exit(0);
    }
    int err = errno;
    close(fd);
    std::string born = pid > 0 ? ReadFile("/proc/" + std::to_string(pid) + "/cgroup").data : "";
    close(hold[1]);
    close(hold[0]);
    if (pid > 0) waitpid(static_cast<pid_t>(pid), nullptr, 0);
    if (pid > 0 && born != own) {
      return Escaped(std::string("clone3(CLONE_INTO_CGROUP) started a child in ") + dir + ": " +
                     born);
    }
    lost.push_back(std::string(dir) + ": " + (pid > 0 ? "born in our own group" : ErrName(err)));
  }
  return Blocked("clone3(CLONE_INTO_CGROUP) " + Join(lost, "; "));
}

Outcome SetnsInto(const std::string& proc_dir) {
  std::vector<std::string> won, lost;
  for (const char* ns : {"mnt", "pid", "net", "uts", "ipc", "cgroup", "user", "time"}) {
    std::string path = proc_dir + "/ns/" + ns;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      lost.push_back(std::string(ns) + ": open " + ErrName(errno));
      continue;
    }
    if (setns(fd, 0) == 0) {
      won.push_back(ns);
    } else {
      lost.push_back(std::string(ns) + ": " + ErrName(errno));
    }
    close(fd);
  }
  if (!won.empty()) return Escaped("setns into " + proc_dir + " namespaces: " + Join(won, ", "));
  return Blocked("setns " + proc_dir + ": " + Join(lost, ", "));
}

Outcome SetnsInit(const Facts&) { return SetnsInto("/proc/1"); }

Outcome SetnsHostSentinel(const Facts& f) {
  if (f.host_pid <= 0) return Skipped("needs --host-pid");
  return SetnsInto("/proc/" + std::to_string(f.host_pid));
}

constexpr Attack kAttacks[] = {
    {"chroot-breakout", ChrootBreakout},
    {"pivot-root", PivotRoot},
    {"mount-tmpfs", MountTmpfs},
    {"mount-proc", MountProc},
    {"mount-cgroup-v1", MountCgroupV1},
    {"mount-cgroup2", MountCgroup2},
    {"cgroup-release-agent", CgroupReleaseAgent},
    {"umount-proc-mask", UmountProcMask},
    {"fsopen", Fsopen},
    {"open-tree-clone", OpenTreeClone},
    {"unshare-namespaces", UnshareNamespaces},
    {"unshare-userns", UnshareUserns},
    {"clone-newuser", CloneNewuser},
    {"clone3-newuser", Clone3Newuser},
    {"clone3-into-cgroup", Clone3IntoCgroup},
    {"setns-init", SetnsInit},
    {"setns-host-sentinel", SetnsHostSentinel},
};

}  // namespace

std::span<const Attack> MountAttacks() { return kAttacks; }

}  // namespace moat::escape
