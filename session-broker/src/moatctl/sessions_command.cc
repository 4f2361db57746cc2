// moatctl sessions ls|show|create|limit|suspend|resume|disconnect|end: /api/v1/sessions.
#include <cstdio>

#include "moat/common/desktop_geometry.h"
#include "moatctl/args.h"
#include "moatctl/commands.h"
#include "moatctl/exit_code.h"
#include "moatctl/limits_arg.h"
#include "moatctl/output.h"
#include "moatctl/session_view.h"

namespace moat::ctl {
namespace {

constexpr char kHelp[] =
    "usage: moatctl sessions COMMAND ...\n"
    "\n"
    "  ls [--user U] [--host H] [--state S] [--all] [--limit N]\n"
    "        live sessions (starting, active, disconnected, suspended, ending); --all adds\n"
    "        ended and failed ones, newest first; --limit 1 to 1000 (default 100)\n"
    "  show ID\n"
    "        one session: owner, host, state, times, limits (as set and as the kernel has\n"
    "        them), usage\n"
    "  create [--user U] [--backend sandbox|vm] [--no-desktop] [--geometry WxH] [--depth 16|24]\n"
    "         [--limit KEY=VALUE ...]\n"
    "        start a session (for another user: admin; limits: admin or operator)\n"
    "  limit ID KEY=VALUE [KEY=VALUE ...]\n"
    "        change a live session's limits (admin, operator)\n"
    "  suspend ID | resume ID        freeze and thaw the whole session (admin, operator)\n"
    "  disconnect ID                 the desktop keeps running for a later reconnect\n"
    "  end ID [--reason TEXT]        stop the session and everything in it\n"
    "\n"
    "Limit keys: cpu_percent (percent of one core, 1-102400), cpu_weight (1-10000),\n"
    "memory_max, memory_high (bytes, K/M/G/T suffixes, at least 4M), swap_max, pids_max,\n"
    "io_weight (1-10000); 'max' lifts a limit. Example: memory_max=512M cpu_percent=50.\n"
    "With --json each command prints the API's answer (a session object; ls: {\"sessions\"}).\n";

constexpr const char* kStates[] = {"starting", "active", "disconnected", "suspended",
                                   "ending",   "ended",  "failed"};

bool KnownState(const std::string& state) {
  for (const char* known : kStates) {
    if (state == known) return true;
  }
  return false;
}

Status PrintSession(Context& ctx, const ApiReply& reply, const Json& effective = nullptr) {
  if (ctx.json()) {
    PrintJson(reply.raw);
  } else {
    PrintFields(SessionFields(reply.body, effective));
  }
  return {};
}

Status List(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args,
           Args::Parse(
               "sessions ls", arguments,
               {{"user", true}, {"host", true}, {"state", true}, {"all", false}, {"limit", true}}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(0, 0, "[--user U] [--host H] [--state S] [--all]"));
  MOAT_TRY(auto limit, args.Integer("limit", 1, 1000));
  std::string query;
  auto add = [&](const std::string& key, const std::string& value) {
    query += (query.empty() ? "?" : "&") + key + "=" + UrlEncode(value);
  };
  if (auto user = args.Value("user")) add("user", *user);
  if (auto host = args.Value("host")) add("host", *host);
  if (auto state = args.Value("state")) {
    if (!KnownState(*state)) {
      return UsageError("unknown state '" + *state +
                        "' (starting, active, disconnected, suspended, ending, ended, failed)");
    }
    add("state", *state);
  }
  // A state filter for ended or failed sessions implies --all.
  bool all = args.Has("all") || args.Value("state") == "ended" || args.Value("state") == "failed";
  if (!all) add("live", "1");
  if (limit) add("limit", std::to_string(*limit));
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply, api->Call("GET", "/api/v1/sessions" + query));
  if (ctx.json()) {
    PrintJson(reply.raw);
    return {};
  }
  Table table(SessionHeaders());
  for (const auto& session : reply.body.value("sessions", Json::array())) {
    table.AddRow(SessionRow(session));
  }
  table.Print();
  return {};
}

Status Show(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("sessions show", arguments, {}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(1, 1, "ID"));
  std::string id = UrlEncode(args.positional()[0]);
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply, api->Call("GET", "/api/v1/sessions/" + id));
  Json effective;
  std::string state = reply.body.value("state", "");
  if (!ctx.json() && state != "ended" && state != "failed") {
    // Best effort: the host may be offline, and the session is worth showing without them.
    if (auto limits = api->Call("GET", "/api/v1/sessions/" + id + "/limits")) {
      effective = limits->body.value("effective_limits", Json());
    }
  }
  return PrintSession(ctx, reply, effective);
}

