// The processes of one sandbox session, read on the host rather than asked of moat-init: the
// session's cgroup tree says which processes are its own and which application group each is
// in; host /proc gives the rest, translated into the session's view (pids through NSpid, uids
// through moat-init's uid_map). This works while the session is frozen, and nothing the
// session runs can change the answer.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/wire/messages.h"
#include "moat/sandbox/cgroup_driver.h"
#include "moat/sandbox/session_manager.h"

namespace moat::agent {

struct SessionProcess {
  pid_t host_pid = 0;
  uint64_t start_time = 0;  // clock ticks since boot: with host_pid, names the process
  wire::ProcessInfo info;   // as the session sees it
};

// Every process of a running session, by in-session pid. Processes that end while they are
// read are left out.
Result<std::vector<SessionProcess>> ListSessionProcesses(const sandbox::CgroupDriver& cgroups,
                                                         const sandbox::SessionInfo& session);

// Sends `signal` to the process `pid` of the session (its in-session pid). The process is held
// by a pidfd and checked to be the one listed, so a pid reused meanwhile is never signalled.
// Fails with ESRCH when the session has no such process.
Status SignalSessionProcess(const sandbox::CgroupDriver& cgroups,
                            const sandbox::SessionInfo& session, pid_t pid, int signal);

namespace internal {

// What the listing needs from /proc/PID/status.
struct ProcStatus {
  pid_t ppid = 0;
  uint64_t uid = 0;          // real uid, in the reader's user namespace
  std::vector<pid_t> nspid;  // outermost first
};
std::optional<ProcStatus> ParseProcStatus(std::string_view text);

// What the listing needs from /proc/PID/stat.
struct ProcStat {
  std::string comm;
  char state = '?';
  uint64_t utime = 0, stime = 0;  // clock ticks
  uint64_t start_time = 0;        // clock ticks since boot
  uint64_t rss_pages = 0;
};
std::optional<ProcStat> ParseProcStat(std::string_view text);

// /proc/PID/cmdline: NUL-separated arguments → one line joined with spaces.
std::string JoinCmdline(std::string_view raw);

struct IdMapRange {
  uint64_t inside = 0, outside = 0, count = 0;
};
std::vector<IdMapRange> ParseIdMap(std::string_view text);
// The id inside for an id outside; 65534 (the overflow id) when the map has none, as the
// kernel shows it inside.
uint64_t MapIdInside(const std::vector<IdMapRange>& map, uint64_t outside);

// The application of a group path relative to the session's group: "app-3/x" → "app-3";
// "", "init" and anything else → "".
std::string AppOfGroup(std::string_view relative_group);

}  // namespace internal
}  // namespace moat::agent
