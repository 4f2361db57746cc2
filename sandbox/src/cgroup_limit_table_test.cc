#include "cgroup_limit_table.h"

#include <gtest/gtest.h>

namespace moat::sandbox {
namespace {

std::string Find(const std::vector<CgroupWrite>& writes, const std::string& file) {
  for (const auto& w : writes) {
    if (w.file == file) return w.value;
  }
  return "<absent>";
}

TEST(CgroupLimitTable, MapsEveryLimitForBothVersions) {
  Limits limits;
  limits.cpu_percent = 25;
  limits.cpu_weight = 200;
  limits.memory_max = 1 << 30;
  limits.memory_high = 1 << 29;
  limits.pids_max = 64;
  auto v1 = LimitWritesV1(limits);
  EXPECT_EQ(Find(v1, "cpu.cfs_quota_us"), "25000");
  EXPECT_EQ(Find(v1, "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(Find(v1, "cpu.shares"), "2048");
  EXPECT_EQ(Find(v1, "memory.limit_in_bytes"), "1073741824");
  EXPECT_EQ(Find(v1, "memory.soft_limit_in_bytes"), "536870912");
  EXPECT_EQ(Find(v1, "pids.max"), "64");
  auto v2 = LimitWritesV2(limits);
  EXPECT_EQ(Find(v2, "cpu.max"), "25000 100000");
  EXPECT_EQ(Find(v2, "cpu.weight"), "200");
  EXPECT_EQ(Find(v2, "memory.max"), "1073741824");
  EXPECT_EQ(Find(v2, "memory.high"), "536870912");
  EXPECT_EQ(Find(v2, "pids.max"), "64");
}

TEST(CgroupLimitTable, UnsetLimitsWriteNothing) {
  EXPECT_TRUE(LimitWritesV1({}).empty());
  EXPECT_TRUE(LimitWritesV2({}).empty());
}

}  // namespace
}  // namespace moat::sandbox
