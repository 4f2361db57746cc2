#include "vm_limits.h"

#include <gtest/gtest.h>

namespace moat::agent {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

TEST(VmLimitsTest, PidsGoToTheGuestTheRestToTheHost) {
  sandbox::Limits limits;
  limits.cpu_percent = 50;
  limits.memory_max = 512 * kMiB;
  limits.pids_max = 64;
  auto split = SplitSessionLimits(limits);
  EXPECT_FALSE(split.host.pids_max);
  EXPECT_EQ(split.host.cpu_percent, 50);
  EXPECT_EQ(split.host.memory_max, 512 * kMiB);
  EXPECT_EQ(split.guest.pids_max, 64u);
  EXPECT_FALSE(split.guest.cpu_percent);
  EXPECT_FALSE(split.guest.memory_max);
}

TEST(VmLimitsTest, OneApplicationsIoAndSwapAreRefused) {
  sandbox::Limits limits;
  limits.cpu_percent = 20;
  limits.pids_max = 8;
  EXPECT_TRUE(ApplicationLimits(limits));
  limits.swap_max = 0;
  auto refused = ApplicationLimits(limits);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), std::errc::not_supported);
}

TEST(VmLimitsTest, VcpusFollowTheCap) {
  sandbox::Limits limits;
  EXPECT_EQ(VcpusForCap(limits, 8, 1), 1u);
  EXPECT_EQ(VcpusForCap(limits, 8, 2), 2u);
  EXPECT_EQ(VcpusForCap(limits, 1, 2), 1u);
  limits.cpu_percent = sandbox::kNoCpuCap;
  EXPECT_EQ(VcpusForCap(limits, 8, 1), 1u);
  limits.cpu_percent = 20;
  EXPECT_EQ(VcpusForCap(limits, 8, 1), 1u);
  limits.cpu_percent = 100;
  EXPECT_EQ(VcpusForCap(limits, 8, 1), 1u);
  limits.cpu_percent = 150;
  EXPECT_EQ(VcpusForCap(limits, 8, 1), 2u);
  limits.cpu_percent = 1600;
  EXPECT_EQ(VcpusForCap(limits, 2, 1), 2u);
}

TEST(VmLimitsTest, TheBalloonLeavesQemuItsAllowance) {
  EXPECT_EQ(BalloonTargetBytes(512 * kMiB, sandbox::kUnlimited), 512 * kMiB);
  EXPECT_EQ(BalloonTargetBytes(512 * kMiB, 1024 * kMiB), 512 * kMiB);
  EXPECT_EQ(BalloonTargetBytes(512 * kMiB, 448 * kMiB), 256 * kMiB);
  EXPECT_EQ(BalloonTargetBytes(512 * kMiB, 100 * kMiB), 64 * kMiB);
}

TEST(VmLimitsTest, AMemoryLimitQemuCannotLiveUnderIsRefused) {
  sandbox::Limits limits;
  EXPECT_TRUE(CheckVmMemoryFloor(limits));
  limits.memory_max = kVmMemoryFloorMiB * kMiB;
  EXPECT_TRUE(CheckVmMemoryFloor(limits));
  limits.memory_max = sandbox::kUnlimited;
  EXPECT_TRUE(CheckVmMemoryFloor(limits));
  limits.memory_max = 64 * kMiB;
  auto refused = CheckVmMemoryFloor(limits);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("memory_max of at least 320 MiB"), std::string::npos)
      << refused.error().message();
  limits.memory_max.reset();
  limits.memory_high = kVmMemoryFloorMiB * kMiB - 1;
  refused = CheckVmMemoryFloor(limits);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("memory_high"), std::string::npos);
}

}  // namespace
}  // namespace moat::agent
