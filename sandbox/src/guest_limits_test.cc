#include "moat/sandbox/guest_limits.h"

#include <gtest/gtest.h>

namespace moat::sandbox {
namespace {

TEST(GuestLimitsTest, RoundTripsWhatAGuestGroupCarries) {
  Limits limits;
  limits.cpu_percent = 20;
  limits.cpu_weight = 50;
  limits.memory_max = 64ull << 20;
  limits.memory_high = kUnlimited;
  limits.pids_max = 24;
  auto json = GuestLimitsToJson(limits);
  EXPECT_EQ(json["memory_high"], "max");
  auto back = GuestLimitsFromJson(json);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, limits);
  Limits lifted;
  lifted.cpu_percent = kNoCpuCap;
  back = GuestLimitsFromJson(GuestLimitsToJson(lifted));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cpu_percent, kNoCpuCap);
}

TEST(GuestLimitsTest, RefusesWhatItCannotApplyNamingTheKey) {
  for (const auto& [json, word] :
       std::vector<std::pair<nlohmann::json, std::string>>{{{{"pids_max", 0}}, "pids_max"},
                                                           {{{"pids_max", -3}}, "pids_max"},
                                                           {{{"pids_max", "lots"}}, "pids_max"},
                                                           {{{"cpu_percent", 0.5}}, "cpu_percent"},
                                                           {{{"cpu_weight", 20000}}, "cpu_weight"},
                                                           {{{"memory_max", 1024}}, "memory_max"},
                                                           {{{"io_weight", 100}}, "io_weight"},
                                                           {{{"swap_max", 0}}, "swap_max"},
                                                           {nlohmann::json::array(), "object"}}) {
    auto parsed = GuestLimitsFromJson(json);
    ASSERT_FALSE(parsed) << json.dump();
    EXPECT_NE(parsed.error().message().find(word), std::string::npos) << parsed.error().message();
  }
}

}  // namespace
}  // namespace moat::sandbox
