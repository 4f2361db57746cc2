#include "usage_collector.h"

#include <gtest/gtest.h>

namespace moat::agent {
namespace {

using std::chrono::milliseconds;

TEST(CpuPercent, OneCoreForOneSecondIsHundred) {
  EXPECT_DOUBLE_EQ(CpuPercent(1000, 1001000, milliseconds(1000)), 100.0);
}

TEST(CpuPercent, TwoCoresForHalfASecondIsTwoHundred) {
  EXPECT_DOUBLE_EQ(CpuPercent(0, 1000000, milliseconds(500)), 200.0);
}

TEST(CpuPercent, IdleIsZero) { EXPECT_DOUBLE_EQ(CpuPercent(5000, 5000, milliseconds(1000)), 0.0); }

TEST(CpuPercent, NoElapsedTimeIsZero) {
  EXPECT_DOUBLE_EQ(CpuPercent(0, 1000, milliseconds(0)), 0.0);
}

TEST(CpuPercent, CounterGoingBackwardsIsZero) {
  EXPECT_DOUBLE_EQ(CpuPercent(5000, 10, milliseconds(1000)), 0.0);
}

}  // namespace
}  // namespace moat::agent
