// Reading usage counters: one parser per kind of kernel file, shared by Usage() and the
// sampler that keeps the files open.
#include <fcntl.h>
#include <unistd.h>

#include "cgroup_files.h"
#include "cgroup_limit_table.h"
#include "cgroup_usage_parse.h"
#include "moat/common/text.h"
#include "moat/sandbox/cgroup_driver.h"

namespace moat::sandbox {

namespace {

uint64_t Number(std::string_view text) {
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') break;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

// The value after "key " at the start of a line, without building streams: this runs for
// every counter of every session every second.
std::optional<uint64_t> Keyed(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (text.compare(pos, key.size(), key) == 0 && pos + key.size() < text.size() &&
        text[pos + key.size()] == ' ') {
      return Number(text.substr(pos + key.size() + 1));
    }
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<double> Avg10(std::string_view text, std::string_view kind) {
  size_t line = text.find(kind);
  if (line == std::string_view::npos) return std::nullopt;
  size_t pos = text.find("avg10=", line);
  if (pos == std::string_view::npos) return std::nullopt;
  return std::strtod(std::string(text.substr(pos + 6, 16)).c_str(), nullptr);
}

}  // namespace

bool IsSlowCounter(CounterKind kind) {
  switch (kind) {
    case CounterKind::kV1OomControl:
    case CounterKind::kV2MemoryEvents:
    case CounterKind::kV1FreezerState:
    case CounterKind::kV2CgroupEvents:
    case CounterKind::kCpuPressure:
    case CounterKind::kMemoryPressure:
    case CounterKind::kIoPressure:
      return true;
    default:
      return false;
  }
}

void ApplyCounter(CounterKind kind, std::string_view text, CgroupUsage& usage) {
  auto number = [&text] { return Number(text); };
  switch (kind) {
    case CounterKind::kV1CpuacctUsage:
      usage.cpu_usage_us = number() / 1000;
      break;
    case CounterKind::kV1CpuStat:
      usage.cpu_throttled_us = Keyed(text, "throttled_time").value_or(0) / 1000;
      usage.cpu_nr_throttled = Keyed(text, "nr_throttled").value_or(0);
      break;
    case CounterKind::kV1MemoryUsage:
    case CounterKind::kV2MemoryCurrent:
      usage.memory_current = number();
      break;
    case CounterKind::kV1MemoryMaxUsage:
    case CounterKind::kV2MemoryPeak:
      usage.memory_peak = number();
      break;
    case CounterKind::kV1OomControl:
      usage.oom_kills += Keyed(text, "oom_kill").value_or(0);
      break;
    case CounterKind::kV2MemoryEvents:
      usage.oom_kills = Keyed(text, "oom_kill").value_or(0);
      break;
    case CounterKind::kV1BlkioBytes:
      usage.io_read_bytes = usage.io_write_bytes = 0;
      AddV1BlkioTotals(text, usage.io_read_bytes, usage.io_write_bytes);
      break;
    case CounterKind::kV1BlkioOps:
      usage.io_read_ops = usage.io_write_ops = 0;
      AddV1BlkioTotals(text, usage.io_read_ops, usage.io_write_ops);
      break;
    case CounterKind::kV1FreezerState:
      usage.frozen = text.starts_with("FROZEN");
      break;
    case CounterKind::kV2CpuStat:
      usage.cpu_usage_us = Keyed(text, "usage_usec").value_or(0);
      usage.cpu_throttled_us = Keyed(text, "throttled_usec").value_or(0);
      usage.cpu_nr_throttled = Keyed(text, "nr_throttled").value_or(0);
      break;
    case CounterKind::kV2IoStat: {
      auto totals = ParseV2IoStat(std::string(text));
      usage.io_read_bytes = totals.read_bytes;
      usage.io_write_bytes = totals.write_bytes;
      usage.io_read_ops = totals.read_ops;
      usage.io_write_ops = totals.write_ops;
      break;
    }
    case CounterKind::kV2CgroupEvents:
      usage.frozen = Keyed(text, "frozen").value_or(0) == 1;
      break;
    case CounterKind::kPidsCurrent:
      usage.pids_current = number();
      break;
    case CounterKind::kCpuPressure:
      usage.cpu_pressure = Avg10(text, "some");
      break;
    case CounterKind::kMemoryPressure:
      usage.memory_pressure = Avg10(text, "some");
      usage.memory_full_pressure = Avg10(text, "full");
      break;
    case CounterKind::kIoPressure:
      usage.io_pressure = Avg10(text, "some");
      break;
  }
}

Result<CgroupUsage> CgroupDriver::Usage(const std::string& group) const {
  if (!Exists(group)) {
    return Fail(Error(std::make_error_code(std::errc::no_such_file_or_directory),
                      "no cgroup '" + group + "'"));
  }
  CgroupUsage usage;
  for (const auto& file : CounterFiles(group)) {
    auto text = moat::text::ReadFile(file.path);
    if (!text) continue;  // a group removed under us, or a file this kernel lacks
    ApplyCounter(file.kind, *text, usage);
  }
  return usage;
}

}  // namespace moat::sandbox
