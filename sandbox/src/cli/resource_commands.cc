// moat-sandbox set / stats / freeze / thaw: live resource control of running sessions.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "flags.h"

namespace moat::sandbox::cli {
namespace {

std::string Bytes(uint64_t value) {
  if (value == kUnlimited) return "max";
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double amount = static_cast<double>(value);
  int unit = 0;
  while (amount >= 1024 && unit < 4) {
    amount /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit ? "%.1f%s" : "%.0f%s", amount, units[unit]);
  return text;
}

std::string Count(const std::optional<uint64_t>& value) {
  if (!value) return "-";
  return *value == kUnlimited ? "max" : std::to_string(*value);
}

nlohmann::json LimitsJson(const Limits& limits) {
  auto number = [](const std::optional<uint64_t>& v) -> nlohmann::json {
    if (!v) return nullptr;
    if (*v == kUnlimited) return "max";
    return *v;
  };
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& d : limits.io_devices) {
    devices.push_back({{"device", d.device},
                       {"read_bps", number(d.read_bps)},
                       {"write_bps", number(d.write_bps)},
                       {"read_iops", number(d.read_iops)},
                       {"write_iops", number(d.write_iops)}});
  }
  nlohmann::json cpu = nullptr;
  if (limits.cpu_percent)
    cpu = *limits.cpu_percent == kNoCpuCap ? nlohmann::json("max")
                                           : nlohmann::json(*limits.cpu_percent);
  return {{"cpu_percent", cpu},
          {"cpu_weight", number(limits.cpu_weight)},
          {"memory_max", number(limits.memory_max)},
          {"memory_high", number(limits.memory_high)},
          {"swap_max", number(limits.swap_max)},
          {"pids_max", number(limits.pids_max)},
          {"io_weight", number(limits.io_weight)},
          {"io_devices", devices}};
}

void PrintLimits(const Limits& limits) {
  std::string cpu = !limits.cpu_percent ? "-"
                    : *limits.cpu_percent == kNoCpuCap
                        ? "max"
                        : std::to_string(static_cast<int>(*limits.cpu_percent + 0.5)) + "%";
  std::printf(
      "limits: cpu=%s cpu-weight=%s memory=%s memory-high=%s swap=%s pids=%s io-weight=%s\n",
      cpu.c_str(), Count(limits.cpu_weight).c_str(),
      limits.memory_max ? Bytes(*limits.memory_max).c_str() : "-",
      limits.memory_high ? Bytes(*limits.memory_high).c_str() : "-",
      limits.swap_max ? Bytes(*limits.swap_max).c_str() : "-", Count(limits.pids_max).c_str(),
      Count(limits.io_weight).c_str());
  for (const auto& d : limits.io_devices) {
    std::printf("  io %s: read=%s/s write=%s/s read-iops=%s write-iops=%s\n", d.device.c_str(),
                d.read_bps ? Bytes(*d.read_bps).c_str() : "-",
                d.write_bps ? Bytes(*d.write_bps).c_str() : "-", Count(d.read_iops).c_str(),
                Count(d.write_iops).c_str());
  }
}

struct Target {
  std::string id;
  std::string app;
};

// The ID comes first; `--app N` may come anywhere after it.
Result<Target> ParseTarget(const std::vector<std::string>& args, const char* usage) {
  if (args.empty() || args[0].starts_with("-")) return Fail(InvalidArgument(usage));
  return Target{args[0], ""};
}

}  // namespace

int CommandSet(const GlobalOptions& global, const std::vector<std::string>& args) {
  std::string usage = std::string("usage: moat-sandbox set ID [--app N] ") + kLimitFlagsHelp;
  auto target = ParseTarget(args, usage.c_str());
  if (!target) return Report(target.error());
  Limits limits;
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
      continue;
    }
    if (args[i] == "--app") {
      auto app = FlagValue(args, i);
      if (!app) return Report(app.error());
      target->app = *app;
      continue;
    }
    if (!IsLimitFlag(args[i]) || i + 1 >= args.size()) {
      return Report(
          InvalidArgument("unknown or incomplete flag '" + args[i] + "' for 'set'\n" + usage));
    }
    auto parsed = ParseLimitFlag(args[i], args[i + 1], limits);
    if (!parsed) return Report(parsed.error());
    ++i;
  }
  if (limits == Limits{}) return Report(InvalidArgument("set: no limit given\n" + usage));
  auto manager = OpenManager(global);
  if (!manager) return Report(manager.error());
  auto applied = (*manager)->SetLimits(target->id, target->app, limits);
  if (!applied) return Report(applied.error());
  auto effective = (*manager)->ReadLimits(target->id, target->app);
  if (!effective) return Report(effective.error());
  if (json) {
    std::printf("%s\n", LimitsJson(*effective).dump(2).c_str());
  } else {
    PrintLimits(*effective);
  }
  return 0;
}

