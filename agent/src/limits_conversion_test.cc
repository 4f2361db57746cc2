#include "limits_conversion.h"

#include <gtest/gtest.h>

namespace moat::agent {
namespace {

TEST(LimitsConversion, EmptyLimitsStayEmpty) {
  EXPECT_EQ(ToSandboxLimits({}), sandbox::Limits{});
  EXPECT_EQ(ToWireLimits({}), wire::SessionLimits{});
}

TEST(LimitsConversion, CpuPercentKeepsValue) {
  wire::SessionLimits limits;
  limits.cpu_percent = 250.5;
  EXPECT_EQ(ToSandboxLimits(limits).cpu_percent, 250.5);
  EXPECT_EQ(ToWireLimits(ToSandboxLimits(limits)), limits);
}

TEST(LimitsConversion, CpuPercentMaxIsNoCap) {
  wire::SessionLimits limits;
  limits.cpu_percent = wire::kNoCpuCap;
  EXPECT_EQ(ToSandboxLimits(limits).cpu_percent, sandbox::kNoCpuCap);
  sandbox::Limits back;
  back.cpu_percent = sandbox::kNoCpuCap;
  EXPECT_EQ(ToWireLimits(back).cpu_percent, wire::kNoCpuCap);
}

// Every integer key, with a value and with "max", both ways.
struct IntegerKey {
  const char* name;
  std::optional<uint64_t> wire::SessionLimits::*wire_field;
  std::optional<uint64_t> sandbox::Limits::*sandbox_field;
};

class LimitsConversionKey : public testing::TestWithParam<IntegerKey> {};

TEST_P(LimitsConversionKey, ValueCarriesOverBothWays) {
  const IntegerKey& key = GetParam();
  wire::SessionLimits limits;
  limits.*key.wire_field = 64ull << 20;
  sandbox::Limits converted = ToSandboxLimits(limits);
  EXPECT_EQ(converted.*key.sandbox_field, 64ull << 20) << key.name;
  sandbox::Limits only;
  only.*key.sandbox_field = 64ull << 20;
  EXPECT_EQ(converted, only) << key.name << " must not touch other keys";
  EXPECT_EQ(ToWireLimits(converted), limits) << key.name;
}

TEST_P(LimitsConversionKey, MaxCarriesOverBothWays) {
  const IntegerKey& key = GetParam();
  wire::SessionLimits limits;
  limits.*key.wire_field = wire::kUnlimited;
  EXPECT_EQ(ToSandboxLimits(limits).*key.sandbox_field, sandbox::kUnlimited) << key.name;
  sandbox::Limits back;
  back.*key.sandbox_field = sandbox::kUnlimited;
  EXPECT_EQ(ToWireLimits(back).*key.wire_field, wire::kUnlimited) << key.name;
}

INSTANTIATE_TEST_SUITE_P(
    AllKeys, LimitsConversionKey,
    testing::Values(
        IntegerKey{"cpu_weight", &wire::SessionLimits::cpu_weight, &sandbox::Limits::cpu_weight},
        IntegerKey{"memory_max", &wire::SessionLimits::memory_max, &sandbox::Limits::memory_max},
        IntegerKey{"memory_high", &wire::SessionLimits::memory_high, &sandbox::Limits::memory_high},
        IntegerKey{"swap_max", &wire::SessionLimits::swap_max, &sandbox::Limits::swap_max},
        IntegerKey{"pids_max", &wire::SessionLimits::pids_max, &sandbox::Limits::pids_max},
        IntegerKey{"io_weight", &wire::SessionLimits::io_weight, &sandbox::Limits::io_weight}),
    [](const testing::TestParamInfo<IntegerKey>& info) { return std::string(info.param.name); });

TEST(LimitsConversion, IoDevicesCarryEveryFieldAndMax) {
  wire::SessionLimits limits;
  limits.io_devices.push_back({"254:0", 10485760, wire::kUnlimited, 100, std::nullopt});
  limits.io_devices.push_back({"/dev/vda", std::nullopt, 5, std::nullopt, wire::kUnlimited});
  sandbox::Limits converted = ToSandboxLimits(limits);
  ASSERT_EQ(converted.io_devices.size(), 2u);
  EXPECT_EQ(converted.io_devices[0],
            (sandbox::IoDeviceLimit{"254:0", 10485760, sandbox::kUnlimited, 100, std::nullopt}));
  // Names are carried as given; the backend resolves "/dev/vda" to MAJ:MIN.
  EXPECT_EQ(converted.io_devices[1], (sandbox::IoDeviceLimit{"/dev/vda", std::nullopt, 5,
                                                             std::nullopt, sandbox::kUnlimited}));
  EXPECT_EQ(ToWireLimits(converted), limits);
}

TEST(LimitsConversion, EveryKeyAtOnceRoundTrips) {
  wire::SessionLimits limits;
  limits.cpu_percent = 50;
  limits.cpu_weight = 200;
  limits.memory_max = 1ull << 30;
  limits.memory_high = wire::kUnlimited;
  limits.swap_max = 0;
  limits.pids_max = 512;
  limits.io_weight = 300;
  limits.io_devices.push_back({"8:0", 1, 2, 3, 4});
  EXPECT_EQ(ToWireLimits(ToSandboxLimits(limits)), limits);
}

}  // namespace
}  // namespace moat::agent
