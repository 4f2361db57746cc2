// moatctl hosts ls|drain|undrain|token: the session hosts, and one-time enrolment tokens that
// let a new host's moat-agent join.
#include <cstdio>

#include "moatctl/args.h"
#include "moatctl/commands.h"
#include "moatctl/exit_code.h"
#include "moatctl/output.h"

namespace moat::ctl {
namespace {

constexpr char kHelp[] =
    "usage: moatctl hosts COMMAND ...\n"
    "\n"
    "  ls                    hosts with their state, load and capacity\n"
    "  drain NAME            place no new sessions there (running ones stay); admin\n"
    "  undrain NAME          take new sessions again; admin\n"
    "  token [--ttl SECONDS] a one-time enrolment token for a new host (default 3600 s,\n"
    "                        60 to 604800), and the moat-agent command line to run there;\n"
    "                        admin\n";

Status List(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("hosts ls", arguments, {}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(0, 0, ""));
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply, api->Call("GET", "/api/v1/hosts"));
  if (ctx.json()) {
    PrintJson(reply.raw);
    return {};
  }
  Table table({"NAME", "STATE", "CONNECTED", "ENABLED", "DRAINED", "SESSIONS", "CAPACITY",
               "ADDRESS", "LAST-SEEN"});
  for (const auto& h : reply.body.value("hosts", Json::array())) {
    Json seen = h.value("last_seen", Json());
    table.AddRow({Cell(h.value("name", Json())), Cell(h.value("state", Json())),
                  Cell(h.value("connected", Json())), Cell(h.value("enabled", Json())),
                  Cell(h.value("drained", Json())), Cell(h.value("live_sessions", Json())),
                  Cell(h.value("capacity", Json())), Cell(h.value("address", Json())),
                  seen.is_number_integer() ? FormatAge(NowSeconds() - seen.get<int64_t>()) + " ago"
                                           : Cell(seen)});
  }
  table.Print();
  return {};
}

Status Switch(Context& ctx, const std::string& verb, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("hosts " + verb, arguments, {}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(1, 1, "NAME"));
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply,
           api->Call("POST", "/api/v1/hosts/" + UrlEncode(args.positional()[0]) + "/" + verb));
  if (ctx.json()) {
    PrintJson(reply.raw);
  } else {
    std::printf("%s: %s\n", reply.body.value("name", args.positional()[0]).c_str(),
                reply.body.value("drained", false) ? "drained" : "taking sessions");
  }
  return {};
}

Status Token(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("hosts token", arguments, {{"ttl", true}}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(0, 0, "[--ttl SECONDS]"));
  MOAT_TRY(auto ttl, args.Integer("ttl", 60, 7 * 24 * 3600));
  Json body = Json::object();
  if (ttl) body["ttl_s"] = *ttl;
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply, api->Call("POST", "/api/v1/hosts/tokens", body));
  if (ctx.json()) {
    PrintJson(reply.raw);
    return {};
  }
  std::string token = reply.body.value("agent_token", "");
  std::string expires =
      reply.body.contains("expires_at") && reply.body["expires_at"].is_number_integer()
          ? FormatTime(reply.body["expires_at"].get<int64_t>())
          : "-";
  PrintFields({{"agent_token", token},
               {"expires", expires},
               {"ca_fingerprint", Cell(reply.body.value("ca_fingerprint", Json()))},
               {"agent_port", Cell(reply.body.value("agent_port", Json()))}});
  std::printf(
      "\nOn the new host, as root (the token works once; it carries the CA's fingerprint):\n"
      "  moat-agent --broker %s --token %s\n",
      api->broker().c_str(), token.c_str());
  // The URL is the one this moatctl uses: a loopback address means nothing on another host.
  auto url = net::ParseUrl(api->broker());
  if (url && (url->host == "localhost" || url->host == "::1" || url->host.rfind("127.", 0) == 0)) {
    std::printf("(replace %s with an address of the broker that the new host can reach)\n",
                url->host.c_str());
  }
  return {};
}

}  // namespace

Status RunHosts(Context& ctx, const Arguments& args) {
  std::string sub = args.empty() ? "" : args.front();
  Arguments rest = args.empty() ? Arguments{} : Arguments(args.begin() + 1, args.end());
  if (sub == "--help" || sub == "-h" || sub == "help") return PrintHelp(kHelp);
  if (sub == "ls" || sub == "list") return List(ctx, rest);
  if (sub == "drain" || sub == "undrain") return Switch(ctx, sub, rest);
  if (sub == "token") return Token(ctx, rest);
  return UnknownSubcommand("hosts", args);
}

}  // namespace moat::ctl
