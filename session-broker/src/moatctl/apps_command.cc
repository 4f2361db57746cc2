// moatctl apps launch|ps|kill: applications and processes inside a session.
#include <csignal>
#include <cstdio>
#include <cstring>

#include "moatctl/args.h"
#include "moatctl/commands.h"
#include "moatctl/exit_code.h"
#include "moatctl/output.h"

namespace moat::ctl {
namespace {

constexpr char kHelp[] =
    "usage: moatctl apps COMMAND ...\n"
    "\n"
    "  launch SESSION [--cpu PCT] [--cwd DIR] [--env NAME=VALUE ...] -- ARGV...\n"
    "        start a program in the session (its owner or an admin); --cpu caps it to PCT\n"
    "        percent of one core; prints its pid as the session sees it\n"
    "  ps SESSION\n"
    "        the session's processes: PID PPID UID APP STATE RSS CPU-TIME COMMAND\n"
    "  kill SESSION PID [--signal N]\n"
    "        send a signal (default 15, TERM; a number or a name such as KILL) to a process;\n"
    "        pid 1, the session's init, is refused\n";

constexpr std::pair<const char*, int> kSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
};

Result<int> ParseSignal(std::string text) {
  if (text.rfind("SIG", 0) == 0) text = text.substr(3);
  for (const auto& [name, number] : kSignals) {
    if (strcasecmp(text.c_str(), name) == 0) return number;
  }
  MOAT_TRY(int64_t number, ParseInteger(text, 1, 64, "--signal"));
  return static_cast<int>(number);
}

std::string SessionPath(const std::string& id) { return "/api/v1/sessions/" + UrlEncode(id); }

Status Launch(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args,
           Args::Parse("apps launch", arguments, {{"cpu", true}, {"cwd", true}, {"env", true}}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(1, 1, "SESSION [--cpu PCT] -- ARGV..."));
  if (args.after_dashes().empty()) {
    return UsageError(
        "nothing to launch: give the program after '--' (apps launch SESSION -- "
        "/usr/bin/xterm)");
  }
  Json body = {{"argv", args.after_dashes()}};
  MOAT_TRY(auto cpu, args.Integer("cpu", 1, 100000));
  if (cpu) body["cpu_percent"] = *cpu;
  if (auto cwd = args.Value("cwd")) body["cwd"] = *cwd;
  for (const auto& item : args.Values("env")) {
    if (item.find('=') == std::string::npos || item.front() == '=') {
      return UsageError("'--env' takes NAME=VALUE, not '" + item + "'");
    }
  }
  if (args.Has("env")) body["env"] = args.Values("env");
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply, api->Call("POST", SessionPath(args.positional()[0]) + "/apps", body));
  if (ctx.json()) {
    PrintJson(reply.raw);
  } else {
    std::printf("launched %s in %s: pid %s\n", Cell(reply.body.value("app", Json())).c_str(),
                Cell(reply.body.value("session_id", Json())).c_str(),
                Cell(reply.body.value("pid", Json())).c_str());
  }
  return {};
}

Status Ps(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("apps ps", arguments, {}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(1, 1, "SESSION"));
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply, api->Call("GET", SessionPath(args.positional()[0]) + "/processes"));
  if (ctx.json()) {
    PrintJson(reply.raw);
    return {};
  }
  Table table({"PID", "PPID", "UID", "APP", "STATE", "RSS", "CPU-TIME", "COMMAND"});
  for (const auto& p : reply.body.value("processes", Json::array())) {
    Json rss = p.value("rss_bytes", Json());
    Json cpu_ms = p.value("cpu_time_ms", Json());
    char cpu[32] = "-";
    if (cpu_ms.is_number()) std::snprintf(cpu, sizeof(cpu), "%.2fs", cpu_ms.get<double>() / 1000);
    table.AddRow({Cell(p.value("pid", Json())), Cell(p.value("ppid", Json())),
                  Cell(p.value("uid", Json())), Cell(p.value("app", Json())),
                  Cell(p.value("state", Json())),
                  rss.is_number() ? FormatBytes(rss.get<double>()) : Cell(rss), cpu,
                  Cell(p.value("command", Json()))});
  }
  table.Print();
  return {};
}

Status Kill(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("apps kill", arguments, {{"signal", true}}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(2, 2, "SESSION PID"));
  MOAT_TRY(int64_t pid, ParseInteger(args.positional()[1], 1, 1LL << 32, "PID"));
  Json body = Json::object();
  if (auto signal = args.Value("signal")) {
    MOAT_TRY(body["signal"], ParseSignal(*signal));
  }
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply, api->Call("POST",
                                     SessionPath(args.positional()[0]) + "/processes/" +
                                         std::to_string(pid) + "/kill",
                                     body));
  if (ctx.json()) {
    PrintJson(reply.raw);
  } else {
    std::printf("signalled pid %lld in %s\n", static_cast<long long>(pid),
                args.positional()[0].c_str());
  }
  return {};
}

}  // namespace

Status RunApps(Context& ctx, const Arguments& args) {
  std::string sub = args.empty() ? "" : args.front();
  Arguments rest = args.empty() ? Arguments{} : Arguments(args.begin() + 1, args.end());
  if (sub == "--help" || sub == "-h" || sub == "help") return PrintHelp(kHelp);
  if (sub == "launch") return Launch(ctx, rest);
  if (sub == "ps") return Ps(ctx, rest);
  if (sub == "kill") return Kill(ctx, rest);
  return UnknownSubcommand("apps", args);
}

}  // namespace moat::ctl
