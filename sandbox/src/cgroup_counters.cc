// Reading usage counters: one parser per kind of kernel file, shared by Usage() and the
// sampler that keeps the files open.
#include <fcntl.h>
#include <unistd.h>

#include "cgroup_files.h"
#include "cgroup_limit_table.h"
#include "cgroup_usage_parse.h"
#include "moat/sandbox/cgroup_driver.h"

namespace moat::sandbox {

void ApplyCounter(CounterKind kind, const std::string& text, CgroupUsage& usage) {
  auto number = [&text] { return std::strtoull(text.c_str(), nullptr, 10); };
  switch (kind) {
    case CounterKind::kV1CpuacctUsage:
      usage.cpu_usage_us = number() / 1000;
      break;
    case CounterKind::kV1CpuStat:
      usage.cpu_throttled_us = FindKeyedValue(text, "throttled_time").value_or(0) / 1000;
      usage.cpu_nr_throttled = FindKeyedValue(text, "nr_throttled").value_or(0);
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
      usage.oom_kills += FindKeyedValue(text, "oom_kill").value_or(0);
      break;
    case CounterKind::kV2MemoryEvents:
      usage.oom_kills = FindKeyedValue(text, "oom_kill").value_or(0);
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
      usage.cpu_usage_us = FindKeyedValue(text, "usage_usec").value_or(0);
      usage.cpu_throttled_us = FindKeyedValue(text, "throttled_usec").value_or(0);
      usage.cpu_nr_throttled = FindKeyedValue(text, "nr_throttled").value_or(0);
      break;
    case CounterKind::kV2IoStat: {
      auto totals = ParseV2IoStat(text);
      usage.io_read_bytes = totals.read_bytes;
      usage.io_write_bytes = totals.write_bytes;
      usage.io_read_ops = totals.read_ops;
      usage.io_write_ops = totals.write_ops;
      break;
    }
    case CounterKind::kV2CgroupEvents:
      usage.frozen = FindKeyedValue(text, "frozen").value_or(0) == 1;
      break;
    case CounterKind::kPidsCurrent:
      usage.pids_current = number();
      break;
    case CounterKind::kCpuPressure:
      usage.cpu_pressure = ParsePressureAvg10(text, "some");
      break;
    case CounterKind::kMemoryPressure:
      usage.memory_pressure = ParsePressureAvg10(text, "some");
      usage.memory_full_pressure = ParsePressureAvg10(text, "full");
      break;
    case CounterKind::kIoPressure:
      usage.io_pressure = ParsePressureAvg10(text, "some");
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
    auto text = ReadCgroupFile(file.path);
    if (!text) continue;  // a group removed under us, or a file this kernel lacks
    ApplyCounter(file.kind, *text, usage);
  }
  return usage;
}

}  // namespace moat::sandbox