int CommandStats(const GlobalOptions& global, const std::vector<std::string>& args) {
  auto target = ParseTarget(args, "usage: moat-sandbox stats ID [--app N] [--watch] [--json]");
  if (!target) return Report(target.error());
  bool watch = false, json = false;
  double interval = 1.0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--watch") {
      watch = true;
    } else if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--app") {
      auto app = FlagValue(args, i);
      if (!app) return Report(app.error());
      target->app = *app;
    } else if (args[i] == "--interval") {
      auto value = FlagValue(args, i);
      if (!value) return Report(value.error());
      auto seconds = ParseSeconds("--interval", *value, 0.05, 3600);
      if (!seconds) return Report(seconds.error());
      interval = *seconds;
    } else {
      return Report(InvalidArgument("unknown flag '" + args[i] + "' for 'stats'"));
    }
  }
  auto manager = OpenManager(global);
  if (!manager) return Report(manager.error());
  auto previous = (*manager)->Usage(target->id, target->app);
  if (!previous) return Report(previous.error());
  auto previous_time = std::chrono::steady_clock::now();
  do {
    std::this_thread::sleep_for(std::chrono::duration<double>(watch ? interval : 0.2));
    auto usage = (*manager)->Usage(target->id, target->app);
    if (!usage) return Report(usage.error());
    auto now = std::chrono::steady_clock::now();
    double elapsed_us = std::chrono::duration<double, std::micro>(now - previous_time).count();
    double cpu_pct =
        100.0 * static_cast<double>(usage->cpu_usage_us - previous->cpu_usage_us) / elapsed_us;
    auto limits = (*manager)->ReadLimits(target->id, target->app);
    auto apps = target->app.empty() ? (*manager)->Applications(target->id)
                                    : Result<std::vector<std::string>>(std::vector<std::string>{});
    if (json) {
      auto pressure = [](const std::optional<double>& v) -> nlohmann::json {
        return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
      };
      nlohmann::json out = {{"id", target->id},
                            {"app", target->app},
                            {"cpu_percent", cpu_pct},
                            {"cpu_usage_us", usage->cpu_usage_us},
                            {"cpu_throttled_us", usage->cpu_throttled_us},
                            {"cpu_nr_throttled", usage->cpu_nr_throttled},
                            {"memory_current", usage->memory_current},
                            {"memory_peak", usage->memory_peak},
                            {"oom_kills", usage->oom_kills},
                            {"pids", usage->pids_current},
                            {"io_read_bytes", usage->io_read_bytes},
                            {"io_write_bytes", usage->io_write_bytes},
                            {"io_read_ops", usage->io_read_ops},
                            {"io_write_ops", usage->io_write_ops},
                            {"cpu_pressure", pressure(usage->cpu_pressure)},
                            {"memory_pressure", pressure(usage->memory_pressure)},
                            {"io_pressure", pressure(usage->io_pressure)},
                            {"frozen", usage->frozen},
                            {"applications", apps ? *apps : std::vector<std::string>{}}};
      if (limits) out["limits"] = LimitsJson(*limits);
      std::printf("%s\n", out.dump(watch ? -1 : 2).c_str());
    } else {
      std::printf(
          "%s%s%s: %s cpu=%.1f%% throttled=%.2fs memory=%s peak=%s oom-kills=%lu "
          "pids=%lu io-read=%s io-write=%s psi-cpu=%.2f psi-mem=%.2f psi-io=%.2f\n",
          target->id.c_str(), target->app.empty() ? "" : "/", target->app.c_str(),
          usage->frozen ? "FROZEN" : "running", cpu_pct, usage->cpu_throttled_us / 1e6,
          Bytes(usage->memory_current).c_str(), Bytes(usage->memory_peak).c_str(),
          static_cast<unsigned long>(usage->oom_kills),
          static_cast<unsigned long>(usage->pids_current), Bytes(usage->io_read_bytes).c_str(),
          Bytes(usage->io_write_bytes).c_str(), usage->cpu_pressure.value_or(0),
          usage->memory_pressure.value_or(0), usage->io_pressure.value_or(0));
      if (limits && !watch) PrintLimits(*limits);
      if (apps && !apps->empty() && !watch) {
        std::printf("applications:");
        for (const auto& app : *apps) std::printf(" %s", app.c_str());
        std::printf("\n");
      }
    }
    std::fflush(stdout);
    previous = usage;
    previous_time = now;
  } while (watch);
  return 0;
}

int CommandFreeze(const GlobalOptions& global, const std::vector<std::string>& args) {
  if (args.size() != 1) return Report(InvalidArgument("usage: moat-sandbox freeze ID"));
  auto manager = OpenManager(global);
  if (!manager) return Report(manager.error());
  auto frozen = (*manager)->Freeze(args[0]);
  return frozen ? 0 : Report(frozen.error());
}

int CommandThaw(const GlobalOptions& global, const std::vector<std::string>& args) {
  if (args.size() != 1) return Report(InvalidArgument("usage: moat-sandbox thaw ID"));
  auto manager = OpenManager(global);
  if (!manager) return Report(manager.error());
  auto thawed = (*manager)->Thaw(args[0]);
  return thawed ? 0 : Report(thawed.error());
}

}  // namespace moat::sandbox::cli
