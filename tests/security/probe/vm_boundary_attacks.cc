// Attacks on a VM session's boundary (docs/vm.md), run only in a guest (--vm). The guest's
// kernel is the VM's own, so what matters is what crosses QEMU: the 9p exports (the host's /
// read-only under an overlay, the home read-write), the virtio-serial ports and the serial
// console, any network to the host, and the host-side sockets of this VM. The victim VM's
// sockets are the cross-session table's (--victim-run-path, --victim-rfb-socket).
#include <fcntl.h>
#include <libgen.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "probe.h"

namespace moat::escape {
namespace {

// QEMU's user-mode network puts the host at 10.0.2.2; a guest with any route reaches it.
constexpr uint32_t kSlirpHost = 0x0a000202;
constexpr int kSshPort = 22;

// Mounts on `target` (a fresh directory when empty) in a private mount namespace when the
// child may make one, so that a mount that succeeds changes nothing beyond this child. Only
// the permission check is judged: a failure past it (EBUSY: the tag is in use, ENOENT: no
// free channel) means the privilege was there.
Outcome MountGate(const std::string& what, const char* source, std::string target, const char* type,
                  unsigned long flags, const char* options) {
  bool made = target.empty();
  if (made) target = MakeTempDir();
  if (target.empty()) return Escaped("inconclusive: " + Failed("mkdtemp", errno));
  (void)EnterPrivateMountNamespace();
  long rc = mount(source, target.c_str(), type, flags, options);
  int err = errno;
  if (made) {
    if (rc == 0) umount2(target.c_str(), MNT_DETACH);
    rmdir(target.c_str());
  }
  return JudgeGate(what, rc, err);
}

// The host's / read-write: QEMU exports it readonly=on, so even guest root gets EROFS from
// the server; the guest must not get as far as asking.
Outcome Mount9pRootReadWrite(const Facts&) {
  return MountGate("mount 9p 'moat-root' read-write", "moat-root", "", "9p", 0,
                   "trans=virtio,version=9p2000.L,access=any");
}

// A second mount of the home, elsewhere and without nosuid, nodev.
Outcome Mount9pHomeElsewhere(const Facts&) {
  return MountGate("mount 9p 'moat-home' elsewhere", "moat-home", "", "9p", 0,
                   "trans=virtio,version=9p2000.L,access=any");
}

Outcome RemountRootReadWrite(const Facts&) {
  return MountGate("remount / read-write", nullptr, "/", nullptr, MS_REMOUNT, nullptr);
}

std::string HomeDir() {
  const char* home = getenv("HOME");
  return home != nullptr ? home : "";
}

// `..` at the home's mount root is the guest's VFS's business: it must lead to the overlay's
// directory above the mount point, never to the host directory above the home on QEMU's side
// (which would be the same 9p device). Other homes beside it are the root export's.
Outcome HomeDotDot(const Facts& f) {
  std::string home = HomeDir();
  if (home.empty()) return Skipped("needs $HOME");
  struct stat own {
  }, up{};
  if (stat(home.c_str(), &own) != 0) return Escaped("inconclusive: " + Failed("stat $HOME", errno));
  if (stat((home + "/..").c_str(), &up) != 0) return Blocked(Failed("stat '$HOME/..'", errno));
  if (up.st_dev == own.st_dev) {
    return Escaped("'" + home +
                   "/..' is on the home export's own device: the walk left the export");
  }
  std::string how = "'$HOME/..' is the guest's own directory";
  if (!f.victim_user_home.empty() && !f.victim_home_file.empty()) {
    std::string copy = f.victim_user_home;
    std::string path = home + "/../" + basename(copy.data()) + "/" + f.victim_home_file;
    ReadResult r = ReadFile(path, 4096);
    if (r.ok) return Escaped("read '" + path + "' through the home's '..'");
    how += "; " + ReadFailure(path, r);
  }
  return Blocked(how);
}

// Host files that only root may read: the root export shows them with the host's modes and
// QEMU reads them with its own rights, so guest root would read what QEMU can.
Outcome HostPrivateFiles(const Facts&) {
  std::vector<std::string> refused;
  for (const char* path : {"/etc/shadow", "/etc/gshadow", "/etc/ssh/ssh_host_ed25519_key",
                           "/etc/ssh/ssh_host_rsa_key", "/root/.bash_history"}) {
    ReadResult r = ReadFile(path, 64);
    if (r.ok) return Escaped(std::string("read the host's '") + path + "'");
    refused.push_back(std::string(path) + ": " + (r.masked ? "masked" : ErrName(r.err)));
  }
  return Blocked(Join(refused, ", "));
}

// This VM's own control and QMP sockets on the host drive its moat-init and QEMU.
Outcome OwnChannelSockets(const Facts& f) {
  if (f.own_vm_paths.empty()) return Skipped("needs --own-vm-path");
  return HostPathsOutOfReach(f.own_vm_paths, "this VM's own");
}

// A host socket inside the read-only export: 9p shows the inode, but a connect() in the guest
// goes to the guest kernel's own socket table, never across QEMU.
Outcome HostSocketThroughExport(const Facts& f) {
  if (f.host_export_socket.empty()) return Skipped("needs --host-export-socket");
  int err = ConnectUnix(f.host_export_socket);
  if (err == 0) return Escaped("connected to the host's '" + f.host_export_socket + "'");
  return Blocked(Failed("connect '" + f.host_export_socket + "'", err));
}

// No network device but loopback, no route, and QEMU's user-mode host unreachable.
Outcome NoNetwork(const Facts&) {
  int err = 0;
  std::vector<std::string> others;
  for (const auto& name : ListDir("/sys/class/net", &err)) {
    if (name != "lo") others.push_back(name);
  }
  if (!others.empty()) return Escaped("network interfaces besides lo: " + Join(others, ", "));
  std::istringstream routes(ReadFile("/proc/net/route", 1 << 16).data);
  std::string line;
  std::getline(routes, line);  // the header
  if (std::getline(routes, line) && !line.empty()) return Escaped("a route: '" + line + "'");
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Blocked("only lo; " + Failed("socket(AF_INET)", errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(kSshPort);
  addr.sin_addr.s_addr = htonl(kSlirpHost);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  err = errno;
  close(fd);
  // ECONNREFUSED would be an answer from the other side: a path to the host exists.
  if (rc == 0 || err == ECONNREFUSED) {
    return Escaped("10.0.2.2:22 answered (" + (rc == 0 ? "connected" : ErrName(err)) + ")");
  }
  return Blocked("only lo, no route; " + Failed("connect 10.0.2.2:22", err));
}

// virtio-vsock would be a socket family straight to the host (CID 2).
Outcome VsockToHost(const Facts&) {
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Blocked(Failed("socket(AF_VSOCK)", errno));
  sockaddr_vm addr{};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = VMADDR_CID_HOST;
  addr.svm_port = 1;
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  close(fd);
  if (rc == 0 || err == ECONNREFUSED || err == ECONNRESET) {
    return Escaped("vsock CID 2 answered (" + (rc == 0 ? "connected" : ErrName(err)) + ")");
  }
  return Blocked(Failed("connect vsock CID 2", err));
}

// The control port is moat-init's link to the agent; anyone else on it could forge replies
// and exit events or read the agent's requests. A desktop's display ports (moat.display, and
// moat.viewN for watchers) are the user's by design (their relays run as the user), so they
// are the ports left out.
Outcome VirtioPorts(const Facts&) {
  int err = 0;
  std::vector<std::string> refused;
  for (const auto& entry : ListDir("/sys/class/virtio-ports", &err)) {
    std::string name = ReadFile("/sys/class/virtio-ports/" + entry + "/name", 256).data;
    while (!name.empty() && name.back() == '\n') name.pop_back();
    if (name == "moat.display" || name.rfind("moat.view", 0) == 0) continue;
    std::string dev = "/dev/" + entry;
    int fd = open(dev.c_str(), O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      return Escaped("opened the virtio port '" + dev + "' (" + name + ")");
    }
    refused.push_back(dev + " (" + name + "): " + ErrName(errno));
  }
  if (refused.empty()) {
    return Escaped("inconclusive: no virtio port found (" +
                   (err != 0 ? ErrName(err) : std::string("none listed")) + ")");
  }
  return Blocked(Join(refused, ", "));
}

// The serial console is QEMU's console.log on the host, which the agent quotes in its errors
// (MOAT-VM-GUEST-FAILED lines): writing there would forge them.
Outcome SerialConsole(const Facts&) {
  std::vector<std::string> refused;
  for (const char* dev : {"/dev/console", "/dev/ttyS0", "/dev/hvc0", "/dev/ttyS1"}) {
    int fd = open(dev, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      return Escaped(std::string("opened '") + dev + "' for writing");
    }
    refused.push_back(std::string(dev) + ": " + ErrName(errno));
  }
  return Blocked(Join(refused, ", "));
}

// A write through the read-only export: a new file and an overwritten one in a host
// directory of ours. Both land in the overlay's memory; only the driver can see that the host
// has neither, so this is a note.
Outcome WriteThroughRootExport(const Facts& f) {
  if (f.host_user_dir.empty() || f.nonce.empty()) {
    return Skipped("needs --host-user-dir and --nonce");
  }
  std::vector<std::string> done;
  for (const std::string& name : {"moat-escape-" + f.nonce, std::string("export-marker")}) {
    std::string path = f.host_user_dir + "/" + name;
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      done.push_back(path + ": " + ErrName(errno));
      continue;
    }
    bool wrote = write(fd, "written by moat-escape-probe\n", 29) == 29;
    close(fd);
    done.push_back(path + (wrote ? ": written in the guest" : ": not written"));
  }
  return Note(Join(done, ", ") + "; the driver checks that the host has neither");
}

constexpr Attack kAttacks[] = {
    {"vm-9p-root-rw", Mount9pRootReadWrite},
    {"vm-9p-home-elsewhere", Mount9pHomeElsewhere},
    {"vm-remount-root-rw", RemountRootReadWrite},
    {"vm-home-dotdot", HomeDotDot},
    {"vm-host-private-files", HostPrivateFiles},
    {"vm-own-channel-sockets", OwnChannelSockets},
    {"vm-host-socket-through-export", HostSocketThroughExport},
    {"vm-no-network", NoNetwork},
    {"vm-vsock-host", VsockToHost},
    {"vm-virtio-ports", VirtioPorts},
    {"vm-serial-console", SerialConsole},
    {"vm-write-root-export", WriteThroughRootExport},
};

}  // namespace

std::span<const Attack> VmBoundaryAttacks() { return kAttacks; }

}  // namespace moat::escape
