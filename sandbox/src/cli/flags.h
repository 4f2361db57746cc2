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
// The value of the flag at args[i], which it then steps over; missing (or "--") is an error
// that names the flag.
Result<std::string> FlagValue(const std::vector<std::string>& args, size_t& i);
// The position of '=' in an --env NAME=VALUE, or an error that shows the text.
Result<size_t> EnvAssignment(const std::string& text);
// A plain decimal number of seconds in [min, max] (no sign, exponent, "inf" or "nan").
Result<double> ParseSeconds(const std::string& flag, const std::string& text, double min,
                            double max);

// One limit flag (--cpu, --memory, ...) with its value into `limits`. Returns false when
// `flag` is not a limit flag.
Result<bool> ParseLimitFlag(const std::string& flag, const std::string& value, Limits& limits);
bool IsLimitFlag(const std::string& flag);
inline constexpr const char* kLimitFlagsHelp =
    "[--cpu PCT|max] [--cpu-weight N] [--memory SIZE|max] [--memory-high SIZE|max]\n"
    "      [--swap SIZE|max] [--pids N|max] [--io-weight N] [--io-read-bps DEV=SIZE|max]\n"
    "      [--io-write-bps DEV=SIZE|max] [--io-read-iops DEV=N|max] [--io-write-iops DEV=N|max]";

}  // namespace moat::sandbox::cli
