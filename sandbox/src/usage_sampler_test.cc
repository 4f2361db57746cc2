// Needs root and a cgroup hierarchy: real groups, a real process, real counters.
#include "moat/sandbox/usage_sampler.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace moat::sandbox {
namespace {

TEST(UsageSampler, AgreesWithADirectReadAndSeesAProcessArriveAndCpuGrow) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  CgroupOptions options;
  options.parent = "moat-unit-" + std::to_string(getpid());
  auto driver = CgroupDriver::Detect(options);
  ASSERT_TRUE(driver) << driver.error().message();
  ASSERT_TRUE((*driver)->Create("g")) << "create";
  UsageSampler sampler(**driver);
  ASSERT_TRUE(sampler.Track("g"));
  EXPECT_EQ(sampler.SampleAll().at(0).second.pids_current, 0u);

  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t child = fork();
  if (child == 0) {
    // Allocate only once inside the group: v1 does not move charges with a process.
    char byte;
    (void)!read(go[0], &byte, 1);
    static char touched[8 << 20];
    volatile char* page = touched;  // volatile: the stores must happen
    for (size_t i = 0; i < sizeof(touched); i += 4096) page[i] = 1;
    for (;;) {
    }
  }
  ASSERT_TRUE((*driver)->AddProcess("g", child));
  ASSERT_EQ(write(go[1], "x", 1), 1);
  usleep(200 * 1000);
  auto sampled = sampler.Sample("g");
  auto direct = (*driver)->Usage("g");
  ASSERT_TRUE(sampled && direct);
  EXPECT_EQ(sampled->pids_current, 1u);
  EXPECT_EQ(direct->pids_current, 1u);
  EXPECT_GT(sampled->cpu_usage_us, 50000u);
  EXPECT_GE(sampled->memory_current, 8u << 20);
  EXPECT_NEAR(static_cast<double>(sampled->cpu_usage_us), static_cast<double>(direct->cpu_usage_us),
              20000.0);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  sampler.Untrack("g");
  EXPECT_TRUE((*driver)->Destroy("g"));
  EXPECT_TRUE((*driver)->Destroy(""));
  EXPECT_FALSE((*driver)->Exists("g"));
}

// On v1 moat-init removes an application's group when it ends; the sampler holds that group's
// memory.oom_control open. Its end must cost the session neither its samples nor the OOM kills
// counted there.
TEST(UsageSampler, AnApplicationGroupThatEndsDoesNotCostTheSessionItsSamples) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  if (access("/sys/fs/cgroup/memory/memory.oom_control", F_OK) != 0) {
    GTEST_SKIP() << "cgroup v1 only: v2's memory.events counts a sub-group's kills in its parent";
  }
  CgroupOptions options;
  options.parent = "moat-unit-app-" + std::to_string(getpid());
  auto driver = CgroupDriver::Detect(options);
  ASSERT_TRUE(driver) << driver.error().message();
  ASSERT_TRUE((*driver)->Create("g"));
  ASSERT_TRUE((*driver)->Create("g/app-1"));
  // An application that runs out of its own memory limit.
  Limits small;
  small.memory_max = 8 << 20;
  ASSERT_TRUE((*driver)->Apply("g/app-1", small));
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t hog = fork();
  if (hog == 0) {
    char byte;
    (void)!read(go[0], &byte, 1);
    static char touched[64 << 20];
    volatile char* page = touched;
    for (size_t i = 0; i < sizeof(touched); i += 4096) page[i] = 1;
    _exit(0);
  }
  ASSERT_TRUE((*driver)->AddProcess("g/app-1", hog));
  ASSERT_EQ(write(go[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(hog, &status, 0), hog);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the hog was not OOM-killed";
  UsageSampler sampler(**driver);
  ASSERT_TRUE(sampler.Track("g"));
  ASSERT_GE(sampler.Sample("g")->oom_kills, 1u);
  ASSERT_TRUE((*driver)->Destroy("g/app-1"));
  for (unsigned pass = 0; pass < 2 * UsageSampler::kSlowEvery; ++pass) {
    auto samples = sampler.SampleAll();
    ASSERT_EQ(samples.size(), 1u) << "pass " << pass;
    EXPECT_GE(samples[0].second.oom_kills, 1u) << "pass " << pass;
  }
  // Tracked anew, as the agent's collector does every few seconds: the kill still counts.
  ASSERT_TRUE(sampler.Track("g"));
  EXPECT_GE(sampler.Sample("g")->oom_kills, 1u);
  sampler.Untrack("g");
  EXPECT_TRUE((*driver)->Destroy("g"));
  EXPECT_TRUE((*driver)->Destroy(""));
}

TEST(UsageSampler, RefusesAGroupThatDoesNotExist) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to read cgroups";
  auto driver = CgroupDriver::Detect();
  ASSERT_TRUE(driver);
  UsageSampler sampler(**driver);
  EXPECT_FALSE(sampler.Track("no-such-group-moat"));
}

}  // namespace
}  // namespace moat::sandbox
