// The command groups of moatctl, one file each (login_command.cc, sessions_command.cc, …). Each
// parses its own arguments first (usage errors never touch the network), then talks to the
// broker through the Context's client, and prints a table or the API's JSON.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moatctl/api_client.h"
#include "moatctl/settings.h"

namespace moat::ctl {

class Context {
 public:
  Context(GlobalOptions options, Settings settings)
      : options_(std::move(options)), settings_(std::move(settings)) {}

  bool json() const { return options_.json; }
  const Settings& settings() const { return settings_; }
  // Connects on first use.
  Result<ApiClient*> Api();

 private:
  GlobalOptions options_;
  Settings settings_;
  std::unique_ptr<ApiClient> api_;
};

using Arguments = std::vector<std::string>;

Status RunLogin(Context& ctx, const Arguments& args);
Status RunLogout(Context& ctx, const Arguments& args);
Status RunSessions(Context& ctx, const Arguments& args);
Status RunApps(Context& ctx, const Arguments& args);
Status RunHosts(Context& ctx, const Arguments& args);
Status RunUsers(Context& ctx, const Arguments& args);
Status RunWatch(Context& ctx, const Arguments& args);
Status RunSql(Context& ctx, const Arguments& args);

// Prints a group's help text to stdout.
Status PrintHelp(const char* text);
// The usage error for a missing or unknown subcommand of `group`.
Status UnknownSubcommand(const std::string& group, const Arguments& args);

}  // namespace moat::ctl
