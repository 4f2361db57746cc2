// Command-line parsing for moat-sandbox: strict, every bad flag is an error that names it.
#pragma once

#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/sandbox/session_spec.h"

namespace moat::sandbox::cli {

struct RunOptions {
  SessionSpec spec;
  std::vector<std::string> command;
  std::vector<std::string> app_env;
  std::string cwd;
  bool detach = false;
  bool keep = false;
  int tty = -1;  // -1: when stdio is a terminal
};

// `args` are the words after "run".
Result<RunOptions> ParseRunFlags(const std::vector<std::string>& args);
// "256M", "1G", "1048576" → bytes.
Result<uint64_t> ParseSize(const std::string& text);

}  // namespace moat::sandbox::cli
