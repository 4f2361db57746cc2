#include "session_processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <sstream>

#include "moat/common/unique_fd.h"

namespace moat::agent {
namespace internal {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

// The whitespace-separated whole numbers of `text`; stops at the first that is not one.
std::vector<uint64_t> Numbers(std::string_view text) {
  std::vector<uint64_t> out;
  std::istringstream in{std::string(text)};
  uint64_t value;
  while (in >> value) out.push_back(value);
  return out;
}

}  // namespace

std::optional<ProcStatus> ParseProcStatus(std::string_view text) {
  ProcStatus status;
  bool have_ppid = false, have_uid = false;
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    auto values = Numbers(Trim(line.substr(colon + 1)));
    if (key == "PPid" && !values.empty()) {
      status.ppid = static_cast<pid_t>(values[0]);
      have_ppid = true;
    } else if (key == "Uid" && !values.empty()) {
      status.uid = values[0];
      have_uid = true;
    } else if (key == "NSpid") {
      for (uint64_t pid : values) status.nspid.push_back(static_cast<pid_t>(pid));
    }
  }
  if (!have_ppid || !have_uid || status.nspid.empty()) return std::nullopt;
  return status;
}

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  // comm may hold spaces and parentheses: it runs from the first '(' to the last ')'.
  auto open = text.find('('), close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  ProcStat stat;
  stat.comm = std::string(text.substr(open + 1, close - open - 1));
  std::istringstream rest{std::string(text.substr(close + 1))};
  // Fields from 3 (state) on; the numbers are those of proc(5).
  std::vector<std::string> fields;
  std::string field;
  while (fields.size() < 22 && rest >> field) fields.push_back(field);
  if (fields.size() < 22 || fields[0].size() != 1) return std::nullopt;
  auto number = [&](int proc_field) -> std::optional<uint64_t> {
    const std::string& text_value = fields[proc_field - 3];
    uint64_t value = 0;
    auto [ptr, ec] =
        std::from_chars(text_value.data(), text_value.data() + text_value.size(), value);
    if (ec != std::errc() || ptr != text_value.data() + text_value.size()) return std::nullopt;
    return value;
  };
  auto utime = number(14), stime = number(15), start_time = number(22);
  // rss (24) is signed in the kernel's format; a negative value does not occur for a live task.
  auto rss = number(24);
  if (!utime || !stime || !start_time || !rss) return std::nullopt;
  stat.state = fields[0][0];
  stat.utime = *utime;
  stat.stime = *stime;
  stat.start_time = *start_time;
  stat.rss_pages = *rss;
  return stat;
}

std::string JoinCmdline(std::string_view raw) {
  while (!raw.empty() && raw.back() == '\0') raw.remove_suffix(1);
  std::string line(raw);
  std::replace(line.begin(), line.end(), '\0', ' ');
  return line;
}

std::vector<IdMapRange> ParseIdMap(std::string_view text) {
  std::vector<IdMapRange> map;
  auto values = Numbers(text);
  for (size_t i = 0; i + 2 < values.size(); i += 3) {
    map.push_back({values[i], values[i + 1], values[i + 2]});
  }
  return map;
}

uint64_t MapIdInside(const std::vector<IdMapRange>& map, uint64_t outside) {
  for (const auto& range : map) {
    if (outside >= range.outside && outside - range.outside < range.count) {
      return range.inside + (outside - range.outside);
    }
  }
  return 65534;
}

std::string AppOfGroup(std::string_view relative_group) {
  std::string_view first = relative_group.substr(0, relative_group.find('/'));
  bool app = first.size() > 4 && first.starts_with("app-") &&
             first.find_first_not_of("0123456789", 4) == std::string_view::npos;
  return app ? std::string(first) : std::string();
}

}  // namespace internal

