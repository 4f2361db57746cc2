#include "escape_suite_host.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace moat::escape_test {
namespace {

constexpr const char* kHostSocketDir = "/run/moat-esc-test";

std::optional<HostUser> LookupUser(const std::string& name) {
  passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) return std::nullopt;
  return HostUser{name, pw->pw_uid, pw->pw_gid, pw->pw_dir};
}

// Tells the parent why the child could not exec, then exits.
[[noreturn]] void ChildFail(int report_fd, int err) {
  (void)!write(report_fd, &err, sizeof(err));
  _exit(125);
}

std::string Errno(const std::string& what) { return what + ": " + strerror(errno); }

// Removes `path` and everything below it that lives on the same device: a mount point the
// sandbox failed to clean up is left alone rather than emptied.
void RemoveTree(int parent_fd, const std::string& name, dev_t dev) {
  struct stat st {};
  if (fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_dev != dev) return;
  if (S_ISDIR(st.st_mode)) {
    int fd = openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    std::vector<std::string> children;
    if (DIR* dir = fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 0))) {
      while (dirent* e = readdir(dir)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
          children.push_back(e->d_name);
        }
      }
      closedir(dir);
    }
    for (const auto& child : children) RemoveTree(fd, child, dev);
    close(fd);
    unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR);
  } else {
    unlinkat(parent_fd, name.c_str(), 0);
  }
}

}  // namespace

int ListenUnix(const std::string& name, bool abstract) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t offset = abstract ? 1 : 0;
  memcpy(addr.sun_path + offset, name.data(), std::min(name.size(), sizeof(addr.sun_path) - 2));
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + offset + name.size() +
                                    (abstract ? 0 : 1));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::optional<HostUser> EnsureUser(const std::string& name, std::string* error) {
  if (auto user = LookupUser(name)) return user;
  ProcessResult r = RunCommand({"/usr/sbin/useradd", "--create-home", "--home-dir", "/home/" + name,
                                "--shell", "/usr/sbin/nologin", name},
                               60);
  if (auto user = LookupUser(name)) return user;
  *error = "useradd '" + name + "' failed (exit " + std::to_string(r.exit_code) + "): " + r.output;
  return std::nullopt;
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (getrandom(raw.data(), raw.size(), 0) != static_cast<ssize_t>(raw.size())) {
    raw = std::to_string(getpid()) + std::to_string(time(nullptr));
  }
  return ToHex(raw).substr(0, bytes * 2);
}

std::string ToHex(const std::string& text) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool WriteWholeFile(const std::string& path, const std::string& text, mode_t mode) {
  int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  fchmod(fd, mode);
  close(fd);
  return ok;
}

Spawned Spawn(const SpawnOptions& options) {
  Spawned s;
  s.output_fd = memfd_create("moat-escape-output", MFD_CLOEXEC);
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // Closed by a successful exec: Spawn returns once the program runs under its final uid, so
  // nobody races a half-started child (the sentinel is still root until its setuid).
  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) return s;
  s.pid = fork();
  if (s.pid != 0) {
    close(exec_pipe[1]);
    int child_errno = 0;
    if (s.pid > 0 && read(exec_pipe[0], &child_errno, sizeof(child_errno)) > 0) {
      waitpid(s.pid, nullptr, 0);
      s.pid = -1;
      errno = child_errno;
    }
    close(exec_pipe[0]);
    return s;
  }
  // Child: only async-signal-safe calls from here to exec.
  const int report = exec_pipe[1];
  int in = -1;
  if (!options.tty_path.empty()) {
    setsid();
    in = open(options.tty_path.c_str(), O_RDWR);
    if (in >= 0) ioctl(in, TIOCSCTTY, 0);
  } else {
    in = open("/dev/null", O_RDONLY);
  }
  if (in < 0 || dup2(in, STDIN_FILENO) < 0) ChildFail(report, errno);
  if (in > STDERR_FILENO) close(in);
  if (dup2(s.output_fd, STDOUT_FILENO) < 0 || dup2(s.output_fd, STDERR_FILENO) < 0)
    ChildFail(report, errno);
  if (options.as_user) {
    if (setgroups(0, nullptr) != 0 || setgid(options.as_user->gid) != 0 ||
        setuid(options.as_user->uid) != 0 || chdir("/") != 0) {
      ChildFail(report, errno);
    }
  }
  execvp(argv[0], argv.data());
  ChildFail(report, errno);
}

