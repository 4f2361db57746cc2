// The host side of the escape suite: test users, a sentinel process, listening sockets,
// marker files, SysV memory, a run directory and a terminal, all set up before the walls and
// all removed afterwards. Nothing here is mocked: these are the real host objects the probe
// must fail to reach.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace moat::escape_test {

struct HostUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

// Creates the user with useradd when missing. Empty on failure, with the reason in *error.
std::optional<HostUser> EnsureUser(const std::string& name, std::string* error);

std::string RandomHex(size_t bytes);
std::string ToHex(const std::string& text);
std::optional<std::string> ReadWholeFile(const std::string& path);
bool WriteWholeFile(const std::string& path, const std::string& text, mode_t mode);

struct ProcessResult {
  int exit_code = -1;  // or 128 + signal
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved
};

struct SpawnOptions {
  std::vector<std::string> argv;
  std::optional<HostUser> as_user;  // drop to this user before exec
  std::string tty_path;             // a pty slave to become the controlling terminal on stdin
};

// Starts argv with stdin from /dev/null (or the tty) and stdout+stderr into an unlinked
// temporary file; the caller waits with Wait().
struct Spawned {
  pid_t pid = -1;
  int output_fd = -1;
};
Spawned Spawn(const SpawnOptions& options);
ProcessResult Wait(const Spawned& spawned, int timeout_seconds);
ProcessResult RunCommand(const SpawnOptions& options, int timeout_seconds);
ProcessResult RunCommand(std::vector<std::string> argv, int timeout_seconds);

// Host objects the probe is pointed at. The destructor removes every one of them.
class HostScene {
 public:
  explicit HostScene(std::string nonce) : nonce_(std::move(nonce)) {}
  HostScene(const HostScene&) = delete;
  HostScene& operator=(const HostScene&) = delete;
  ~HostScene();

  // Returns an empty string on success, else what failed.
  std::string Prepare(const HostUser& attacker);

  pid_t sentinel_pid() const { return sentinel_pid_; }
  bool SentinelAlive() const;
  int tcp_port() const { return tcp_port_; }
  const std::string& unix_socket() const { return unix_socket_; }
  std::string abstract_name() const { return "moat-esc-host-" + nonce_; }
  std::string tmp_marker() const { return "moat-esc-host-" + nonce_; }
  std::string root_marker() const { return "moat-esc-root-" + nonce_; }
  int shm_key() const { return shm_key_; }
  const std::string& tty_slave() const { return tty_slave_; }
  // Whatever reached the terminal's output side: a successful TIOCSTI echoes there.
  std::string DrainTty() const;

 private:
  std::string nonce_;
  pid_t sentinel_pid_ = -1;
  int tcp_fd_ = -1, unix_fd_ = -1, abstract_fd_ = -1, tty_master_ = -1, tty_slave_fd_ = -1;
  int tcp_port_ = 0;
  int shm_key_ = 0, shm_id_ = -1;
  std::string unix_socket_, tty_slave_;
};

// A directory of our own made from a mkdtemp template (a run directory under /run, a place
// for binaries under /tmp), removed at the end, never across a mount point.
class ScratchDir {
 public:
  explicit ScratchDir(std::string tmpl);
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();
  const std::string& path() const { return path_; }
  // Mount points the sandbox left under the directory (it must leave none).
  std::vector<std::string> MountsInside() const;

 private:
  std::string path_;
};

// A listening Unix stream socket at a path, or under an abstract name; -1 on failure.
int ListenUnix(const std::string& name, bool abstract);

// Copies a file and sets its owner to root and its mode (chmod after chown, which clears
// setuid bits). False on failure, with errno set.
bool InstallFile(const std::string& from, const std::string& to, mode_t mode);

// Host pid of the process whose command line starts with `argv0` and contains `needle`,
// waiting up to `timeout_seconds` for it to appear; -1 if it never does.
pid_t FindProcess(const std::string& argv0, const std::string& needle, int timeout_seconds);
bool WaitForPath(const std::string& path, int timeout_seconds);
// Sockets (or, failing that, every entry) under `dir`: the victim's state in the run dir.
std::vector<std::string> FindRunPaths(const std::string& dir);
std::string ProcCmdline(pid_t pid);

}  // namespace moat::escape_test
