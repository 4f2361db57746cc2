// Helpers shared by the attack files: errno text, file and socket probes, /proc readers.
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <sstream>

#include "probe.h"

namespace moat::escape {
namespace {

int Connect(int domain, const sockaddr* addr, socklen_t len) {
  int fd = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int rc = connect(fd, addr, len);
  int err = rc == 0 ? 0 : errno;
  close(fd);
  return err;
}

}  // namespace

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  std::string text = strerror(err);
  if (name != nullptr) text += std::string(" (") + name + ")";
  return text;
}

std::string ErrName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : "errno " + std::to_string(err);
}

std::string Failed(const std::string& call, int err) { return call + ": " + ErrnoText(err); }

Outcome JudgeGate(const std::string& call, long rc, int err, std::initializer_list<int> denied) {
  if (rc >= 0) return Escaped(call + " succeeded");
  for (int d : denied) {
    if (d == err) return Blocked(Failed(call, err));
  }
  return Escaped(call + " passed its permission check, then failed on purpose-bad arguments: " +
                 ErrnoText(err));
}

Outcome JudgeGate(const std::string& call, long rc, int err) {
  return JudgeGate(call, rc, err, {EPERM, EACCES, ENOSYS, EROFS});
}

ReadResult ReadFile(const std::string& path, size_t max_bytes) {
  ReadResult result;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    result.err = errno;
    return result;
  }
  struct stat st {};
  if (fstat(fd, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
    close(fd);
    result.masked = true;
    return result;
  }
  char buf[4096];
  while (result.data.size() < max_bytes) {
    size_t want = std::min(sizeof(buf), max_bytes - result.data.size());
    ssize_t n = read(fd, buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      result.err = errno;
      close(fd);
      // A partial read still proves access.
      result.ok = !result.data.empty();
      return result;
    }
    if (n == 0) break;
    result.data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  result.ok = true;
  return result;
}

std::string ReadFailure(const std::string& path, const ReadResult& r) {
  if (r.masked) return "'" + path + "' is masked by a device node";
  return Failed("read '" + path + "'", r.err);
}

Outcome OpenForWrite(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Blocked(Failed("open '" + path + "' for writing", errno));
  struct stat st {};
  fstat(fd, &st);
  close(fd);
  // Walls mask dangerous /proc files by binding /dev/null over them.
  if (S_ISCHR(st.st_mode)) {
    return Blocked("'" + path + "' is masked by a device node " +
                   std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev)));
  }
  return Escaped("opened '" + path + "' for writing");
}

Outcome RewriteSame(const std::string& path) {
  ReadResult current = ReadFile(path, 4096);
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Blocked(Failed("open '" + path + "' for writing", errno));
  struct stat st {};
  fstat(fd, &st);
  if (S_ISCHR(st.st_mode)) {
    close(fd);
    return Blocked("'" + path + "' is masked by a device node");
  }
  if (!current.ok) {
    close(fd);
    return Escaped("opened '" + path + "' for writing (not written: its value is unreadable)");
  }
  // The same value goes back, so a bare-host run changes nothing.
  std::string value = current.data.empty() ? std::string("\n") : current.data;
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n < 0) return Blocked(Failed("write '" + path + "'", err));
  return Escaped("rewrote '" + path + "' (same value)");
}

bool Exists(const std::string& path, int* err) {
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) return true;
  if (err != nullptr) *err = errno;
  return false;
}

std::vector<std::string> ListDir(const std::string& path, int* err) {
  std::vector<std::string> names;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) {
    *err = errno;
    return names;
  }
  *err = 0;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(dir);
  return names;
}

int ConnectUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return ENAMETOOLONG;
  memcpy(addr.sun_path, path.data(), path.size());
  return Connect(AF_UNIX, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
}

int ConnectAbstract(const std::string& name) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (name.size() + 1 >= sizeof(addr.sun_path)) return ENAMETOOLONG;
  memcpy(addr.sun_path + 1, name.data(), name.size());
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return Connect(AF_UNIX, reinterpret_cast<sockaddr*>(&addr), len);
}

int ConnectTcp4Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return Connect(AF_INET, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
}

std::string StatusField(const std::string& key) {
  ReadResult status = ReadFile("/proc/self/status");
  std::string prefix = key + ":";
  size_t pos = 0;
  while (pos < status.data.size()) {
    size_t end = status.data.find('\n', pos);
    if (end == std::string::npos) end = status.data.size();
    std::string line = status.data.substr(pos, end - pos);
    if (line.rfind(prefix, 0) == 0) {
      size_t v = line.find_first_not_of(" \t", prefix.size());
      return v == std::string::npos ? "" : line.substr(v);
    }
    pos = end + 1;
  }
  return "";
}

