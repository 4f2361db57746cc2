#include "supervisor.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <vector>

#include "app_process.h"
#include "moat/common/text.h"
#include "moat/sandbox/control_protocol.h"

namespace moat::sandbox::init {
namespace {

// "app-N" from a guest process's "0::/apps/app-N" (guest_cgroups.h); "" outside them.
std::string GuestAppGroupOf(long pid) {
  auto file = text::ReadFile("/proc/" + std::to_string(pid) + "/cgroup").value_or("");
  constexpr std::string_view kPrefix = "0::/apps/";
  for (auto line : text::Split(file, '\n')) {
    if (!line.starts_with(kPrefix)) continue;
    std::string group(line.substr(kPrefix.size()));
    return group.substr(0, group.find('/'));
  }
  return "";
}

}  // namespace

Supervisor::Supervisor(SetupConfig config, UniqueFd listener, std::vector<UniqueFd> cgroup_dirs)
    : config_(std::move(config)),
      listener_(std::move(listener)),
      cgroup_dirs_(std::move(cgroup_dirs)) {
  const auto& dirs = config_.cgroup_dirs;
  auto cgroup2 = std::find(dirs.begin(), dirs.end(), config_.cgroup2_dir);
  if (!config_.cgroup2_dir.empty() && cgroup2 != dirs.end()) {
    cgroup2_index_ = static_cast<int>(cgroup2 - dirs.begin());
  }
}

Supervisor Supervisor::ForVmPort(SetupConfig config, UniqueFd port, AppConfinement confinement,
                                 std::string log_dir, GuestCgroups cgroups, UniqueFd apps_dir) {
  std::vector<UniqueFd> cgroup_dirs;
  cgroup_dirs.push_back(std::move(apps_dir));
  Supervisor supervisor(std::move(config), UniqueFd(), std::move(cgroup_dirs));
  supervisor.guest_cgroups_.emplace(std::move(cgroups));
  supervisor.cgroup2_index_ = 0;  // the guest's cgroup2 "apps" group
  supervisor.stream_fd_ = port.get();
  supervisor.clients_[port.get()].socket = std::move(port);
  supervisor.app_confinement_ = std::move(confinement);
  supervisor.log_dir_ = std::move(log_dir);
  return supervisor;
}

void Supervisor::Watch(int fd) {
  struct epoll_event event {};
  event.events = EPOLLIN;
  event.data.fd = fd;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event);
}

void Supervisor::Unwatch(int fd) { ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr); }

int Supervisor::Run() {
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPIPE}) sigaddset(&handled, sig);
  ::sigprocmask(SIG_BLOCK, &handled, nullptr);
  signals_ = UniqueFd(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
  epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  shutdown_timer_ = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!signals_ || !epoll_ || !shutdown_timer_) {
    std::perror("moat-init: event set-up");
    return 1;
  }
  Watch(signals_.get());
  if (listener_) Watch(listener_.get());
  Watch(shutdown_timer_.get());
  if (stream_fd_ >= 0) {
    // Edge-triggered: while the host side is not connected a virtio port polls as hung up,
    // level-triggered that would spin. Every wake-up drains the port (OnPortData).
    struct epoll_event event {};
    event.events = EPOLLIN | EPOLLET;
    event.data.fd = stream_fd_;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, stream_fd_, &event);
  }
  for (;;) {
    struct epoll_event events[16];
    int n = ::epoll_wait(epoll_.get(), events, 16, -1);
    if (n < 0 && errno != EINTR) return 1;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == signals_.get()) {
        OnSignals();
      } else if (fd == stream_fd_) {
        OnPortData();
      } else if (listener_ && fd == listener_.get()) {
        OnAccept();
      } else if (fd == shutdown_timer_.get()) {
        uint64_t expirations;
        (void)!::read(fd, &expirations, sizeof(expirations));
        killed_ = true;
        ::kill(-1, SIGKILL);
      } else {
        OnClientMessage(fd);
      }
    }
    if (shutting_down_) {
      // kill(-1) from PID 1 reaches every other process of the namespace; once waitpid says
      // there are no children left, the session is empty.
      if (::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD) return killed_ ? 137 : 0;
    }
  }
}

void Supervisor::OnSignals() {
  struct signalfd_siginfo info;
  while (::read(signals_.get(), &info, sizeof(info)) == sizeof(info)) {
    if (info.ssi_signo == SIGCHLD) continue;
    if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT || info.ssi_signo == SIGHUP) {
      BeginShutdown(std::chrono::seconds(5));
    }
  }
  ReapChildren();
}

