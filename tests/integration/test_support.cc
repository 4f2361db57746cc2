#include "test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace moat::test {

CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_s,
                         std::initializer_list<int> dropped_caps) {
  CommandResult result;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return result;
  pid_t pid = fork();
  if (pid == 0) {
    for (int cap : dropped_caps) {
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) _exit(126);
    }
    int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_streams = 2;
  bool timed_out = false;
  while (open_streams > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buffer[4096];
      ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_streams;
      } else {
        (i == 0 ? result.out : result.err).append(buffer, static_cast<size_t>(n));
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (timed_out) return result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

pid_t SpawnLogged(const std::vector<std::string>& argv, const std::string& stdout_path,
                  const std::string& stderr_path) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  int err = stderr_path == stdout_path
                ? out
                : open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  dup2(out, 1);
  dup2(err, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

void EnsureUser(const std::string& name) {
  if (getpwnam(name.c_str()) != nullptr) return;
  auto r = RunCommand({"useradd", "--create-home", "--shell", "/bin/sh", name});
  ASSERT_EQ(r.exit_code, 0) << "useradd " << name << ": " << r.err;
}

uid_t UidOf(const std::string& name) {
  struct passwd* pw = getpwnam(name.c_str());
  return pw ? pw->pw_uid : static_cast<uid_t>(-1);
}

std::string HomeOf(const std::string& name) {
  struct passwd* pw = getpwnam(name.c_str());
  return pw ? pw->pw_dir : "";
}

ScratchRunDir::ScratchRunDir() {
  char templ[] = "/run/moat-test-XXXXXX";
  char* dir = mkdtemp(templ);
  path_ = dir ? dir : "/run/moat-test-failed";
}

ScratchRunDir::~ScratchRunDir() {
  // A test that failed half-way may leave sessions running: end them before their state goes.
  for (const auto& id : ListDir(path_ + "/sessions")) {
    RunCommand({MOAT_SANDBOX_BIN, "--run-dir", path_, "stop", id, "--grace", "0.2"});
  }
  RunCommand({"rm", "-rf", "--one-file-system", path_});
}

CommandResult Sandbox::Cli(const std::vector<std::string>& args, int timeout_s) const {
  std::vector<std::string> argv = {MOAT_SANDBOX_BIN, "--run-dir", run_dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout_s);
}

CommandResult Sandbox::Sh(const std::string& user, const std::string& script,
                          const std::vector<std::string>& flags) const {
  std::vector<std::string> args = {"run", "--user", user};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), {"--", "/bin/sh", "-c", script});
  return Cli(args);
}

std::string Sandbox::Detach(const std::string& user, const std::vector<std::string>& flags,
                            const std::vector<std::string>& command) const {
  std::vector<std::string> args = {"run", "--detach", "--user", user};
  args.insert(args.end(), flags.begin(), flags.end());
  if (!command.empty()) {
    args.push_back("--");
    args.insert(args.end(), command.begin(), command.end());
  }
  auto r = Cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return Trim(r.out);
}

CommandResult Sandbox::Exec(const std::string& id, const std::string& script) const {
  return Cli({"exec", id, "--", "/bin/sh", "-c", script});
}

void Sandbox::Stop(const std::string& id) const {
  auto r = Cli({"stop", id, "--grace", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

std::string UniqueId(const std::string& prefix) {
  unsigned int value = 0;
  if (getrandom(&value, sizeof(value), 0) != sizeof(value)) value = static_cast<unsigned>(getpid());
  std::ostringstream id;
  id << prefix << "-" << std::hex << value;
  return id.str();
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> entries;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return entries;
  while (struct dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") entries.push_back(name);
  }
  closedir(dir);
  return entries;
}

std::vector<std::string> LeasesOf(const std::string& run_dir) {
  std::vector<std::string> leases;
  for (const auto& slot : ListDir("/run/moat-idranges")) {
    if (ReadFile("/run/moat-idranges/" + slot).starts_with(run_dir + "/")) leases.push_back(slot);
  }
  return leases;
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace moat::test
