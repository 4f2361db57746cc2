// The escape probe: a static program run inside a session wall that tries, one by one, to
// break out of it. Each attack is a small named function; the runner forks a child per attack
// so that a crash, a seccomp kill or a changed credential never leaks into the next one.
//
// Output contract (parsed by escape_suite_test.cc):
//   BLOCKED <name>: <how it failed>
//   ESCAPED <name>: <what succeeded>
//   SKIPPED <name>: <which fact is missing>     (the driver passes every fact, so it fails)
//   NOTE <name>: <information, not a verdict>
//   escape-suite: N blocked, M escaped, K skipped
#pragma once

#include <sys/types.h>

#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace moat::escape {

// What the driver tells the probe about the host and about the victim session.
struct Facts {
  pid_t host_pid = 0;  // host sentinel, runs as the attacker's own uid on the host
  int host_tcp_port = 0;
  std::string host_unix_socket;
  std::string host_abstract;
  std::string host_run_dir;     // the driver's --run-dir on the host
  std::string host_tmp_marker;  // a file name the driver created in host /tmp and /dev/shm
  std::string root_marker;      // a file name the driver created in host /root
  std::optional<int> host_shm_key;
  pid_t victim_host_pid = 0;
  std::string victim_id;
  std::string victim_abstract;
  std::string victim_unix_socket;             // path inside the victim's wall
  std::vector<std::string> victim_run_paths;  // host paths of the victim's state and sockets
  std::string victim_user_home;
  std::string victim_home_file;  // a world-readable file in that home holding the secret
  std::string victim_tmp_marker;
  std::optional<int> victim_shm_key;
  std::string victim_rfb_socket;   // host path of the victim desktop's RFB socket
  std::string victim_x11_display;  // its X display number, e.g. "1"
  std::string secret;
  std::string suid_helper;
  std::string nonce;  // names the files the probe plants for the driver to look for on the host
  bool allow_kill_all = false;
  // In a VM session's guest (--vm): the kernel, its initial namespaces and its devices are the
  // VM's own, and the VM boundary's attacks run (vm_boundary_attacks.cc).
  bool in_vm = false;
  std::vector<std::string> own_vm_paths;  // host paths of this VM's own sockets (control, QMP)
  std::string host_user_dir;              // a host dir of ours, outside the read-write export
  std::string host_export_socket;         // a listening host socket inside the read-only export
};

enum class Verdict { kBlocked, kEscaped, kSkipped, kNote };

struct Outcome {
  Verdict verdict;
  std::string detail;
};

inline Outcome Blocked(std::string detail) { return {Verdict::kBlocked, std::move(detail)}; }
inline Outcome Escaped(std::string detail) { return {Verdict::kEscaped, std::move(detail)}; }
inline Outcome Skipped(std::string detail) { return {Verdict::kSkipped, std::move(detail)}; }
inline Outcome Note(std::string detail) { return {Verdict::kNote, std::move(detail)}; }

struct Attack {
  const char* name;
  Outcome (*run)(const Facts& facts);
};

// Attack tables, one per file.
std::span<const Attack> MountAttacks();
std::span<const Attack> ProcSysAttacks();
std::span<const Attack> KernelAttacks();
std::span<const Attack> DeviceAttacks();
std::span<const Attack> PrivilegeAttacks();
std::span<const Attack> HostAttacks();
std::span<const Attack> CrossSessionAttacks();
std::span<const Attack> CgroupAttacks();
std::span<const Attack> VmBoundaryAttacks();  // only with --vm

// Runs in the probe's main process, never in a child: see escape_probe.cc.
Outcome KillAllAttack(const Facts& facts);

// ---- helpers (probe_util.cc) ----

// "Operation not permitted (EPERM)".
std::string ErrnoText(int err);
// "EPERM"; the number when the name is unknown.
std::string ErrName(int err);
// "mount 'tmpfs': Operation not permitted (EPERM)".
std::string Failed(const std::string& call, int err);

// Judges a syscall that either fails its permission check with one of `denied` (the attack is
// blocked) or gets past it: success, or a later failure such as EINVAL from deliberately bad
// arguments, both mean the caller held the privilege.
Outcome JudgeGate(const std::string& call, long rc, int err, std::initializer_list<int> denied);
// The usual denials: EPERM, EACCES, ENOSYS (seccomp or not built), EROFS.
Outcome JudgeGate(const std::string& call, long rc, int err);

struct ReadResult {
  bool ok = false;
  int err = 0;
  bool masked = false;  // a device node (a /dev/null bind) sits where the file was
  std::string data;
};
// Reads up to `max_bytes`. Walls hide files by binding /dev/null over them: such a read is
// not ok, and `masked` says why.
ReadResult ReadFile(const std::string& path, size_t max_bytes = 1 << 20);
// "read 'PATH': Permission denied (EACCES)" or "'PATH' is masked by a device node".
std::string ReadFailure(const std::string& path, const ReadResult& r);

// Opens `path` for writing without writing. A write-capable fd on the real file is an escape;
// a mask (a /dev/null bind) or an error is a block.
Outcome OpenForWrite(const std::string& path);
// Reads `path`, writes the same bytes back. For sysctls where a write is the real test.
Outcome RewriteSame(const std::string& path);

// True when a file or directory exists at `path` (lstat succeeds); err set otherwise.
bool Exists(const std::string& path, int* err = nullptr);
std::vector<std::string> ListDir(const std::string& path, int* err);

// Connects a stream socket; returns 0 or errno.
int ConnectUnix(const std::string& path);
int ConnectAbstract(const std::string& name);
int ConnectTcp4Loopback(int port);

// A line of /proc/self/status, e.g. StatusField("CapEff") == "0000000000000000".
std::string StatusField(const std::string& key);
// /proc/<pid>/cmdline with NULs turned into spaces; empty when unreadable.
std::string ProcCmdline(pid_t pid);
// Our pid namespace as "pid:[4026531836]".
std::string PidNamespace();
inline constexpr const char* kInitialPidNamespace = "pid:[4026531836]";  // PROC_PID_INIT_INO

// Moves the calling (child) process into a private mount namespace, so that a mount attack
// that succeeds cannot touch the host's mount table. Succeeding is itself proof of
// CAP_SYS_ADMIN. Returns 0 or errno.
int EnterPrivateMountNamespace();

// mkdtemp under /tmp; removed by the caller.
std::string MakeTempDir();

// The pid exists from here and is not one of ours: kill(pid, 0) succeeds.
bool Signalable(pid_t pid, int* err);

// /dev paths of the block devices in /proc/partitions, then the usual disk names.
std::vector<std::string> BlockDevicePaths();

// Probes of one process by pid. `expect` is a piece of its command line: a pid number that
// belongs to some other process in our pid namespace is a coincidence, not a hit.
Outcome SignalPid(pid_t pid, const std::string& expect);
Outcome PtracePid(pid_t pid, const std::string& expect);
Outcome PidfdSignalPid(pid_t pid, const std::string& expect);
Outcome ReadPidEnviron(pid_t pid, const std::string& expect, const std::string& secret);

// Host paths (a session's sockets and state in the agent's run directory) that must be
// neither visible nor connectable from here; `whose` names them in the verdict.
Outcome HostPathsOutOfReach(const std::vector<std::string>& paths, const std::string& whose);

std::string Join(const std::vector<std::string>& parts, const char* sep);

}  // namespace moat::escape