void Supervisor::ReapChildren() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    bool oom_killed = false;
    if (auto group = app_group_.find(pid); group != app_group_.end()) {
      oom_killed = GroupOomKillsV1(group->second) > 0;
      ended_groups_.insert(group->second);
      app_group_.erase(group);
    }
    auto owner = app_owner_.find(pid);
    if (owner == app_owner_.end()) continue;  // an orphan: reaped, nothing to report
    nlohmann::json event = {{"event", "exit"}, {"pid", pid}, {"oom_killed", oom_killed}};
    if (WIFEXITED(status)) {
      event["code"] = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      event["signal"] = WTERMSIG(status);
    }
    auto client = clients_.find(owner->second);
    if (client != clients_.end()) {
      Send(client->second.socket.get(), event);
      client->second.apps.erase(pid);
    }
    app_owner_.erase(owner);
  }
  RemoveEmptyAppGroups();
}

uint64_t Supervisor::GroupOomKillsV1(const std::string& group) const {
  for (int i = 0; i < static_cast<int>(cgroup_dirs_.size()); ++i) {
    if (oom_control_dir_ >= 0 && i != oom_control_dir_) continue;
    int fd = ::openat(cgroup_dirs_[i].get(), (group + "/memory.oom_control").c_str(),
                      O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    oom_control_dir_ = i;
    char text[256] = {};
    ssize_t n = ::read(fd, text, sizeof(text) - 1);
    ::close(fd);
    const char* kill = n > 0 ? std::strstr(text, "oom_kill ") : nullptr;
    return kill ? std::strtoull(kill + 9, nullptr, 10) : 0;
  }
  return 0;
}

void Supervisor::RemoveEmptyAppGroups() {
  for (auto it = ended_groups_.begin(); it != ended_groups_.end();) {
    uint64_t oom_kills = GroupOomKillsV1(*it);
    bool removed = true;
    for (const auto& dir : cgroup_dirs_) {
      // EBUSY while something the application started still runs there: try again later.
      if (::unlinkat(dir.get(), it->c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) removed = false;
    }
    if (removed) ended_app_oom_kills_ += oom_kills;
    it = removed ? ended_groups_.erase(it) : std::next(it);
  }
}

void Supervisor::OnAccept() {
  for (;;) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    clients_[fd].socket = UniqueFd(fd);
    Watch(fd);
  }
}

void Supervisor::CloseClient(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  // Applications outlive the connection that started them (a detached run, a dropped agent).
  for (pid_t pid : it->second.apps) app_owner_.erase(pid);
  Unwatch(fd);
  clients_.erase(it);
}

void Supervisor::OnClientMessage(int fd) {
  auto message = ReceiveControlMessage(fd);
  if (!message) {
    CloseClient(fd);
    return;
  }
  Dispatch(fd, message->body, message->fds);
}

void Supervisor::OnPortData() {
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(stream_fd_, chunk, sizeof(chunk));
    if (n > 0) {
      stream_reader_.Append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) port_connected_ = true;  // no data, host connected
    // 0: the guest's kernel has the host side as not connected. After a connected port that
    // is the end of a connection: its partial input goes, the next connection starts afresh
    // and the applications it started keep running (as with a dropped sandbox client). But
    // that view lags behind the data: a new connection's first request can arrive before the
    // guest has handled the control message that opens the port (another virtqueue, handled
    // later, and much later in a busy guest). Bytes read while the port is still seen closed
    // are that next connection's: dropping them lost a restarted agent's first request.
    if (n == 0 && port_connected_) {
      stream_reader_.Clear();
      port_connected_ = false;
    }
    break;
  }
  for (;;) {
    auto body = stream_reader_.Next();
    if (!body) {
      Send(stream_fd_, {{"error", body.error().message()}});
      continue;
    }
    if (!*body) break;
    std::vector<UniqueFd> no_fds;
    Dispatch(stream_fd_, **body, no_fds);
  }
}

