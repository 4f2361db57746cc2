// ~/.config/moat/moatctl.json: what `moatctl login` keeps for later commands (the broker URL,
// the CA file, the token and who it belongs to). Mode 0600 in a 0700 directory: the token is a
// bearer secret.
#pragma once

#include <optional>
#include <string>

#include "moat/common/error.h"

namespace moat::ctl {

struct SavedConfig {
  std::string broker;   // https://host:port
  std::string ca_file;  // absolute path of the CA certificate (PEM)
  std::string token;
  std::string user;
  int64_t expires_at = 0;  // unix seconds, 0 if unknown
};

// $HOME/.config/moat/moatctl.json.
Result<std::string> ConfigPath();
// An absent file is an empty config; a file that is not ours (unreadable, not JSON) is an error.
Result<SavedConfig> LoadConfig(const std::string& path);
// Writes atomically (temporary file, fsync, rename), mode 0600, creating the directories.
Status SaveConfig(const std::string& path, const SavedConfig& config);

}  // namespace moat::ctl
