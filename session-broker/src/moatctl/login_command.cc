// moatctl login USER / logout: a token from POST /api/v1/login, kept in the config file with
// the broker URL and CA path it goes with; logout ends it at the broker and forgets it.
#include <cstdio>
#include <filesystem>

#include "moatctl/args.h"
#include "moatctl/commands.h"
#include "moatctl/exit_code.h"
#include "moatctl/output.h"
#include "moatctl/password.h"

namespace moat::ctl {
namespace {

constexpr char kLoginHelp[] =
    "usage: moatctl [--broker URL] [--ca FILE] login USER [--password-stdin] [--ttl SECONDS]\n"
    "\n"
    "Logs in and saves the token, the broker URL and the CA file's path to\n"
    "~/.config/moat/moatctl.json (mode 0600), so later commands need no flags.\n"
    "  --password-stdin  read the password from the first line of stdin; otherwise it is\n"
    "                    asked for at the terminal without echo\n"
    "  --ttl SECONDS     ask for a token that lives this long (the broker caps it)\n"
    "exit codes: 0 ok, 2 usage, 3 wrong user or password, 6 cannot reach the broker;\n"
    "1 when login is throttled (429) after too many failures.\n";

constexpr char kLogoutHelp[] =
    "usage: moatctl logout\n"
    "\n"
    "Ends the token at the broker and removes it from ~/.config/moat/moatctl.json (the broker\n"
    "URL and CA stay for the next login). A token the broker no longer knows is forgotten too.\n";

std::string Absolute(const std::string& path) {
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

}  // namespace

Status RunLogin(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("login", arguments, {{"password-stdin", false}, {"ttl", true}}));
  if (args.help()) return PrintHelp(kLoginHelp);
  MOAT_TRY_VOID(args.ExpectPositional(1, 1, "USER"));
  MOAT_TRY(auto ttl, args.Integer("ttl", 60, 365LL * 86400));
  const std::string& user = args.positional()[0];
  MOAT_TRY(ApiClient * api, ctx.Api());  // before the prompt: a wrong URL fails fast
  MOAT_TRY(std::string password,
           ReadPassword(args.Has("password-stdin"), "Password for " + user + ": ", false));
  Json body = {{"user", user}, {"password", password}};
  if (ttl) body["ttl_s"] = *ttl;
  MOAT_TRY(ApiReply reply, api->CallAnonymous("POST", "/api/v1/login", body));
  if (!reply.body.is_object() || !reply.body.contains("token") ||
      !reply.body["token"].is_string()) {
    return Fail(Exit::kUnreachable, "the broker's login answer has no token");
  }
  SavedConfig saved = ctx.settings().saved;
  saved.broker = ctx.settings().broker;
  saved.ca_file = Absolute(ctx.settings().ca_file);
  saved.token = reply.body["token"].get<std::string>();
  saved.user = user;
  saved.expires_at = reply.body.value("expires_at", int64_t{0});
  if (auto written = SaveConfig(ctx.settings().config_path, saved); !written) {
    return Fail(written.error().Wrap("save the token"));
  }
  if (ctx.json()) {
    PrintJson(reply.raw);
    return {};
  }
  std::string role = reply.body.contains("user") && reply.body["user"].is_object()
                         ? reply.body["user"].value("role", "?")
                         : "?";
  std::printf("logged in to %s as %s (role %s); token saved in %s", saved.broker.c_str(),
              user.c_str(), role.c_str(), ctx.settings().config_path.c_str());
  if (saved.expires_at > 0) std::printf(", expires %s", FormatTime(saved.expires_at).c_str());
  std::printf("\n");
  return {};
}

Status RunLogout(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("logout", arguments, {}));
  if (args.help()) return PrintHelp(kLogoutHelp);
  MOAT_TRY_VOID(args.ExpectPositional(0, 0, ""));
  MOAT_TRY(ApiClient * api, ctx.Api());
  auto reply = api->Call("POST", "/api/v1/logout");
  // A token the broker rejects is as good as ended: forget it all the same.
  if (!reply && ExitStatusOf(reply.error()) != static_cast<int>(Exit::kAuth)) {
    return Fail(reply.error());
  }
  SavedConfig saved = ctx.settings().saved;
  if (!saved.token.empty() && saved.token == api->token()) {
    saved.token.clear();
    saved.user.clear();
    saved.expires_at = 0;
    if (auto written = SaveConfig(ctx.settings().config_path, saved); !written) {
      return Fail(written.error().Wrap("forget the token"));
    }
  }
  if (ctx.json()) {
    PrintJson("");
  } else {
    std::printf("logged out\n");
  }
  return {};
}

}  // namespace moat::ctl
