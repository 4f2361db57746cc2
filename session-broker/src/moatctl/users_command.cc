// moatctl users ls|add|passwd|role: the broker's users (local ones with a password, or PAM).
#include <cstdio>

#include "moatctl/args.h"
#include "moatctl/commands.h"
#include "moatctl/exit_code.h"
#include "moatctl/output.h"
#include "moatctl/password.h"

namespace moat::ctl {
namespace {

constexpr char kHelp[] =
    "usage: moatctl users COMMAND ...\n"
    "\n"
    "  ls                                        all users (admin, operator, auditor)\n"
    "  add NAME [--role R] [--pam] [--password-stdin] [--display-name TEXT]\n"
    "        a new user (admin); the password (8 characters at least) is asked for at the\n"
    "        terminal or read from stdin; --pam: PAM checks the password, none is stored\n"
    "  passwd NAME [--password-stdin]            set a local user's password (admin, self)\n"
    "  role NAME ROLE                            change a user's role (admin)\n"
    "\n"
    "Roles: admin (everything), operator (view all, throttle, suspend, end, kill), auditor\n"
    "(read-only, plus SQL), user (own sessions only; the default).\n";

Status CheckRole(const std::string& role) {
  if (role == "admin" || role == "operator" || role == "auditor" || role == "user") return {};
  return UsageError("unknown role '" + role + "' (admin, operator, auditor or user)");
}

Status CheckPasswordLength(const std::string& password) {
  if (password.size() >= 8) return {};
  return UsageError("a password needs at least 8 characters");
}

Status PrintUser(Context& ctx, const ApiReply& reply) {
  if (ctx.json()) {
    PrintJson(reply.raw);
    return {};
  }
  const Json& u = reply.body;
  PrintFields({{"name", Cell(u.value("name", Json()))},
               {"display name", Cell(u.value("display_name", Json()))},
               {"role", Cell(u.value("role", Json()))},
               {"source", Cell(u.value("source", Json()))},
               {"disabled", Cell(u.value("disabled", Json()))}});
  return {};
}

Status List(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("users ls", arguments, {}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(0, 0, ""));
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply, api->Call("GET", "/api/v1/users"));
  if (ctx.json()) {
    PrintJson(reply.raw);
    return {};
  }
  Table table({"NAME", "ROLE", "SOURCE", "DISABLED", "CREATED", "DISPLAY-NAME"});
  for (const auto& u : reply.body.value("users", Json::array())) {
    Json created = u.value("created_at", Json());
    table.AddRow({Cell(u.value("name", Json())), Cell(u.value("role", Json())),
                  Cell(u.value("source", Json())), Cell(u.value("disabled", Json())),
                  created.is_number_integer()
                      ? FormatAge(NowSeconds() - created.get<int64_t>()) + " ago"
                      : Cell(created),
                  Cell(u.value("display_name", Json()))});
  }
  table.Print();
  return {};
}

Status Add(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(
      Args args,
      Args::Parse(
          "users add", arguments,
          {{"role", true}, {"pam", false}, {"password-stdin", false}, {"display-name", true}}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(1, 1, "NAME"));
  const std::string& name = args.positional()[0];
  Json body = {{"name", name}};
  if (auto role = args.Value("role")) {
    MOAT_TRY_VOID(CheckRole(*role));
    body["role"] = *role;
  }
  if (auto display = args.Value("display-name")) body["display_name"] = *display;
  if (args.Has("pam")) {
    if (args.Has("password-stdin")) {
      return UsageError("a PAM user's password lives with PAM: give --pam or --password-stdin");
    }
    body["source"] = "pam";
  } else {
    MOAT_TRY(std::string password,
             ReadPassword(args.Has("password-stdin"), "Password for " + name + ": ", true));
    MOAT_TRY_VOID(CheckPasswordLength(password));
    body["password"] = password;
  }
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply, api->Call("POST", "/api/v1/users", body));
  return PrintUser(ctx, reply);
}

Status Passwd(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("users passwd", arguments, {{"password-stdin", false}}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(1, 1, "NAME"));
  const std::string& name = args.positional()[0];
  MOAT_TRY(ApiClient * api, ctx.Api());  // before the prompt: a wrong URL fails fast
  MOAT_TRY(std::string password,
           ReadPassword(args.Has("password-stdin"), "New password for " + name + ": ", true));
  MOAT_TRY_VOID(CheckPasswordLength(password));
  MOAT_TRY(ApiReply reply, api->Call("POST", "/api/v1/users/" + UrlEncode(name) + "/password",
                                     {{"password", password}}));
  if (ctx.json()) {
    PrintJson(reply.raw);
  } else {
    std::printf("password of %s changed\n", name.c_str());
  }
  return {};
}

Status Role(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("users role", arguments, {}));
  if (args.help()) return PrintHelp(kHelp);
  MOAT_TRY_VOID(args.ExpectPositional(2, 2, "NAME ROLE"));
  MOAT_TRY_VOID(CheckRole(args.positional()[1]));
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply,
           api->Call("POST", "/api/v1/users/" + UrlEncode(args.positional()[0]) + "/role",
                     {{"role", args.positional()[1]}}));
  return PrintUser(ctx, reply);
}

}  // namespace

Status RunUsers(Context& ctx, const Arguments& args) {
  std::string sub = args.empty() ? "" : args.front();
  Arguments rest = args.empty() ? Arguments{} : Arguments(args.begin() + 1, args.end());
  if (sub == "--help" || sub == "-h" || sub == "help") return PrintHelp(kHelp);
  if (sub == "ls" || sub == "list") return List(ctx, rest);
  if (sub == "add") return Add(ctx, rest);
  if (sub == "passwd" || sub == "password") return Passwd(ctx, rest);
  if (sub == "role") return Role(ctx, rest);
  return UnknownSubcommand("users", args);
}

}  // namespace moat::ctl
