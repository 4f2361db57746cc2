#include "cgroup_limit_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>

#include "cgroup_usage_parse.h"

namespace moat::sandbox {
namespace {

std::string Find(const std::vector<CgroupWrite>& writes, const std::string& file) {
  std::string value = "<absent>";
  for (const auto& w : writes) {
    if (w.file == file) value = w.value;  // the last write wins
  }
  return value;
}

Limits Everything() {
  Limits limits;
  limits.cpu_percent = 25;
  limits.cpu_weight = 200;
  limits.memory_max = 1 << 30;
  limits.memory_high = 1 << 29;
  limits.swap_max = 1 << 28;
  limits.pids_max = 64;
  limits.io_weight = 300;
  limits.io_devices = {{"254:0", 1048576, kUnlimited, std::nullopt, 100}};
  return limits;
}

TEST(CgroupLimitTable, MapsEveryLimitForV1) {
  auto v1 = LimitWritesV1(Everything());
  EXPECT_EQ(Find(v1, "cpu.cfs_quota_us"), "25000");
  EXPECT_EQ(Find(v1, "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(Find(v1, "cpu.shares"), "2048");
  EXPECT_EQ(Find(v1, "memory.limit_in_bytes"), "1073741824");
  EXPECT_EQ(Find(v1, "memory.memsw.limit_in_bytes"), std::to_string((1 << 30) + (1 << 28)));
  EXPECT_EQ(Find(v1, "memory.soft_limit_in_bytes"), "536870912");
  EXPECT_EQ(Find(v1, "pids.max"), "64");
  EXPECT_EQ(Find(v1, "blkio.bfq.weight"), "300");
  EXPECT_EQ(Find(v1, "blkio.throttle.read_bps_device"), "254:0 1048576");
  EXPECT_EQ(Find(v1, "blkio.throttle.write_bps_device"), "254:0 0");
  EXPECT_EQ(Find(v1, "blkio.throttle.read_iops_device"), "<absent>");
  EXPECT_EQ(Find(v1, "blkio.throttle.write_iops_device"), "254:0 100");
}

// Plays the writes on a model of the kernel's rule (memory <= memsw, or EINVAL) and returns
// the limits reached, or nullopt when a write would have been refused.
std::optional<V1MemoryNow> Play(V1MemoryNow state, const std::vector<CgroupWrite>& writes) {
  for (const auto& w : writes) {
    uint64_t value = w.value == "-1" ? kUnlimited : std::stoull(w.value);
    if (w.file == "memory.limit_in_bytes") {
      if (value > state.memsw_max) return std::nullopt;
      state.memory_max = value;
    } else if (w.file == "memory.memsw.limit_in_bytes") {
      if (value < state.memory_max) return std::nullopt;
      state.memsw_max = value;
    }
  }
  return state;
}

TEST(CgroupLimitTable, V1KeepsMemswAboveTheMemoryLimitAtEveryStepWithoutLiftingIt) {
  constexpr uint64_t M = 1 << 20;
  struct Case {
    V1MemoryNow now;
    std::optional<uint64_t> memory, swap;
    V1MemoryNow expected;
  };
  const Case cases[] = {
      {{64 * M, 64 * M}, 128 * M, std::nullopt, {128 * M, 128 * M}},       // raise, swap 0 kept
      {{128 * M, 144 * M}, 32 * M, std::nullopt, {32 * M, 48 * M}},        // lower, 16 M swap kept
      {{64 * M, 64 * M}, 128 * M, 0, {128 * M, 128 * M}},                  // raise with swap 0
      {{128 * M, 228 * M}, 128 * M, 0, {128 * M, 128 * M}},                // swap shrinks
      {{64 * M, 64 * M}, 32 * M, 100 * M, {32 * M, 132 * M}},              // memory down, swap up
      {{200 * M, kUnlimited}, std::nullopt, 100 * M, {200 * M, 300 * M}},  // swap alone
      {{kUnlimited, kUnlimited}, 64 * M, 0, {64 * M, 64 * M}},             // a new group
      {{64 * M, 64 * M}, kUnlimited, kUnlimited, {kUnlimited, kUnlimited}},  // both lifted
      {{64 * M, kUnlimited}, 32 * M, std::nullopt, {32 * M, kUnlimited}},    // no swap limit
  };
  for (const auto& c : cases) {
    Limits limits;
    limits.memory_max = c.memory;
    limits.swap_max = c.swap;
    auto writes = LimitWritesV1(limits, c.now);
    // memsw is written once, to its final value: a lift on the way would leave the session free
    // to swap if a later write failed.
    EXPECT_LE(
        std::count_if(writes.begin(), writes.end(),
                      [](const CgroupWrite& w) { return w.file == "memory.memsw.limit_in_bytes"; }),
        1);
    auto reached = Play(c.now, writes);
    ASSERT_TRUE(reached) << "a write broke memory <= memsw: " << c.now.memory_max << "/"
                         << c.now.memsw_max;
    EXPECT_EQ(reached->memory_max, c.expected.memory_max);
    EXPECT_EQ(reached->memsw_max, c.expected.memsw_max);
  }
}

TEST(CgroupLimitTable, MapsEveryLimitForV2) {
  auto v2 = LimitWritesV2(Everything());
  EXPECT_EQ(Find(v2, "cpu.max"), "25000 100000");
  EXPECT_EQ(Find(v2, "cpu.weight"), "200");
  EXPECT_EQ(Find(v2, "memory.max"), "1073741824");
  EXPECT_EQ(Find(v2, "memory.high"), "536870912");
  EXPECT_EQ(Find(v2, "memory.swap.max"), "268435456");
  EXPECT_EQ(Find(v2, "pids.max"), "64");
  EXPECT_EQ(Find(v2, "io.weight"), "default 300");
  EXPECT_EQ(Find(v2, "io.max"), "254:0 rbps=1048576 wbps=max wiops=100");
}

TEST(CgroupLimitTable, UnlimitedLiftsEachLimit) {
  Limits lift;
  lift.cpu_percent = kNoCpuCap;
  lift.memory_max = kUnlimited;
  lift.pids_max = kUnlimited;
  EXPECT_EQ(Find(LimitWritesV1(lift), "cpu.cfs_quota_us"), "-1");
  EXPECT_EQ(Find(LimitWritesV1(lift), "memory.limit_in_bytes"), "-1");
  EXPECT_EQ(Find(LimitWritesV1(lift), "pids.max"), "max");
  EXPECT_EQ(Find(LimitWritesV2(lift), "cpu.max"), "max 100000");
  EXPECT_EQ(Find(LimitWritesV2(lift), "memory.max"), "max");
}

TEST(CgroupLimitTable, UnsetLimitsWriteNothing) {
  EXPECT_TRUE(LimitWritesV1({}).empty());
  EXPECT_TRUE(LimitWritesV2({}).empty());
}

CgroupReader FakeFiles(std::map<std::string, std::string> files) {
  return [files](const std::string&, const std::string& file) -> Result<std::string> {
    auto it = files.find(file);
    if (it == files.end()) return FailErrno("open", file, ENOENT);
    return it->second;
  };
}

TEST(CgroupLimitRead, ParsesV1FilesAsTheKernelWritesThem) {
  auto limits = ReadLimitsV1(FakeFiles({{"cpu.cfs_quota_us", "-1\n"},
                                        {"cpu.cfs_period_us", "100000\n"},
                                        {"cpu.shares", "1024\n"},
                                        {"memory.limit_in_bytes", "9223372036854771712\n"},
                                        {"memory.soft_limit_in_bytes", "9223372036854771712\n"},
                                        {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
                                        {"pids.max", "max\n"},
                                        {"blkio.bfq.weight", "default 100\n"},
                                        {"blkio.throttle.read_bps_device", "254:0 1048576\n"}}));
  ASSERT_TRUE(limits) << limits.error().message();
  EXPECT_EQ(*limits->cpu_percent, kNoCpuCap);
  EXPECT_EQ(*limits->cpu_weight, 100u);
  EXPECT_EQ(*limits->memory_max, kUnlimited);
  EXPECT_EQ(*limits->pids_max, kUnlimited);
  EXPECT_EQ(*limits->io_weight, 100u);
  ASSERT_EQ(limits->io_devices.size(), 1u);
  EXPECT_EQ(*limits->io_devices[0].read_bps, 1048576u);
}

TEST(CgroupLimitRead, ParsesV2FilesAsTheKernelWritesThem) {
  auto limits =
      ReadLimitsV2(FakeFiles({{"cpu.max", "25000 100000\n"},
                              {"cpu.weight", "50\n"},
                              {"memory.max", "536870912\n"},
                              {"memory.high", "max\n"},
                              {"memory.swap.max", "0\n"},
                              {"pids.max", "100\n"},
                              {"io.weight", "default 100\n"},
                              {"io.max", "254:0 rbps=max wbps=4096 riops=max wiops=max\n"}}));
  ASSERT_TRUE(limits) << limits.error().message();
  EXPECT_DOUBLE_EQ(*limits->cpu_percent, 25.0);
  EXPECT_EQ(*limits->cpu_weight, 50u);
  EXPECT_EQ(*limits->memory_max, 536870912u);
  EXPECT_EQ(*limits->memory_high, kUnlimited);
  EXPECT_EQ(*limits->swap_max, 0u);
  EXPECT_EQ(*limits->pids_max, 100u);
  ASSERT_EQ(limits->io_devices.size(), 1u);
  EXPECT_EQ(*limits->io_devices[0].write_bps, 4096u);
  EXPECT_EQ(*limits->io_devices[0].read_bps, kUnlimited);
}

TEST(CgroupValue, ParsesNumbersMaxAndRefusesGarbage) {
  EXPECT_EQ(*ParseCgroupValue("42\n"), 42u);
  EXPECT_EQ(*ParseCgroupValue("max\n"), kUnlimited);
  EXPECT_EQ(*ParseCgroupValue("-1"), kUnlimited);
  EXPECT_FALSE(ParseCgroupValue("12abc"));
  EXPECT_FALSE(ParseCgroupValue(""));
}

TEST(CgroupUsageParse, ReadsBlkioIoStatAndPressure) {
  uint64_t read = 0, write = 0;
  AddV1BlkioTotals("254:0 Read 4096\n254:0 Write 8192\n254:0 Total 12288\nTotal 12288\n", read,
                   write);
  EXPECT_EQ(read, 4096u);
  EXPECT_EQ(write, 8192u);
  auto io = ParseV2IoStat(
      "254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n"
      "8:0 rbytes=5 wbytes=5 rios=1 wios=1\n");
  EXPECT_EQ(io.read_bytes, 15u);
  EXPECT_EQ(io.write_ops, 3u);
  std::string pressure =
      "some avg10=12.50 avg60=1.00 avg300=0.00 total=5\n"
      "full avg10=3.25 avg60=0.00 avg300=0.00 total=1\n";
  EXPECT_DOUBLE_EQ(*ParsePressureAvg10(pressure, "some"), 12.5);
  EXPECT_DOUBLE_EQ(*ParsePressureAvg10(pressure, "full"), 3.25);
  EXPECT_FALSE(ParsePressureAvg10("garbage", "some"));
}

TEST(LimitValidation, RefusesNegativeZeroAbsurdAndUnknownDevices) {
  Limits ok;
  ok.cpu_percent = 250;
  ok.memory_max = 64 << 20;
  EXPECT_TRUE(ValidateLimits(ok));
  auto refused = [](auto mutate, const char* name) {
    Limits limits;
    mutate(limits);
    auto status = ValidateLimits(limits);
    ASSERT_FALSE(status) << name;
    EXPECT_NE(status.error().message().find(name), std::string::npos) << status.error().message();
  };
  refused([](Limits& l) { l.cpu_percent = -5; }, "cpu_percent");
  refused([](Limits& l) { l.cpu_percent = 0.5; }, "cpu_percent");
  refused([](Limits& l) { l.cpu_weight = 0; }, "cpu_weight");
  refused([](Limits& l) { l.cpu_weight = 20000; }, "cpu_weight");
  refused([](Limits& l) { l.memory_max = 1024; }, "memory_max");
  refused([](Limits& l) { l.memory_max = 1ull << 60; }, "memory_max");
  refused([](Limits& l) { l.pids_max = 0; }, "pids_max");
  refused([](Limits& l) { l.io_weight = 0; }, "io_weight");
  refused([](Limits& l) { l.io_devices = {{"999:999", 1, {}, {}, {}}}; }, "999:999");
  refused([](Limits& l) { l.io_devices = {{"/etc/passwd", 1, {}, {}, {}}}; }, "/etc/passwd");
}

}  // namespace
}  // namespace moat::sandbox
