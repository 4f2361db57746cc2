// The global flags (--broker, --ca, --token, --json) and where each setting comes from: a flag
// wins over the environment (MOAT_BROKER, MOAT_CA, MOAT_TOKEN), which wins over the file that
// `moatctl login` saved.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moatctl/config_file.h"

namespace moat::ctl {

struct GlobalOptions {
  std::optional<std::string> broker, ca_file, token;
  bool json = false;
  bool help = false;                 // --help before any command
  std::vector<std::string> command;  // the command and its own arguments
};

// Global flags may stand anywhere before a `--`; the rest is the command line of the command.
Result<GlobalOptions> ParseGlobalOptions(const std::vector<std::string>& args);

struct Settings {
  std::string broker;   // empty: none configured
  std::string ca_file;  // empty: none configured
  std::string token;    // empty: not logged in
  std::string config_path;
  SavedConfig saved;
};

// Never fails for a missing file; fails for an unreadable one.
Result<Settings> ResolveSettings(const GlobalOptions& options);

}  // namespace moat::ctl
