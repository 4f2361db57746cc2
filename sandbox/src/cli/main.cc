// moat-sandbox: the standalone CLI over libmoat-sandbox (see docs/sandbox.md).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "commands.h"

using namespace moat::sandbox::cli;

namespace {

constexpr const char* kUsage =
    R"(usage: moat-sandbox [--run-dir DIR] [--cgroup-parent PATH|delegated] COMMAND ...

  run [--spec FILE] [--id ID] [--user NAME] [--root DIR] [--hostname NAME]
      [--seccomp-profile NAME] [--bind SRC[:DST]] [--ro-bind SRC[:DST]] [--host-dir NAME] [--upper-size SIZE]
      [--env K=V] [--cwd DIR] [--tty|--no-tty] [--detach] [--keep] [LIMIT FLAGS] -- CMD [ARG...]
  list [--json]
  set ID [--app N] LIMIT FLAGS        change limits live; prints the effective values
  stats ID [--app N] [--watch] [--interval S] [--json]
  freeze ID | thaw ID                 suspend (cgroup freezer) and resume a session
  exec ID [--env K=V] [--cwd DIR] [--tty|--no-tty] -- CMD [ARG...]
  stop ID [--grace SECONDS]

LIMIT FLAGS: --cpu PCT|max (of one core) --cpu-weight N (1..10000, default 100)
  --memory SIZE|max --memory-high SIZE|max --swap SIZE|max --pids N|max --io-weight N
  --io-read-bps DEV=SIZE|max --io-write-bps DEV=SIZE|max --io-read-iops DEV=N --io-write-iops DEV=N

Exit status: CMD's own; 125 when moat-sandbox fails; 126/127 when CMD cannot run.
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  GlobalOptions global;
  if (const char* env = std::getenv("MOAT_RUN_DIR")) global.run_dir = env;
  size_t i = 0;
  for (; i < args.size() && args[i].starts_with("--"); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (args[i] == "--run-dir" && i + 1 < args.size()) {
      global.run_dir = args[++i];
    } else if (args[i] == "--cgroup-parent" && i + 1 < args.size()) {
      global.cgroup_parent = args[++i];
      bool ok = !global.cgroup_parent.empty() && global.cgroup_parent[0] != '/' &&
                global.cgroup_parent.find("..") == std::string::npos;
      if (!ok) {
        std::fprintf(stderr,
                     "moat-sandbox: --cgroup-parent '%s' must be a relative cgroup path "
                     "without '..', or 'delegated'\n",
                     global.cgroup_parent.c_str());
        return kExitOwnFailure;
      }
    } else {
      std::fprintf(stderr, "moat-sandbox: unknown or incomplete flag '%s'\n%s", args[i].c_str(),
                   kUsage);
      return kExitOwnFailure;
    }
  }
  if (i >= args.size()) {
    std::fputs(kUsage, stderr);
    return kExitOwnFailure;
  }
  std::string command = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<long>(i) + 1, args.end());
  // `run --help` asks for help, `run -- CMD --help` asks CMD.
  for (const auto& arg : rest) {
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  if (command == "run") return CommandRun(global, rest);
  if (command == "list") return CommandList(global, rest);
  if (command == "exec") return CommandExec(global, rest);
  if (command == "stop") return CommandStop(global, rest);
  if (command == "set") return CommandSet(global, rest);
  if (command == "stats") return CommandStats(global, rest);
  if (command == "freeze") return CommandFreeze(global, rest);
  if (command == "thaw") return CommandThaw(global, rest);
  std::fprintf(stderr, "moat-sandbox: unknown command '%s'\n%s", command.c_str(), kUsage);
  return kExitOwnFailure;
}
