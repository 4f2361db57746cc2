#include "flags.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace moat::sandbox::cli {
namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return FailErrno("open spec", path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

Result<BindMount> ParseBind(const std::string& value, bool read_only) {
  BindMount mount;
  auto colon = value.find(':');
  mount.source = value.substr(0, colon);
  mount.target = colon == std::string::npos ? mount.source : value.substr(colon + 1);
  mount.read_only = read_only;
  if (mount.source.empty() || mount.target.empty()) {
    return Fail(InvalidArgument("bind '" + value + "' must be SRC or SRC:DST"));
  }
  return mount;
}

}  // namespace

Result<uint64_t> ParseSize(const std::string& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) {
    return Fail(InvalidArgument("size '" + text + "' is not a number such as 256M"));
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  std::string suffix(end);
  uint64_t scale = 1;
  if (suffix == "K" || suffix == "k")
    scale = 1ull << 10;
  else if (suffix == "M" || suffix == "m")
    scale = 1ull << 20;
  else if (suffix == "G" || suffix == "g")
    scale = 1ull << 30;
  else if (!suffix.empty())
    return Fail(InvalidArgument("size '" + text + "' has an unknown unit"));
  // The largest value is the kernel's "max": that must be said, not reached by a large number.
  if (errno == ERANGE || value >= UINT64_MAX / scale) {
    return Fail(InvalidArgument("size '" + text + "' is too large (use 'max' for no limit)"));
  }
  return value * scale;
}

Result<std::string> FlagValue(const std::vector<std::string>& args, size_t& i) {
  if (i + 1 >= args.size() || args[i + 1] == "--") {
    return Fail(InvalidArgument("flag '" + args[i] + "' needs a value"));
  }
  return args[++i];
}

Result<size_t> EnvAssignment(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Fail(InvalidArgument("--env '" + text + "' must be NAME=VALUE"));
  }
  return eq;
}

Result<double> ParseSeconds(const std::string& flag, const std::string& text, double min,
                            double max) {
  char* end = nullptr;
  double seconds = std::strtod(text.c_str(), &end);
  bool decimal = !text.empty() && text.find_first_not_of("0123456789.") == std::string::npos;
  // Written so that NaN fails too.
  if (!decimal || *end != '\0' || !(seconds >= min && seconds <= max)) {
    std::ostringstream range;
    range << min << ".." << max;
    return Fail(InvalidArgument(flag + " '" + text + "' must be " + range.str() + " seconds"));
  }
  return seconds;
}

namespace {

Result<uint64_t> ParseCount(const std::string& flag, const std::string& text) {
  if (text == "max") return kUnlimited;
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) || *end != '\0' ||
      errno == ERANGE) {
    return Fail(InvalidArgument(flag + " '" + text + "' is not a whole number"));
  }
  if (value >= kUnlimited) {
    return Fail(InvalidArgument(flag + " '" + text + "' is too large (use 'max' for no limit)"));
  }
  return value;
}

Result<uint64_t> ParseSizeOrMax(const std::string& flag, const std::string& text) {
  if (text == "max") return kUnlimited;
  MOAT_TRY_CTX(auto value, ParseSize(text), flag);
  return value;
}

IoDeviceLimit& DeviceEntry(Limits& limits, const std::string& device) {
  for (auto& entry : limits.io_devices) {
    if (entry.device == device) return entry;
  }
  limits.io_devices.push_back({device, {}, {}, {}, {}});
  return limits.io_devices.back();
}

}  // namespace

bool IsLimitFlag(const std::string& flag) {
  for (const char* known :
       {"--cpu", "--cpu-weight", "--memory", "--memory-high", "--swap", "--pids", "--io-weight",
        "--io-read-bps", "--io-write-bps", "--io-read-iops", "--io-write-iops"}) {
    if (flag == known) return true;
  }
  return false;
}