void Supervisor::Send(int fd, const nlohmann::json& body, const std::vector<int>& fds) {
  if (fd != stream_fd_) {
    (void)SendControlMessage(fd, body, fds);
    return;
  }
  auto line = EncodeControlLine(body);
  if (!line) return;
  // The port is non-blocking: wait a little for room (or for the host to connect), then give
  // up on the message rather than stall the session's PID 1. A port with no host connected
  // polls as hung up at once, so that wait is in short sleeps, not a spin.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  size_t done = 0;
  while (done < line->size()) {
    ssize_t n = ::write(fd, line->data() + done, line->size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    struct pollfd writable = {fd, POLLOUT, 0};
    if (::poll(&writable, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) return;
    if (!(writable.revents & POLLOUT)) ::poll(nullptr, 0, 20);
  }
}

void Supervisor::Dispatch(int fd, const nlohmann::json& body, std::vector<UniqueFd>& fds) {
  std::string op = body.value("op", std::string());
  nlohmann::json reply;
  UniqueFd pty_master;
  if (op == "launch") {
    reply = HandleLaunch(fd, body, fds, pty_master);
  } else if (op == "signal") {
    reply = HandleSignal(body);
  } else if (op == "ps") {
    reply = ListProcesses();
  } else if (op == "limits") {
    // A sandbox's limits are set on the host's cgroups; only a VM guest's moat-init has its own.
    reply = guest_cgroups_ ? guest_cgroups_->HandleLimitsOp(body)
                           : nlohmann::json{{"error", "limits are set on the host's cgroups"},
                                            {"errno", ENOTSUP}};
  } else if (op == "info") {
    reply = {{"id", config_.id},
             {"user", config_.user.name},
             {"uid", config_.user.uid},
             {"ended_app_oom_kills", ended_app_oom_kills_}};
  } else if (op == "shutdown") {
    reply = {{"ok", true}};
    Send(fd, reply);
    BeginShutdown(std::chrono::milliseconds(body.value("grace_ms", 5000)));
    return;
  } else {
    reply = {{"error", "unknown op '" + op + "'"}};
  }
  std::vector<int> reply_fds;
  if (pty_master) reply_fds.push_back(pty_master.get());
  Send(fd, reply, reply_fds);
}

std::vector<std::string> Supervisor::ApplicationEnvironment(const nlohmann::json& request) const {
  std::map<std::string, std::string> env = {
      {"HOME", config_.user.home},
      {"USER", config_.user.name},
      {"LOGNAME", config_.user.name},
      {"SHELL", config_.user.shell},
      {"PATH", "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"},
      {"LANG", "C.UTF-8"},
      {"XDG_RUNTIME_DIR", "/run/user/" + std::to_string(config_.user.uid)},
      {"MOAT_SESSION_ID", config_.id}};
  if (request.value("tty", false)) {
    std::string term = request.value("term", std::string());
    env["TERM"] = term.empty() ? "xterm" : term;
  }
  for (const auto& [key, value] : config_.env) env[key] = value;
  for (const auto& item : request.value("env", std::vector<std::string>())) {
    auto eq = item.find('=');
    if (eq != std::string::npos && eq > 0) env[item.substr(0, eq)] = item.substr(eq + 1);
  }
  std::vector<std::string> out;
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

nlohmann::json Supervisor::HandleLaunch(int fd, const nlohmann::json& body,
                                        std::vector<UniqueFd>& fds, UniqueFd& pty_master) {
  if (shutting_down_) return {{"error", "session is ending"}};
  AppSpawn spawn;
  try {
    spawn.argv = body.at("argv").get<std::vector<std::string>>();
    spawn.cwd = body.value("cwd", std::string());
    spawn.tty = body.value("tty", false);
    spawn.rows = body.value("rows", 0);
    spawn.cols = body.value("cols", 0);
    spawn.no_huge_pages = body.value("no_huge_pages", false);
  } catch (const nlohmann::json::exception& e) {
    return {{"error", std::string("bad launch request: ") + e.what()}};
  }
  spawn.cwd_required = !spawn.cwd.empty();
  if (spawn.cwd.empty()) spawn.cwd = config_.user.home;
  spawn.env = ApplicationEnvironment(body);
  spawn.cgroup_dirs = &cgroup_dirs_;
  spawn.cgroup2_index = cgroup2_index_;
  spawn.self_move_file = config_.cgroup_self_move_file;
  spawn.cgroup_name = "app-" + std::to_string(next_app_++);
  UniqueFd log;
  std::string log_path;
  if (fd == stream_fd_) {
    // No fds over virtio-serial: stdin is /dev/null, stdout and stderr a log of the guest's.
    if (spawn.tty) return {{"error", "no tty over the VM port yet"}, {"errno", ENOTSUP}};
    log_path = log_dir_ + "/" + spawn.cgroup_name + ".log";
    log = UniqueFd(
        ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
    if (!log) return {{"error", "open '" + log_path + "': " + strerror(errno)}, {"errno", errno}};
    (void)!::fchown(log.get(), config_.user.uid, config_.user.gid);
    spawn.stdio[1] = spawn.stdio[2] = log.get();
    spawn.confine = &app_confinement_;
  } else if (!spawn.tty) {
    if (fds.size() != 3) return {{"error", "launch without tty needs 3 stdio fds"}};
    for (int i = 0; i < 3; ++i) spawn.stdio[i] = fds[i].get();
  }
  auto app = SpawnApplication(spawn);
  if (!app) {
    ended_groups_.insert(spawn.cgroup_name);  // the failed child is reaped, then this goes
    int err = app.error().code().value();
    return {{"error", app.error().message()}, {"errno", err}};
  }
  app_owner_[app->pid] = fd;
  clients_[fd].apps.insert(app->pid);
  app_group_[app->pid] = spawn.cgroup_name;
  pty_master = std::move(app->pty_master);
  nlohmann::json reply = {{"pid", app->pid}, {"group", spawn.cgroup_name}};
  if (!log_path.empty()) reply["log"] = log_path;
  return reply;
}

nlohmann::json Supervisor::HandleSignal(const nlohmann::json& body) {
  pid_t pid = body.value("pid", 0);
  int sig = body.value("signal", 0);
  if (pid <= 1 || sig <= 0 || sig >= NSIG) return {{"error", "bad pid or signal"}};
  if (::kill(pid, sig) != 0) {
    return {{"error", std::string("kill: ") + strerror(errno)}, {"errno", errno}};
  }
  return {{"ok", true}};
}

nlohmann::json Supervisor::ListProcesses() {
  // In a VM nothing on the host can read the guest's /proc, so this answer is the listing:
  // uid, command line and application group too, not only what a sandbox's client needs.
  struct Entry {
    long pid = 0;
    int ppid = 0;
    nlohmann::json json;
  };
  std::vector<Entry> entries;
  std::map<long, int> parent;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return {{"error", "opendir /proc failed"}, {"errno", errno}};
  while (struct dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::string base = "/proc/" + std::string(entry->d_name);
    std::string line = text::ReadFirstLine(base + "/stat");
    if (line.empty()) continue;
    auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    int ppid = 0;
    char state = '?';
    std::sscanf(line.c_str() + close + 2, "%c %d", &state, &ppid);
    std::string comm = line.substr(open + 1, close - open - 1);
    long uid = -1;
    auto status = text::ReadFile(base + "/status").value_or("");
    for (auto field : text::Split(status, '\n')) {
      if (field.starts_with("Uid:")) {
        uid = std::strtol(std::string(field.substr(4)).c_str(), nullptr, 10);
        break;
      }
    }
    std::string cmdline = text::ReadFile(base + "/cmdline").value_or("");
    while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    if (cmdline.empty()) cmdline = "[" + comm + "]";
    parent[pid] = ppid;
    entries.push_back({pid,
                       ppid,
                       {{"pid", pid},
                        {"ppid", ppid},
                        {"state", std::string(1, state)},
                        {"comm", comm},
                        {"uid", uid},
                        {"command", cmdline}}});
  }
  ::closedir(proc);
  nlohmann::json processes = nlohmann::json::array();
  for (auto& entry : entries) {
    // The application group: in a VM guest the cgroup it is in (orphans of an application
    // that has ended included), else that of the nearest ancestor moat-init started.
    std::string group = guest_cgroups_ ? GuestAppGroupOf(entry.pid) : "";
    for (long at = entry.pid, hops = 0; group.empty() && at > 1 && hops < 4096; ++hops) {
      if (auto it = app_group_.find(static_cast<pid_t>(at)); it != app_group_.end()) {
        group = it->second;
        break;
      }
      auto up = parent.find(at);
      if (up == parent.end()) break;
      at = up->second;
    }
    entry.json["app"] = group;
    processes.push_back(std::move(entry.json));
  }
  return {{"processes", processes}};
}

void Supervisor::BeginShutdown(std::chrono::milliseconds grace) {
  if (shutting_down_) return;
  shutting_down_ = true;
  if (listener_) Unwatch(listener_.get());
  listener_.Reset();
  ::kill(-1, SIGTERM);
  ::kill(-1, SIGCONT);  // a stopped process cannot act on SIGTERM
  struct itimerspec when {};
  auto ms = std::max<int64_t>(grace.count(), 1);
  when.it_value.tv_sec = ms / 1000;
  when.it_value.tv_nsec = (ms % 1000) * 1000000;
  ::timerfd_settime(shutdown_timer_.get(), 0, &when, nullptr);
}

}  // namespace moat::sandbox::init
