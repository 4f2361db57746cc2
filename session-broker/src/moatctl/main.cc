// moatctl: the admin and ops command line of the broker's API (docs/moatctl.md). It links the
// HTTPS/WSS clients of moat-common-net and nothing of the broker's server or database.
#include <cstdio>
#include <string>
#include <vector>

#include "moatctl/commands.h"
#include "moatctl/exit_code.h"

namespace moat::ctl {
namespace {

constexpr char kUsage[] =
    "usage: moatctl [--broker URL] [--ca FILE] [--token T] [--json] COMMAND ...\n"
    "\n"
    "commands:\n"
    "  login USER [--password-stdin]   log in and save the token (~/.config/moat/moatctl.json)\n"
    "  logout                          end the token and forget it\n"
    "  sessions ls|show|create|limit|suspend|resume|disconnect|end\n"
    "  apps launch|ps|kill             applications and processes inside a session\n"
    "  hosts ls|drain|undrain|token    session hosts and enrolment tokens for new ones\n"
    "  users ls|add|passwd|role        broker users\n"
    "  watch [--types T,…]             follow the event stream until Ctrl-C\n"
    "  sql \"SELECT …\"                  read-only SQL over the session database\n"
    "  'moatctl COMMAND --help' tells more.\n"
    "\n"
    "global flags (anywhere before '--'):\n"
    "  --broker URL   the broker's API, https://HOST:8443 (env MOAT_BROKER)\n"
    "  --ca FILE      the broker's CA certificate, its <state>/ca/ca.crt (env MOAT_CA)\n"
    "  --token T      a bearer token (env MOAT_TOKEN)\n"
    "  --json         print the API's JSON answer as is, one document (watch: one per line)\n"
    "  A flag wins over the environment, which wins over what 'login' saved. The saved token is\n"
    "  only sent to the broker it was issued by.\n"
    "\n"
    "exit codes:\n"
    "  0  ok\n"
    "  1  the broker refused the request (409 conflict, 400 invalid argument, 429, …), or\n"
    "     another failure such as an unwritable config file\n"
    "  2  usage error: bad flags or values, no broker or CA configured\n"
    "  3  not logged in, or the token or password was rejected (401)\n"
    "  4  forbidden: the role does not allow it (403)\n"
    "  5  not found: no such session, user, host or process (404)\n"
    "  6  cannot reach the broker, TLS failure, timeout, or the broker failed (5xx)\n"
    "  Errors go to stderr as 'moatctl: MESSAGE'.\n";

Status Dispatch(Context& ctx, const std::vector<std::string>& command) {
  const std::string& name = command.front();
  Arguments rest(command.begin() + 1, command.end());
  if (name == "login") return RunLogin(ctx, rest);
  if (name == "logout") return RunLogout(ctx, rest);
  if (name == "sessions" || name == "session") return RunSessions(ctx, rest);
  if (name == "apps" || name == "app") return RunApps(ctx, rest);
  if (name == "hosts" || name == "host") return RunHosts(ctx, rest);
  if (name == "users" || name == "user") return RunUsers(ctx, rest);
  if (name == "watch") return RunWatch(ctx, rest);
  if (name == "sql") return RunSql(ctx, rest);
  if (name == "help") return PrintHelp(kUsage);
  return UsageError("unknown command '" + name + "' (see 'moatctl --help')");
}

Status Run(const std::vector<std::string>& args) {
  MOAT_TRY(GlobalOptions options, ParseGlobalOptions(args));
  if (options.command.empty()) {
    if (options.help) return PrintHelp(kUsage);
    std::fputs(kUsage, stderr);
    return UsageError("no command given");
  }
  MOAT_TRY(Settings settings, ResolveSettings(options));
  std::vector<std::string> command = options.command;
  if (options.help) command.push_back("--help");
  Context ctx(std::move(options), std::move(settings));
  return Dispatch(ctx, command);
}

}  // namespace

Result<ApiClient*> Context::Api() {
  if (!api_) {
    MOAT_TRY(api_, ApiClient::Connect(settings_));
  }
  return api_.get();
}

Status PrintHelp(const char* text) {
  std::fputs(text, stdout);
  return {};
}

Status UnknownSubcommand(const std::string& group, const Arguments& args) {
  if (args.empty())
    return UsageError("'" + group + "' needs a subcommand (see 'moatctl " + group + " --help')");
  return UsageError("unknown subcommand '" + group + " " + args.front() + "' (see 'moatctl " +
                    group + " --help')");
}

}  // namespace moat::ctl

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto status = moat::ctl::Run(args);
  std::fflush(stdout);
  if (!status) {
    std::fprintf(stderr, "moatctl: %s\n", status.error().message().c_str());
    return moat::ctl::ExitStatusOf(status.error());
  }
  return 0;
}