Result<bool> ParseLimitFlag(const std::string& flag, const std::string& value, Limits& limits) {
  if (flag == "--cpu") {
    if (value == "max") {
      limits.cpu_percent = kNoCpuCap;
      return true;
    }
    char* end = nullptr;
    double pct = std::strtod(value.c_str(), &end);
    // strtod also reads "inf", "nan" and hex: only a finite decimal is a percentage.
    bool decimal =
        !value.empty() && value.find_first_not_of("0123456789.-+eE") == std::string::npos;
    if (!decimal || *end != '\0' || !std::isfinite(pct)) {
      return Fail(InvalidArgument("--cpu '" + value + "' is not a percentage of one core"));
    }
    limits.cpu_percent = pct;
  } else if (flag == "--cpu-weight") {
    MOAT_TRY(limits.cpu_weight, ParseCount(flag, value));
  } else if (flag == "--memory") {
    MOAT_TRY(limits.memory_max, ParseSizeOrMax(flag, value));
  } else if (flag == "--memory-high") {
    MOAT_TRY(limits.memory_high, ParseSizeOrMax(flag, value));
  } else if (flag == "--swap") {
    MOAT_TRY(limits.swap_max, ParseSizeOrMax(flag, value));
  } else if (flag == "--pids") {
    MOAT_TRY(limits.pids_max, ParseCount(flag, value));
  } else if (flag == "--io-weight") {
    MOAT_TRY(limits.io_weight, ParseCount(flag, value));
  } else if (flag.starts_with("--io-")) {
    auto eq = value.find('=');
    if (eq == std::string::npos) {
      return Fail(
          InvalidArgument(flag + " '" + value + "' must be DEVICE=VALUE, e.g. /dev/vda=10M"));
    }
    MOAT_TRY(auto device, ResolveBlockDevice(value.substr(0, eq)));
    std::string amount = value.substr(eq + 1);
    auto& entry = DeviceEntry(limits, device);
    if (flag == "--io-read-bps") {
      MOAT_TRY(entry.read_bps, ParseSizeOrMax(flag, amount));
    } else if (flag == "--io-write-bps") {
      MOAT_TRY(entry.write_bps, ParseSizeOrMax(flag, amount));
    } else if (flag == "--io-read-iops") {
      MOAT_TRY(entry.read_iops, ParseCount(flag, amount));
    } else if (flag == "--io-write-iops") {
      MOAT_TRY(entry.write_iops, ParseCount(flag, amount));
    } else {
      return false;
    }
  } else {
    return false;
  }
  return true;
}

Result<RunOptions> ParseRunFlags(const std::vector<std::string>& args) {
  RunOptions options;
  // The spec file first, so that flags override it whatever their order.
  for (size_t i = 0; i + 1 < args.size() && args[i] != "--"; ++i) {
    if (args[i] == "--spec" && args[i + 1] != "--") {
      MOAT_TRY(auto text, ReadFile(args[i + 1]));
      MOAT_TRY_CTX(options.spec, ParseSessionSpecJson(text), "spec '" + args[i + 1] + "'");
    }
  }
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--") {
      options.command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (flag == "--spec") {
      MOAT_TRY_VOID(FlagValue(args, i));  // read above
    } else if (flag == "--id") {
      MOAT_TRY(options.spec.id, FlagValue(args, i));
    } else if (flag == "--user") {
      MOAT_TRY(options.spec.user, FlagValue(args, i));
    } else if (flag == "--root") {
      MOAT_TRY(options.spec.root, FlagValue(args, i));
    } else if (flag == "--hostname") {
      MOAT_TRY(options.spec.hostname, FlagValue(args, i));
    } else if (flag == "--seccomp-profile") {
      MOAT_TRY(options.spec.seccomp_profile, FlagValue(args, i));
    } else if (flag == "--bind" || flag == "--ro-bind") {
      MOAT_TRY(auto text, FlagValue(args, i));
      MOAT_TRY(auto mount, ParseBind(text, flag == "--ro-bind"));
      options.spec.mounts.push_back(std::move(mount));
    } else if (flag == "--host-dir") {
      MOAT_TRY(auto name, FlagValue(args, i));
      options.spec.host_dirs.push_back(std::move(name));
    } else if (flag == "--upper-size") {
      MOAT_TRY(auto text, FlagValue(args, i));
      MOAT_TRY(options.spec.upper_size_bytes, ParseSize(text));
    } else if (flag == "--env") {
      MOAT_TRY(auto text, FlagValue(args, i));
      MOAT_TRY(auto eq, EnvAssignment(text));
      options.spec.env[text.substr(0, eq)] = text.substr(eq + 1);
    } else if (flag == "--cwd") {
      MOAT_TRY(options.cwd, FlagValue(args, i));
    } else if (flag == "--detach") {
      options.detach = true;
    } else if (flag == "--keep") {
      options.keep = true;
    } else if (flag == "--tty") {
      options.tty = 1;
    } else if (flag == "--no-tty") {
      options.tty = 0;
    } else if (IsLimitFlag(flag)) {
      MOAT_TRY(auto text, FlagValue(args, i));
      MOAT_TRY_VOID(ParseLimitFlag(flag, text, options.spec.limits));
    } else {
      return Fail(
          InvalidArgument("unknown flag '" + flag + "' for 'run' (see moat-sandbox --help)"));
    }
  }
  if (options.command.empty() && !options.detach) {
    return Fail(InvalidArgument("no command: use 'moat-sandbox run [flags] -- CMD [ARG...]'"));
  }
  return options;
}

}  // namespace moat::sandbox::cli