Status Create(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("sessions create", arguments,
                                  {{"user", true},
                                   {"backend", true},
                                   {"no-desktop", false},
                                   {"geometry", true},
                                   {"depth", true},
                                   {"limit", true}}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(0, 0, "[--user U] [--backend B] [--limit KEY=VALUE]"));
  Json body = Json::object();
  if (auto user = args.Value("user")) body["user"] = *user;
  if (auto backend = args.Value("backend")) {
    if (*backend != "sandbox" && *backend != "vm") {
      return UsageError("'--backend' must be sandbox or vm, not '" + *backend + "'");
    }
    body["backend"] = *backend;
  }
  if (args.Has("no-desktop")) body["desktop"] = false;
  // Checked here as the broker checks them, so a typo is a usage error before any request.
  if (auto geometry = args.Value("geometry")) {
    if (auto ok = CheckDesktopGeometry(*geometry, "--geometry"); !ok) {
      return UsageError(ok.error().message());
    }
    body["geometry"] = *geometry;
  }
  if (auto depth = args.Value("depth")) {
    if (*depth != "16" && *depth != "24") {
      return UsageError("'--depth' must be 16 or 24, not '" + *depth + "'");
    }
    body["depth"] = std::stoi(*depth);
  }
  if (args.Has("limit")) {
    MOAT_TRY(body["limits"], ParseLimitArgs(args.Values("limit")));
  }
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply, api->Call("POST", "/api/v1/sessions", body));
  return PrintSession(ctx, reply);
}

Status Limit(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("sessions limit", arguments, {}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(2, 1000, "ID KEY=VALUE [KEY=VALUE ...]"));
  std::vector<std::string> pairs(args.positional().begin() + 1, args.positional().end());
  MOAT_TRY(Json limits, ParseLimitArgs(pairs));
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply,
           api->Call("POST", "/api/v1/sessions/" + UrlEncode(args.positional()[0]) + "/limits",
                     {{"limits", limits}}));
  return PrintSession(ctx, reply, reply.body.value("effective_limits", Json()));
}

// suspend, resume, disconnect, end: POST /api/v1/sessions/{id}/VERB.
Status Action(Context& ctx, const std::string& verb, const Arguments& arguments) {
  bool end = verb == "end";
  std::vector<FlagSpec> flags;
  if (end) flags.push_back({"reason", true});
  MOAT_TRY(Args args, Args::Parse("sessions " + verb, arguments, flags));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(1, 1, "ID"));
  Json body;
  if (auto reason = args.Value("reason")) body = {{"reason", *reason}};
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(
      ApiReply reply,
      api->Call("POST", "/api/v1/sessions/" + UrlEncode(args.positional()[0]) + "/" + verb, body));
  if (ctx.json()) {
    PrintJson(reply.raw);
  } else {
    std::printf("%s: %s\n", reply.body.value("id", args.positional()[0]).c_str(),
                reply.body.value("state", "?").c_str());
  }
  return {};
}

}  // namespace

Status RunSessions(Context& ctx, const Arguments& args) {
  std::string sub = args.empty() ? "" : args.front();
  Arguments rest = args.empty() ? Arguments{} : Arguments(args.begin() + 1, args.end());
  if (sub == "--help" || sub == "-h" || sub == "help") return PrintHelp(kHelp);
  if (sub == "ls" || sub == "list") return List(ctx, rest);
  if (sub == "show") return Show(ctx, rest);
  if (sub == "create") return Create(ctx, rest);
  if (sub == "limit" || sub == "limits") return Limit(ctx, rest);
  if (sub == "suspend" || sub == "resume" || sub == "disconnect" || sub == "end") {
    return Action(ctx, sub, rest);
  }
  return UnknownSubcommand("sessions", args);
}

}  // namespace moat::ctl
