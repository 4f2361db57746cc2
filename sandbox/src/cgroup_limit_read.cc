// Reading effective limits back from the kernel, for both cgroup versions.
#include <cmath>
#include <map>
#include <sstream>

#include "cgroup_limit_table.h"

namespace moat::sandbox {
namespace {

Result<uint64_t> ReadValue(const CgroupReader& read, const char* controller, const char* file) {
  MOAT_TRY(auto text, read(controller, file));
  return ParseCgroupValue(text);
}

// Lines of "MAJ:MIN value" (v1 throttle files) merged into per-device limits.
void MergeV1Throttle(const std::string& text, std::optional<uint64_t> IoDeviceLimit::*field,
                     std::map<std::string, IoDeviceLimit>& devices) {
  std::istringstream lines(text);
  std::string device;
  uint64_t value;
  while (lines >> device >> value) {
    devices[device].device = device;
    devices[device].*field = value;
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
    std::istringstream in(*weight);
    std::string word;
    uint64_t value = 0;
    while (in >> word) {
      if (std::isdigit(static_cast<unsigned char>(word[0]))) value = std::stoull(word);
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
    std::istringstream in(*cpu_max);
    std::string quota;
    uint64_t period = kCpuPeriodUs;
    in >> quota >> period;
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
    std::istringstream lines(*io_max);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      IoDeviceLimit device;
      words >> device.device;
      std::string pair;
      while (words >> pair) {
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
