// Reading effective limits back from the kernel, for both cgroup versions.
#include <cmath>
#include <map>

#include "cgroup_limit_table.h"
#include "moat/common/text.h"

namespace moat::sandbox {
namespace {

Result<uint64_t> ReadValue(const CgroupReader& read, const char* controller, const char* file) {
  MOAT_TRY(auto text, read(controller, file));
  return ParseCgroupValue(text);
}

// Lines of "MAJ:MIN value" (v1 throttle files) merged into per-device limits.
void MergeV1Throttle(const std::string& text, std::optional<uint64_t> IoDeviceLimit::*field,
                     std::map<std::string, IoDeviceLimit>& devices) {
  auto words = text::Words(text);
  for (size_t i = 0; i + 1 < words.size(); i += 2) {
    auto value = text::ParseUnsigned(words[i + 1]);
    if (!value) break;
    std::string device(words[i]);
    devices[device].device = device;
    devices[device].*field = *value;
  }
}

}  // namespace

Result<Limits> ReadLimitsV1(const CgroupReader& read) {
  Limits limits;
  MOAT_TRY(auto quota, read("cpu", "cpu.cfs_quota_us"));
  MOAT_TRY(auto period, ReadValue(read, "cpu", "cpu.cfs_period_us"));
  long long quota_us = std::stoll(quota);
  limits.cpu_percent = quota_us < 0 ? kNoCpuCap : 100.0 * static_cast<double>(quota_us) / period;
  MOAT_TRY(auto shares, ReadValue(read, "cpu", "cpu.shares"));
  limits.cpu_weight = std::max<uint64_t>(1, (shares * 100 + 512) / 1024);
  MOAT_TRY(limits.memory_max, ReadValue(read, "memory", "memory.limit_in_bytes"));
  MOAT_TRY(limits.memory_high, ReadValue(read, "memory", "memory.soft_limit_in_bytes"));
  if (auto memsw = ReadValue(read, "memory", "memory.memsw.limit_in_bytes")) {
    limits.swap_max = (*memsw == kUnlimited || *limits.memory_max == kUnlimited)
                          ? kUnlimited
                          : *memsw - std::min(*memsw, *limits.memory_max);
  }
  MOAT_TRY(limits.pids_max, ReadValue(read, "pids", "pids.max"));
  if (auto weight = read("blkio", "blkio.bfq.weight")) {
    // "default N" on newer kernels, a bare number on older ones.
    uint64_t value = 0;
    for (auto word : text::Words(*weight)) {
      if (auto number = text::ParseUnsigned(word)) value = *number;
    }
    limits.io_weight = value;
  }
  std::map<std::string, IoDeviceLimit> devices;
  const std::pair<const char*, std::optional<uint64_t> IoDeviceLimit::*> files[] = {
      {"blkio.throttle.read_bps_device", &IoDeviceLimit::read_bps},
      {"blkio.throttle.write_bps_device", &IoDeviceLimit::write_bps},
      {"blkio.throttle.read_iops_device", &IoDeviceLimit::read_iops},
      {"blkio.throttle.write_iops_device", &IoDeviceLimit::write_iops}};
  for (const auto& [file, field] : files) {
    if (auto text = read("blkio", file)) MergeV1Throttle(*text, field, devices);
  }
  for (auto& [name, device] : devices) limits.io_devices.push_back(device);
  return limits;
}

Result<Limits> ReadLimitsV2(const CgroupReader& read) {
  Limits limits;
  if (auto cpu_max = read("cpu", "cpu.max")) {
    auto words = text::Words(*cpu_max);
    std::string quota = words.empty() ? "" : std::string(words[0]);
    uint64_t period = kCpuPeriodUs;
    if (words.size() > 1) period = text::ParseUnsigned(words[1]).value_or(kCpuPeriodUs);
    limits.cpu_percent =
        quota == "max" ? kNoCpuCap : 100.0 * static_cast<double>(std::stoull(quota)) / period;
    MOAT_TRY(limits.cpu_weight, ReadValue(read, "cpu", "cpu.weight"));
  }
  if (read("memory", "memory.max")) {
    MOAT_TRY(limits.memory_max, ReadValue(read, "memory", "memory.max"));
    MOAT_TRY(limits.memory_high, ReadValue(read, "memory", "memory.high"));
    if (auto swap = ReadValue(read, "memory", "memory.swap.max")) limits.swap_max = *swap;
  }
  if (auto pids = ReadValue(read, "pids", "pids.max")) limits.pids_max = *pids;
  if (auto weight = read("io", "io.weight")) {
    auto value = FindKeyedValue(*weight, "default");
    if (value) limits.io_weight = *value;
  }
  if (auto io_max = read("io", "io.max")) {
    for (auto line : text::Split(*io_max, '\n')) {
      auto words = text::Words(line);
      if (words.empty()) continue;
      IoDeviceLimit device;
      device.device = std::string(words[0]);
      for (size_t i = 1; i < words.size(); ++i) {
        std::string pair(words[i]);
        auto eq = pair.find('=');
        if (eq == std::string::npos) continue;
        auto value = ParseCgroupValue(pair.substr(eq + 1));
        if (!value) continue;
        std::string key = pair.substr(0, eq);
        if (key == "rbps") device.read_bps = *value;
        if (key == "wbps") device.write_bps = *value;
        if (key == "riops") device.read_iops = *value;
        if (key == "wiops") device.write_iops = *value;
      }
      if (!device.device.empty()) limits.io_devices.push_back(device);
    }
  }
  return limits;
}

}  // namespace moat::sandbox