ProcessResult Wait(const Spawned& spawned, int timeout_seconds) {
  ProcessResult result;
  if (spawned.pid < 0) {
    result.output = std::string("cannot start: ") + strerror(errno);
    if (spawned.output_fd >= 0) close(spawned.output_fd);
    return result;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int status = 0;
  for (;;) {
    pid_t done = waitpid(spawned.pid, &status, WNOHANG);
    if (done == spawned.pid) break;
    if (done < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > deadline) {
      result.timed_out = true;
      kill(spawned.pid, SIGKILL);
      waitpid(spawned.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  lseek(spawned.output_fd, 0, SEEK_SET);
  char buf[8192];
  ssize_t n;
  while ((n = read(spawned.output_fd, buf, sizeof(buf))) > 0) {
    result.output.append(buf, static_cast<size_t>(n));
  }
  close(spawned.output_fd);
  return result;
}

ProcessResult RunCommand(const SpawnOptions& options, int timeout_seconds) {
  return Wait(Spawn(options), timeout_seconds);
}

ProcessResult RunCommand(std::vector<std::string> argv, int timeout_seconds) {
  SpawnOptions options;
  options.argv = std::move(argv);
  return RunCommand(options, timeout_seconds);
}

std::string HostScene::Prepare(const HostUser& attacker) {
  // The sentinel runs as the attacker's own uid: only the wall's pid namespace stands between
  // them, so kill -1, kill, ptrace and pidfd from the wall are real tests.
  Spawned sentinel = Spawn({{"/bin/sleep", "1000"}, attacker, ""});
  if (sentinel.pid < 0) return Errno("fork sentinel");
  close(sentinel.output_fd);
  sentinel_pid_ = sentinel.pid;

  tcp_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (tcp_fd_ < 0 || bind(tcp_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(tcp_fd_, 64) != 0 ||
      getsockname(tcp_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Errno("listen on 127.0.0.1");
  }
  tcp_port_ = ntohs(addr.sin_port);

  // World-accessible on purpose: only the wall's masking of /run may stop the attacker.
  mkdir(kHostSocketDir, 0755);
  unix_socket_ = std::string(kHostSocketDir) + "/host-" + nonce_ + ".sock";
  unix_fd_ = ListenUnix(unix_socket_, false);
  if (unix_fd_ < 0) return Errno("listen on '" + unix_socket_ + "'");
  chmod(unix_socket_.c_str(), 0777);
  abstract_fd_ = ListenUnix(abstract_name(), true);
  if (abstract_fd_ < 0) return Errno("listen on '@" + abstract_name() + "'");

  for (const std::string& path :
       {"/tmp/" + tmp_marker(), "/dev/shm/" + tmp_marker(), "/root/" + root_marker()}) {
    if (!WriteWholeFile(path, "host marker\n", 0644)) return Errno("create '" + path + "'");
  }

  uint32_t random = 0;
  (void)!getrandom(&random, sizeof(random), 0);
  shm_key_ = static_cast<int>(0x6d000000u | (random & 0xffffffu));
  shm_id_ = shmget(shm_key_, 4096, IPC_CREAT | IPC_EXCL | 0666);
  if (shm_id_ < 0) return Errno("shmget");

  tty_master_ = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  char name[128] = {};
  if (tty_master_ < 0 || grantpt(tty_master_) != 0 || unlockpt(tty_master_) != 0 ||
      ptsname_r(tty_master_, name, sizeof(name)) != 0) {
    return Errno("open a pty");
  }
  tty_slave_ = name;
  // Held open so that the terminal outlives the sandbox and whatever reached it stays readable.
  tty_slave_fd_ = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  return "";
}

bool HostScene::SentinelAlive() const {
  int status = 0;
  return sentinel_pid_ > 0 && waitpid(sentinel_pid_, &status, WNOHANG) == 0 &&
         kill(sentinel_pid_, 0) == 0;
}

std::string HostScene::DrainTty() const {
  std::string out;
  char buf[1024];
  ssize_t n;
  while ((n = read(tty_master_, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

HostScene::~HostScene() {
  if (sentinel_pid_ > 0) {
    kill(sentinel_pid_, SIGKILL);
    waitpid(sentinel_pid_, nullptr, 0);
  }
  for (int fd : {tcp_fd_, unix_fd_, abstract_fd_, tty_master_, tty_slave_fd_}) {
    if (fd >= 0) close(fd);
  }
  if (!unix_socket_.empty()) unlink(unix_socket_.c_str());
  rmdir(kHostSocketDir);  // only when no other run uses it
  for (const std::string& path :
       {"/tmp/" + tmp_marker(), "/dev/shm/" + tmp_marker(), "/root/" + root_marker()}) {
    unlink(path.c_str());
  }
  if (shm_id_ >= 0) shmctl(shm_id_, IPC_RMID, nullptr);
}

ScratchDir::ScratchDir(std::string tmpl) {
  if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  if (!path_.empty()) chmod(path_.c_str(), 0755);
}

ScratchDir::~ScratchDir() {
  if (path_.empty() || !MountsInside().empty()) return;
  struct stat st {};
  if (stat(path_.c_str(), &st) == 0) RemoveTree(AT_FDCWD, path_, st.st_dev);
}

std::vector<std::string> ScratchDir::MountsInside() const {
  std::vector<std::string> inside;
  std::istringstream lines(ReadWholeFile("/proc/self/mountinfo").value_or(""));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    if (point == path_ || point.rfind(path_ + "/", 0) == 0) inside.push_back(point);
  }
  return inside;
}

bool InstallFile(const std::string& from, const std::string& to, mode_t mode) {
  std::optional<std::string> bytes = ReadWholeFile(from);
  if (!bytes || !WriteWholeFile(to, *bytes, 0700)) return false;
  return chown(to.c_str(), 0, 0) == 0 && chmod(to.c_str(), mode) == 0;
}

std::string ProcCmdline(pid_t pid) {
  std::string text = ReadWholeFile("/proc/" + std::to_string(pid) + "/cmdline").value_or("");
  for (char& c : text) {
    if (c == '\0') c = ' ';
  }
  return text;
}

pid_t FindProcess(const std::string& argv0, const std::string& needle, int timeout_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  do {
    if (DIR* proc = opendir("/proc")) {
      pid_t found = -1;
      while (dirent* e = readdir(proc)) {
        pid_t pid = atoi(e->d_name);
        if (pid <= 0) continue;
        std::string cmdline = ProcCmdline(pid);
        if (cmdline.rfind(argv0 + " ", 0) == 0 && cmdline.find(needle) != std::string::npos) {
          found = pid;
          break;
        }
      }
      closedir(proc);
      if (found > 0) return found;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  return -1;
}

bool WaitForPath(const std::string& path, int timeout_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  struct stat st {};
  while (stat(path.c_str(), &st) != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

std::vector<std::string> FindRunPaths(const std::string& dir) {
  // Two levels are enough for the session's sockets and state; "root" is the session's
  // staged root file system, which is not state.
  std::vector<std::string> paths = {dir};
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return paths;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name == "root") continue;
    std::string path = dir + "/" + name;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) continue;
    if (S_ISSOCK(st.st_mode)) {
      paths.insert(paths.begin(), path);
    } else if (S_ISREG(st.st_mode)) {
      paths.push_back(path);
    }
  }
  closedir(d);
  return paths;
}

}  // namespace moat::escape_test
