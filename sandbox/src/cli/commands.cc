#include "commands.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "app_runner.h"
#include "flags.h"

namespace moat::sandbox::cli {
namespace {

int ExitCodeOf(const Result<ExitStatus>& status) {
  if (!status) {
    std::fprintf(stderr, "moat-sandbox: %s\n", status.error().message().c_str());
    return LaunchErrorCode(status.error());
  }
  if (status->oom_killed) {
    std::fprintf(stderr,
                 "moat-sandbox: the application ran out of memory (session limit) and "
                 "was killed\n");
  }
  return status->ShellCode();
}

// The signals a terminal or a service manager stops us with. Held back while a wall is being
// built, so that its rollback (or, once it stands, its stop) always runs; RunApplication then
// forwards them to the application (a pending one included).
class StopSignalsHeld {
 public:
  StopSignalsHeld() {
    sigemptyset(&held_);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&held_, sig);
    ::sigprocmask(SIG_BLOCK, &held_, &previous_);
  }
  ~StopSignalsHeld() { ::sigprocmask(SIG_SETMASK, &previous_, nullptr); }
  StopSignalsHeld(const StopSignalsHeld&) = delete;
  StopSignalsHeld& operator=(const StopSignalsHeld&) = delete;

  // A held signal that arrived, taken off the queue (so that restoring the mask does not
  // deliver it after all), or 0.
  int Take() const {
    const struct timespec now = {0, 0};
    int sig = ::sigtimedwait(&held_, nullptr, &now);
    return sig > 0 ? sig : 0;
  }

 private:
  sigset_t held_{}, previous_{};
};

}  // namespace

int Report(const Error& error) {
  std::fprintf(stderr, "moat-sandbox: %s\n", error.message().c_str());
  return kExitOwnFailure;
}

Result<std::unique_ptr<SessionManager>> OpenManager(const GlobalOptions& global) {
  ManagerOptions options;
  options.run_dir = global.run_dir;
  if (global.cgroup_parent == "delegated") {
    MOAT_TRY(options.cgroups, DelegatedCgroupOptions(options.cgroups));
  } else {
    options.cgroups.parent = global.cgroup_parent;
  }
  return SessionManager::Open(options);
}

int CommandRun(const GlobalOptions& global, const std::vector<std::string>& args) {
  auto options = ParseRunFlags(args);
  if (!options) return Report(options.error());
  auto manager = OpenManager(global);
  if (!manager) return Report(manager.error());
  StopSignalsHeld held;
  auto session = (*manager)->Create(options->spec);
  if (!session) return Report(session.error());
  // Interrupted while the wall was built (or, detached, while CMD was launched): take it down
  // again rather than leave it running unannounced.
  auto interrupted = [&](int sig) {
    (void)(*manager)->Stop(session->id, std::chrono::seconds(1));
    std::fprintf(stderr, "moat-sandbox: interrupted by signal %d; session '%s' stopped\n", sig,
                 session->id.c_str());
    return 128 + sig;
  };
  // A --keep run hands a signal that came meanwhile to CMD (RunApplication's signalfd).
  if (options->detach || !options->keep) {
    if (int sig = held.Take()) return interrupted(sig);
  }

  RunRequest request;
  request.argv = options->command;
  request.env = options->app_env;
  request.cwd = options->cwd;
  if (options->detach) {
    if (!request.argv.empty()) {
      LaunchRequest launch;
      launch.argv = request.argv;
      launch.env = request.env;
      launch.cwd = request.cwd;
      // A detached application gets /dev/null: the caller's terminal never enters the wall.
      UniqueFd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
      int null_fd = dev_null.get();
      auto client = ControlClient::Connect(session->control_socket);
      // A failed connect is our own failure (125), whatever its errno.
      Result<Launched> launched =
          client ? client->Launch(launch, null_fd, null_fd, null_fd)
                 : Fail(Error(std::make_error_code(std::errc::io_error), client.error().message()));
      if (!launched) {
        (void)(*manager)->Stop(session->id, std::chrono::seconds(1));
        std::fprintf(stderr, "moat-sandbox: %s\n", launched.error().message().c_str());
        return LaunchErrorCode(launched.error());
      }
    }
    if (int sig = held.Take()) return interrupted(sig);
    std::printf("%s\n", session->id.c_str());
    return 0;
  }
  request.tty = options->tty == -1 ? StdioIsTerminal() : options->tty == 1;
  int code = ExitCodeOf(RunApplication(session->control_socket, request));
  if (!options->keep) {
    auto stopped = (*manager)->Stop(session->id, std::chrono::seconds(2));
    if (!stopped) Report(stopped.error());
  }
  return code;
}