namespace {

using internal::AppOfGroup;

// A command line longer than this is cut: a listing of a few hundred processes must stay far
// below the link's message limit.
constexpr size_t kMaxCommand = 4096;
// cgroup.max.depth bounds this anyway; a session cannot make the walk unbounded.
constexpr int kMaxGroupDepth = 32;

// Up to `limit` bytes of a /proc file; nothing when it cannot be read (the process ended).
std::optional<std::string> ReadProcFile(const std::string& path, size_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string text;
  char buffer[4096];
  while (text.size() < limit) {
    ssize_t n = ::read(fd.get(), buffer, std::min(sizeof(buffer), limit - text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

struct GroupMember {
  pid_t host_pid;
  std::string app;
};

Status CollectGroup(const sandbox::CgroupDriver& cgroups, const std::string& session_group,
                    const std::string& relative, int depth, std::vector<GroupMember>& out) {
  std::string group = relative.empty() ? session_group : session_group + "/" + relative;
  MOAT_TRY_CTX(auto pids, cgroups.Processes(group), "list processes of cgroup '" + group + "'");
  std::string app = AppOfGroup(relative);
  for (pid_t pid : pids) out.push_back({pid, app});
  if (depth >= kMaxGroupDepth) return {};
  // A group removed meanwhile (an application that just ended) has no children to walk.
  auto children = cgroups.Children(group);
  if (!children) return {};
  for (const auto& child : *children) {
    std::string child_relative = relative.empty() ? child : relative + "/" + child;
    // Gone between Children() and here: nothing of it to list.
    if (!cgroups.Exists(session_group + "/" + child_relative)) continue;
    MOAT_TRY_VOID(CollectGroup(cgroups, session_group, child_relative, depth + 1, out));
  }
  return {};
}

// glibc 2.36's <sys/pidfd.h> (Debian 12) lacks extern "C", so C++ cannot link its wrappers;
// the system calls themselves are there since Linux 5.3 (pidfd_send_signal 5.1).
int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int signal) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

std::string ProcPath(pid_t pid, const char* file) {
  return "/proc/" + std::to_string(pid) + "/" + file;
}

}  // namespace

Result<std::vector<SessionProcess>> ListSessionProcesses(const sandbox::CgroupDriver& cgroups,
                                                         const sandbox::SessionInfo& session) {
  // moat-init's place fixes the session's pid namespace (its depth in NSpid) and user
  // namespace (its uid_map).
  auto init_status_text = ReadProcFile(ProcPath(session.pid, "status"), 64 << 10);
  auto init_status = init_status_text ? internal::ParseProcStatus(*init_status_text) : std::nullopt;
  if (!init_status || init_status->nspid.back() != 1) {
    return Fail(Error(std::make_error_code(std::errc::no_such_process),
                      "moat-init of session '" + session.id + "' (host pid " +
                          std::to_string(session.pid) + ") is gone"));
  }
  const size_t depth = init_status->nspid.size();
  auto uid_map = internal::ParseIdMap(
      ReadProcFile(ProcPath(session.pid, "uid_map"), 64 << 10).value_or(std::string()));

  std::vector<GroupMember> members;
  MOAT_TRY_VOID(CollectGroup(cgroups, session.cgroup, "", 0, members));

  const long page_size = ::sysconf(_SC_PAGESIZE);
  const long ticks = ::sysconf(_SC_CLK_TCK);
  std::vector<SessionProcess> processes;
  std::map<pid_t, pid_t> inside_pid;  // host pid → in-session pid
  std::map<pid_t, pid_t> host_ppid;
  for (const auto& member : members) {
    auto status_text = ReadProcFile(ProcPath(member.host_pid, "status"), 64 << 10);
    auto stat_text = ReadProcFile(ProcPath(member.host_pid, "stat"), 4096);
    if (!status_text || !stat_text) continue;  // ended meanwhile
    auto status = internal::ParseProcStatus(*status_text);
    auto stat = internal::ParseProcStat(*stat_text);
    // Not in the session's pid namespace (nor one nested in it): the session cannot see it.
    if (!status || !stat || status->nspid.size() < depth) continue;
    SessionProcess process;
    process.host_pid = member.host_pid;
    process.start_time = stat->start_time;
    wire::ProcessInfo& info = process.info;
    info.pid = static_cast<uint64_t>(status->nspid[depth - 1]);
    info.uid = internal::MapIdInside(uid_map, status->uid);
    info.app = member.app;
    info.command = internal::JoinCmdline(
        ReadProcFile(ProcPath(member.host_pid, "cmdline"), kMaxCommand).value_or(std::string()));
    if (info.command.empty()) info.command = "[" + stat->comm + "]";
    info.state = std::string(1, stat->state);
    info.rss_bytes = stat->rss_pages * static_cast<uint64_t>(page_size > 0 ? page_size : 4096);
    info.cpu_time_ms =
        (stat->utime + stat->stime) * 1000 / static_cast<uint64_t>(ticks > 0 ? ticks : 100);
    inside_pid[member.host_pid] = status->nspid[depth - 1];
    host_ppid[member.host_pid] = status->ppid;
    processes.push_back(std::move(process));
  }
  // A parent outside the session (moat-init's) is 0, as the session's own /proc shows it.
  for (auto& process : processes) {
    auto parent = inside_pid.find(host_ppid[process.host_pid]);
    process.info.ppid = parent == inside_pid.end() ? 0 : static_cast<uint64_t>(parent->second);
  }
  std::sort(
      processes.begin(), processes.end(),
      [](const SessionProcess& a, const SessionProcess& b) { return a.info.pid < b.info.pid; });
  return processes;
}

Status SignalSessionProcess(const sandbox::CgroupDriver& cgroups,
                            const sandbox::SessionInfo& session, pid_t pid, int signal) {
  Error no_such(std::make_error_code(std::errc::no_such_process),
                "session '" + session.id + "' has no process " + std::to_string(pid));
  MOAT_TRY(auto processes, ListSessionProcesses(cgroups, session));
  auto it = std::find_if(processes.begin(), processes.end(), [&](const SessionProcess& p) {
    return p.info.pid == static_cast<uint64_t>(pid);
  });
  if (it == processes.end()) return Fail(no_such);
  // Hold the process, then check it is still the one listed: from here on its pid cannot be
  // reused for another, so the signal reaches exactly the process the caller saw.
  UniqueFd pidfd(PidfdOpen(it->host_pid));
  if (!pidfd) {
    if (errno == ESRCH) return Fail(no_such);
    return FailErrno("pidfd_open", std::to_string(it->host_pid));
  }
  auto stat_text = ReadProcFile(ProcPath(it->host_pid, "stat"), 4096);
  auto stat = stat_text ? internal::ParseProcStat(*stat_text) : std::nullopt;
  if (!stat || stat->start_time != it->start_time) return Fail(no_such);
  if (PidfdSendSignal(pidfd.get(), signal) != 0) {
    if (errno == ESRCH) return Fail(no_such);
    return FailErrno("pidfd_send_signal", std::to_string(it->host_pid));
  }
  return {};
}

}  // namespace moat::agent
