#include "moatctl/settings.h"

#include <cstdlib>

#include "moatctl/exit_code.h"

namespace moat::ctl {
namespace {

std::optional<std::string> Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// A trailing slash would double up with the API paths.
std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

Result<GlobalOptions> ParseGlobalOptions(const std::vector<std::string>& args) {
  GlobalOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      options.command.insert(options.command.end(), args.begin() + static_cast<std::ptrdiff_t>(i),
                             args.end());
      break;
    }
    std::optional<std::string>* target = arg == "--broker"  ? &options.broker
                                         : arg == "--ca"    ? &options.ca_file
                                         : arg == "--token" ? &options.token
                                                            : nullptr;
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (target == nullptr) {
      for (const char* flag : {"--broker=", "--ca=", "--token="}) {
        if (arg.rfind(flag, 0) == 0) {
          name = std::string(flag, std::char_traits<char>::length(flag) - 1);
          inline_value = arg.substr(name.size() + 1);
          target = name == "--broker" ? &options.broker
                   : name == "--ca"   ? &options.ca_file
                                      : &options.token;
        }
      }
    }
    if (target != nullptr) {
      if (!inline_value) {
        if (i + 1 >= args.size() || args[i + 1].empty()) {
          return UsageError("'" + name + "' needs a value");
        }
        inline_value = args[++i];
      }
      *target = std::move(*inline_value);
    } else if (arg == "--json") {
      options.json = true;
    } else if ((arg == "--help" || arg == "-h") && options.command.empty()) {
      options.help = true;
    } else {
      options.command.push_back(arg);
    }
  }
  return options;
}

Result<Settings> ResolveSettings(const GlobalOptions& options) {
  Settings settings;
  MOAT_TRY(settings.config_path, ConfigPath());
  auto saved = LoadConfig(settings.config_path);
  if (!saved) return Fail(Exit::kUsage, saved.error().message());
  settings.saved = std::move(*saved);
  auto pick = [](const std::optional<std::string>& flag, const char* env, const std::string& file) {
    if (flag) return *flag;
    if (auto value = Env(env)) return *value;
    return file;
  };
  settings.broker = TrimSlash(pick(options.broker, "MOAT_BROKER", settings.saved.broker));
  settings.ca_file = pick(options.ca_file, "MOAT_CA", settings.saved.ca_file);
  // The saved token belongs to the saved broker: never send it to another one.
  std::string saved_token =
      TrimSlash(settings.saved.broker) == settings.broker ? settings.saved.token : "";
  settings.token = pick(options.token, "MOAT_TOKEN", saved_token);
  return settings;
}

}  // namespace moat::ctl