int CommandExec(const GlobalOptions& global, const std::vector<std::string>& args) {
  if (args.empty() || args[0].starts_with("-")) {
    return Report(InvalidArgument("usage: moat-sandbox exec ID [--env K=V] [--cwd DIR] -- CMD"));
  }
  RunRequest request;
  request.tty = StdioIsTerminal();
  size_t i = 1;
  for (; i < args.size() && args[i] != "--"; ++i) {
    if (args[i] == "--env" || args[i] == "--cwd") {
      bool cwd = args[i] == "--cwd";
      auto value = FlagValue(args, i);
      if (!value) return Report(value.error());
      if (cwd) {
        request.cwd = *value;
      } else if (auto eq = EnvAssignment(*value); !eq) {
        return Report(eq.error());
      } else {
        request.env.push_back(*value);
      }
    } else if (args[i] == "--tty" || args[i] == "--no-tty") {
      request.tty = args[i] == "--tty";
    } else {
      return Report(InvalidArgument("unknown flag '" + args[i] + "' for 'exec'"));
    }
  }
  request.argv.assign(args.begin() + static_cast<long>(std::min(i + 1, args.size())), args.end());
  if (request.argv.empty()) return Report(InvalidArgument("exec: no command after '--'"));
  auto manager = OpenManager(global);
  if (!manager) return Report(manager.error());
  auto session = (*manager)->Find(args[0]);
  if (!session) return Report(session.error());
  if (!session->running) {
    return Report(InvalidArgument("session '" + args[0] + "' has ended; 'stop' it to clean up"));
  }
  return ExitCodeOf(RunApplication(session->control_socket, request));
}

int CommandList(const GlobalOptions& global, const std::vector<std::string>& args) {
  bool json = false;
  for (const auto& arg : args) {
    if (arg == "--json") {
      json = true;
    } else {
      return Report(InvalidArgument("unknown flag '" + arg + "' for 'list'"));
    }
  }
  auto manager = OpenManager(global);
  if (!manager) return Report(manager.error());
  auto sessions = (*manager)->List();
  if (!sessions) return Report(sessions.error());
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : *sessions) {
      out.push_back({{"id", s.id},
                     {"user", s.user},
                     {"uid", s.uid},
                     {"pid", s.pid},
                     {"state", s.running ? "running" : "ended"},
                     {"host_id_base", s.host_id_base},
                     {"created_unix", s.created_unix},
                     {"cgroup", s.cgroup}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  int id_width = 20;
  for (const auto& s : *sessions) id_width = std::max(id_width, static_cast<int>(s.id.size()));
  std::printf("%-*s %-16s %-8s %-10s %-20s %s\n", id_width, "ID", "USER", "PID", "STATE", "CREATED",
              "HOST-ID-BASE");
  for (const auto& s : *sessions) {
    char created[32] = "-";
    std::time_t when = s.created_unix;
    struct tm local {};
    if (when > 0 && ::localtime_r(&when, &local) != nullptr) {
      std::strftime(created, sizeof(created), "%Y-%m-%d %H:%M:%S", &local);
    }
    std::printf("%-*s %-16s %-8d %-10s %-20s %u\n", id_width, s.id.c_str(), s.user.c_str(), s.pid,
                s.running ? "running" : "ended", created, s.host_id_base);
  }
  return 0;
}

int CommandStop(const GlobalOptions& global, const std::vector<std::string>& args) {
  if (args.empty() || args[0].starts_with("-")) {
    return Report(InvalidArgument("usage: moat-sandbox stop ID [--grace SECONDS]"));
  }
  int grace_ms = 5000;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--grace") {
      auto value = FlagValue(args, i);
      if (!value) return Report(value.error());
      auto seconds = ParseSeconds("--grace", *value, 0, 3600);
      if (!seconds) return Report(seconds.error());
      grace_ms = static_cast<int>(*seconds * 1000);
    } else {
      return Report(InvalidArgument("unknown flag '" + args[i] + "' for 'stop'"));
    }
  }
  auto manager = OpenManager(global);
  if (!manager) return Report(manager.error());
  auto stopped = (*manager)->Stop(args[0], std::chrono::milliseconds(grace_ms));
  if (!stopped) return Report(stopped.error());
  return 0;
}

}  // namespace moat::sandbox::cli
