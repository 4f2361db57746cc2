// Helpers for tests that drive the built binaries: run a command and capture its output,
// make test users, scratch run directories, host-side inspection.
#pragma once

#include <sys/types.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace moat::test {

struct CommandResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

// Runs argv with stdin from /dev/null; waits at most `timeout_s` (then SIGKILL, exit -1).
// `dropped_caps` leave the child's bounding set first, so argv runs without them even as root
// (what util-linux's `setpriv --bounding-set` does; the VM guests have only busybox's).
CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_s = 60,
                         std::initializer_list<int> dropped_caps = {});

// Starts argv (argv[0] a path) in the background, stdout and stderr appended to the two files
// (which may be the same); returns its pid, or -1 if fork failed. The caller reaps it.
pid_t SpawnLogged(const std::vector<std::string>& argv, const std::string& stdout_path,
                  const std::string& stderr_path);

// Creates the user (with a home under /home) if it does not exist yet.
void EnsureUser(const std::string& name);
uid_t UidOf(const std::string& name);
std::string HomeOf(const std::string& name);

// A private moat-sandbox run directory under /run, removed on destruction.
class ScratchRunDir {
 public:
  ScratchRunDir();
  ~ScratchRunDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// moat-sandbox with --run-dir set.
class Sandbox {
 public:
  explicit Sandbox(const ScratchRunDir& run_dir) : run_dir_(run_dir.path()) {}
  CommandResult Cli(const std::vector<std::string>& args, int timeout_s = 60) const;
  // run --user USER [extra flags] -- sh -c SCRIPT
  CommandResult Sh(const std::string& user, const std::string& script,
                   const std::vector<std::string>& flags = {}) const;
  // run --detach; returns the session id (fails the test if it could not start).
  std::string Detach(const std::string& user, const std::vector<std::string>& flags = {},
                     const std::vector<std::string>& command = {}) const;
  CommandResult Exec(const std::string& id, const std::string& script) const;
  void Stop(const std::string& id) const;
  const std::string& run_dir() const { return run_dir_; }

 private:
  std::string run_dir_;
};

std::string UniqueId(const std::string& prefix);
std::string ReadFile(const std::string& path);
bool Exists(const std::string& path);
// Entries of a directory, without . and ..
std::vector<std::string> ListDir(const std::string& path);
std::string Trim(std::string text);
// The host id range leases held by sessions of a run directory.
std::vector<std::string> LeasesOf(const std::string& run_dir);

}  // namespace moat::test
