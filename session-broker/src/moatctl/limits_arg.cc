#include "moatctl/limits_arg.h"

#include <charconv>
#include <cmath>

#include "moat/common/wire/messages.h"
#include "moatctl/exit_code.h"

namespace moat::ctl {
namespace {

enum class Kind { kPercent, kCount, kSize };

struct LimitKey {
  const char* name;
  Kind kind;
};

constexpr LimitKey kKeys[] = {
    {"cpu_percent", Kind::kPercent}, {"cpu_weight", Kind::kCount}, {"memory_max", Kind::kSize},
    {"memory_high", Kind::kSize},    {"swap_max", Kind::kSize},    {"pids_max", Kind::kCount},
    {"io_weight", Kind::kCount},
};

constexpr char kKnown[] =
    "cpu_percent, cpu_weight, memory_max, memory_high, swap_max, pids_max, io_weight";

// "512M" → 512 << 20; a plain number is bytes. Suffixes K, M, G, T (powers of 1024), with an
// optional "B" or "iB" after them.
Result<uint64_t> ParseSize(const std::string& key, std::string text) {
  uint64_t shift = 0;
  for (const char* tail : {"iB", "ib", "B", "b"}) {
    std::string_view t(tail);
    if (text.size() > t.size() + 1 && text.compare(text.size() - t.size(), t.size(), t) == 0) {
      text.resize(text.size() - t.size());
      break;
    }
  }
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      case 't':
      case 'T':
        shift = 40;
        break;
      default:
        break;
    }
    if (shift != 0) text.pop_back();
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0 ||
      !std::isfinite(value)) {
    return UsageError("limit '" + key + "' takes bytes with an optional K, M, G or T suffix " +
                      "(e.g. 512M) or max, not '" + text + "'");
  }
  double bytes = std::ldexp(value, static_cast<int>(shift));
  if (bytes > 9.0e18) return UsageError("limit '" + key + "' is too large");
  return static_cast<uint64_t>(std::llround(bytes));
}

Result<nlohmann::json> ParseValue(const LimitKey& key, const std::string& text) {
  if (text == "max") return nlohmann::json("max");
  if (key.kind == Kind::kSize) {
    MOAT_TRY(uint64_t bytes, ParseSize(key.name, text));
    return nlohmann::json(bytes);
  }
  if (key.kind == Kind::kPercent) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(value)) {
      return UsageError(std::string("limit '") + key.name + "' takes a number or max, not '" +
                        text + "'");
    }
    if (value == std::floor(value)) return nlohmann::json(static_cast<int64_t>(value));
    return nlohmann::json(value);
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return UsageError(std::string("limit '") + key.name + "' takes a whole number or max, not '" +
                      text + "'");
  }
  return nlohmann::json(value);
}

}  // namespace

Result<nlohmann::json> ParseLimitArgs(const std::vector<std::string>& args) {
  nlohmann::json limits = nlohmann::json::object();
  for (const auto& arg : args) {
    auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError("limits are KEY=VALUE, not '" + arg + "' (keys: " + kKnown + ")");
    }
    std::string name = arg.substr(0, eq);
    const LimitKey* key = nullptr;
    for (const auto& candidate : kKeys) {
      if (name == candidate.name) key = &candidate;
    }
    if (key == nullptr) {
      return UsageError("unknown limit '" + name + "' (keys: " + kKnown + ")");
    }
    MOAT_TRY(limits[name], ParseValue(*key, arg.substr(eq + 1)));
  }
  // The same ranges the broker checks: refuse here, before anything is sent.
  auto typed = wire::SessionLimitsFromJson(limits, "limits");
  if (!typed) return UsageError(typed.error().message());
  if (auto checked = wire::CheckLimitRanges(*typed); !checked) {
    return UsageError(checked.error().message());
  }
  return limits;
}

}  // namespace moat::ctl