std::string ProcCmdline(pid_t pid) {
  ReadResult r = ReadFile("/proc/" + std::to_string(pid) + "/cmdline", 4096);
  for (char& c : r.data) {
    if (c == '\0') c = ' ';
  }
  while (!r.data.empty() && r.data.back() == ' ') r.data.pop_back();
  return r.data;
}

std::string PidNamespace() {
  char buf[64] = {};
  ssize_t n = readlink("/proc/self/ns/pid", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("unknown");
}

int EnterPrivateMountNamespace() {
  if (unshare(CLONE_NEWNS) != 0) return errno;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno;
  return 0;
}

std::string MakeTempDir() {
  char tmpl[] = "/tmp/moat-escape-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return "";
  return tmpl;
}

bool Signalable(pid_t pid, int* err) {
  if (kill(pid, 0) == 0) return true;
  *err = errno;
  return false;
}

std::vector<std::string> BlockDevicePaths() {
  std::vector<std::string> devices;
  std::istringstream lines(ReadFile("/proc/partitions").data);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string major, minor, blocks, name;
    if (fields >> major >> minor >> blocks >> name && major != "major") {
      devices.push_back("/dev/" + name);
    }
  }
  for (const char* d : {"/dev/sda", "/dev/vda", "/dev/nvme0n1", "/dev/xvda"}) {
    if (std::find(devices.begin(), devices.end(), d) == devices.end()) devices.push_back(d);
  }
  return devices;
}

namespace {

// Empty when `pid` is the target (or we cannot tell); otherwise why it is not.
std::string Stranger(pid_t pid, const std::string& expect) {
  std::string cmdline = ProcCmdline(pid);
  if (cmdline.empty() || cmdline.find(expect) != std::string::npos) return "";
  return "pid " + std::to_string(pid) + " here is another process ('" + cmdline.substr(0, 60) +
         "'), not the target";
}

}  // namespace

Outcome HostPathsOutOfReach(const std::vector<std::string>& paths, const std::string& whose) {
  std::vector<std::string> failures;
  for (const auto& path : paths) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) {
      failures.push_back(path + ": " + ErrName(errno));
      continue;
    }
    if (S_ISSOCK(st.st_mode) && ConnectUnix(path) == 0) {
      return Escaped("connected to " + whose + " socket '" + path + "'");
    }
    return Escaped(whose + " '" + path + "' is visible");
  }
  return Blocked(Join(failures, ", "));
}

Outcome SignalPid(pid_t pid, const std::string& expect) {
  // Signal 0 runs the same visibility and permission checks as SIGKILL and hurts nobody.
  if (kill(pid, 0) != 0) return Blocked(Failed("kill(" + std::to_string(pid) + ", 0)", errno));
  if (auto s = Stranger(pid, expect); !s.empty()) return Blocked(s);
  return Escaped("kill(" + std::to_string(pid) + ", 0) succeeded: it can be signalled");
}

Outcome PtracePid(pid_t pid, const std::string& expect) {
  // PTRACE_SEIZE does not stop the tracee; it is detached when this child exits.
  if (ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) != 0) {
    return Blocked(Failed("ptrace(PTRACE_SEIZE, " + std::to_string(pid) + ")", errno));
  }
  if (auto s = Stranger(pid, expect); !s.empty()) return Blocked(s);
  return Escaped("ptrace(PTRACE_SEIZE, " + std::to_string(pid) + ") attached");
}

Outcome PidfdSignalPid(pid_t pid, const std::string& expect) {
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return Blocked(Failed("pidfd_open(" + std::to_string(pid) + ")", errno));
  long rc = syscall(SYS_pidfd_send_signal, fd, 0, nullptr, 0);
  int err = errno;
  close(static_cast<int>(fd));
  if (rc != 0) return Blocked(Failed("pidfd_send_signal", err));
  if (auto s = Stranger(pid, expect); !s.empty()) return Blocked(s);
  return Escaped("pidfd_open + pidfd_send_signal reached pid " + std::to_string(pid));
}

Outcome ReadPidEnviron(pid_t pid, const std::string& expect, const std::string& secret) {
  std::string path = "/proc/" + std::to_string(pid) + "/environ";
  ReadResult r = ReadFile(path, 1 << 16);
  if (!r.ok) return Blocked(ReadFailure(path, r));
  if (auto s = Stranger(pid, expect); !s.empty()) return Blocked(s);
  bool hit = !secret.empty() && r.data.find(secret) != std::string::npos;
  return Escaped("read " + std::to_string(r.data.size()) + " bytes of '" + path + "'" +
                 (hit ? ", including the secret" : ""));
}

std::string Join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

}  // namespace moat::escape
