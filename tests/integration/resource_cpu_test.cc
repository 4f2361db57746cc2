// CPU caps, fair share between sessions, live changes and per-application caps, measured on
// the kernel's own counters.
#include <gtest/gtest.h>

#include "resource_support.h"

namespace moat::test {
namespace {

const std::vector<std::string> kHog = {"/bin/sh", "-c", "while :; do :; done"};

class ResourceCpu : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EnsureUser("moat-res-a");
    EnsureUser("moat-res-b");
  }
  ScratchRunDir run_dir_;
  Sandbox sandbox_{run_dir_};
};

TEST_F(ResourceCpu, CapAt25PercentHoldsBetween22And28) {
  std::string id = sandbox_.Detach("moat-res-a", {"--cpu", "25"}, kHog);
  double pct = MeasureCpuPercent(sandbox_, id, ScaledSeconds(3));
  EXPECT_GE(pct, 22.0);
  EXPECT_LE(pct, 28.0);
  sandbox_.Stop(id);
}

// Both sessions are pinned to one CPU so that fairness, not the core count, decides: without
// per-session groups the 20-process session would get 20/21 of it.
TEST_F(ResourceCpu, SessionsShareFairlyWhateverTheirProcessCount) {
  std::string one = sandbox_.Detach(
      "moat-res-a", {}, {"/bin/sh", "-c", "exec taskset -c 0 sh -c 'while :; do :; done'"});
  std::string twenty = sandbox_.Detach(
      "moat-res-b", {},
      {"/bin/sh", "-c",
       "for i in $(seq 20); do taskset -c 0 sh -c 'while :; do :; done' & done; wait"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto a0 = Stats(sandbox_, one), b0 = Stats(sandbox_, twenty);
  std::this_thread::sleep_for(std::chrono::duration<double>(ScaledSeconds(3)));
  auto a1 = Stats(sandbox_, one), b1 = Stats(sandbox_, twenty);
  double a = a1.value("cpu_usage_us", 0.0) - a0.value("cpu_usage_us", 0.0);
  double b = b1.value("cpu_usage_us", 0.0) - b0.value("cpu_usage_us", 0.0);
  ASSERT_GT(a + b, 0);
  double share_a = 100 * a / (a + b), share_b = 100 * b / (a + b);
  EXPECT_GE(share_a, 45.0) << "1-process session got " << share_a << "%";
  EXPECT_LE(share_a, 55.0);
  EXPECT_GE(share_b, 45.0) << "20-process session got " << share_b << "%";
  EXPECT_LE(share_b, 55.0);
  EXPECT_EQ(Stats(sandbox_, twenty).value("pids", 0), 22) << "20 hogs, their shell and moat-init";
  sandbox_.Stop(one);
  sandbox_.Stop(twenty);
}

TEST_F(ResourceCpu, ALiveCapChangeTakesEffect) {
  std::string id = sandbox_.Detach("moat-res-a", {"--cpu", "20"}, kHog);
  double before = MeasureCpuPercent(sandbox_, id, ScaledSeconds(2));
  auto set = sandbox_.Cli({"set", id, "--cpu", "60", "--json"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(set.out).value("cpu_percent", 0.0), 60.0);
  double after = MeasureCpuPercent(sandbox_, id, ScaledSeconds(2));
  EXPECT_NEAR(before, 20.0, 3.0);
  EXPECT_NEAR(after, 60.0, 5.0);
  sandbox_.Stop(id);
}

TEST_F(ResourceCpu, AnApplicationCanBeCappedOnItsOwn) {
  std::string id = sandbox_.Detach("moat-res-a", {}, kHog);
  auto apps = Stats(sandbox_, id)["applications"];
  ASSERT_EQ(apps.size(), 1u) << apps.dump();
  std::string app = apps[0];
  auto set = sandbox_.Cli({"set", id, "--app", app, "--cpu", "10"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  double pct = MeasureCpuPercent(sandbox_, id, ScaledSeconds(2), app);
  EXPECT_NEAR(pct, 10.0, 2.5);
  sandbox_.Stop(id);
}

TEST_F(ResourceCpu, ThrottledTimeIsReported) {
  std::string id = sandbox_.Detach("moat-res-a", {"--cpu", "10"}, kHog);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto stats = Stats(sandbox_, id);
  EXPECT_GT(stats.value("cpu_throttled_us", 0), 0);
  EXPECT_GT(stats.value("cpu_nr_throttled", 0), 0);
  sandbox_.Stop(id);
}

}  // namespace
}  // namespace moat::test
