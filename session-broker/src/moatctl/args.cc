#include "moatctl/args.h"

#include <charconv>

#include "moatctl/exit_code.h"

namespace moat::ctl {

Result<Args> Args::Parse(std::string command, const std::vector<std::string>& args,
                         const std::vector<FlagSpec>& specs) {
  Args out;
  out.command_ = std::move(command);
  auto hint = " (see 'moatctl " + out.command_ + " --help')";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.after_dashes_.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      out.help_ = true;
      continue;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      out.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagSpec* spec = nullptr;
    for (const auto& candidate : specs) {
      if (candidate.name == name) spec = &candidate;
    }
    if (spec == nullptr) return UsageError("unknown flag '--" + name + "'" + hint);
    if (!spec->takes_value) {
      if (inline_value) return UsageError("'--" + name + "' takes no value" + hint);
      out.flags_[name].emplace_back();
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) return UsageError("'--" + name + "' needs a value" + hint);
      inline_value = args[++i];
    }
    out.flags_[name].push_back(std::move(*inline_value));
  }
  return out;
}

bool Args::Has(std::string_view flag) const { return flags_.find(flag) != flags_.end(); }

std::optional<std::string> Args::Value(std::string_view flag) const {
  auto it = flags_.find(flag);
  if (it == flags_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::Values(std::string_view flag) const {
  auto it = flags_.find(flag);
  return it == flags_.end() ? std::vector<std::string>{} : it->second;
}

Status Args::ExpectPositional(size_t min, size_t max, std::string_view what) const {
  if (positional_.size() >= min && positional_.size() <= max) return {};
  std::string message = positional_.size() < min ? "missing " + std::string(what)
                                                 : "unexpected argument '" + positional_[max] + "'";
  return UsageError(message + " (usage: moatctl " + command_ + " " + std::string(what) +
                    "; see --help)");
}

Result<std::optional<int64_t>> Args::Integer(std::string_view flag, int64_t low,
                                             int64_t high) const {
  auto text = Value(flag);
  if (!text) return std::optional<int64_t>();
  MOAT_TRY(int64_t value, ParseInteger(*text, low, high, "--" + std::string(flag)));
  return std::optional<int64_t>(value);
}

Result<int64_t> ParseInteger(std::string_view text, int64_t low, int64_t high,
                             std::string_view what) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < low ||
      value > high) {
    return UsageError("'" + std::string(what) + "' must be a whole number " + std::to_string(low) +
                      " to " + std::to_string(high) + ", not '" + std::string(text) + "'");
  }
  return value;
}

}  // namespace moat::ctl
