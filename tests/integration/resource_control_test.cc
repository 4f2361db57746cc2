// Memory, pids, freeze, IO bandwidth and the refusal of bad limits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "resource_support.h"

namespace moat::test {
namespace {

class ResourceControl : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EnsureUser("moat-res-a");
    EnsureUser("moat-res-b");
  }
  ScratchRunDir run_dir_;
  Sandbox sandbox_{run_dir_};
};

TEST_F(ResourceControl, AMemoryHogIsOomKilledInsideItsSessionAndTheNeighbourLivesOn) {
  std::string neighbour = sandbox_.Detach("moat-res-b", {}, {"sleep", "600"});
  std::string hog_session = sandbox_.Detach("moat-res-a", {"--memory", "64M", "--swap", "0"});
  // tail keeps its whole input when there is no newline: it grows until the limit.
  auto hog = sandbox_.Exec(hog_session, "tail /dev/zero");
  EXPECT_EQ(hog.exit_code, 137) << hog.err;
  auto stats = Stats(sandbox_, hog_session);
  EXPECT_GE(stats.value("oom_kills", 0), 1);
  EXPECT_LE(stats.value("memory_peak", 0ull), 64ull << 20);
  EXPECT_EQ(sandbox_.Exec(hog_session, "echo session-alive").out, "session-alive\n");
  EXPECT_EQ(sandbox_.Exec(neighbour, "pgrep -c sleep").out, "1\n");
  EXPECT_EQ(Stats(sandbox_, neighbour).value("oom_kills", 1), 0);
  sandbox_.Stop(hog_session);
  sandbox_.Stop(neighbour);
}

TEST_F(ResourceControl, AForkBombStopsAtPidsMaxAndTheHostStaysResponsive) {
  std::string id =
      sandbox_.Detach("moat-res-a", {"--pids", "64"}, {"/bin/bash", "-c", "b() { b | b & }; b"});
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto stats = Stats(sandbox_, id);
  EXPECT_LE(stats.value("pids", 1000), 64);
  EXPECT_GE(stats.value("pids", 0), 32) << "the bomb should have filled its quota";
  auto started = std::chrono::steady_clock::now();
  auto host = RunCommand({"/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done"});
  EXPECT_EQ(host.exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  sandbox_.Stop(id);
  EXPECT_FALSE(Exists("/sys/fs/cgroup/pids/moat/" + id));
}

TEST_F(ResourceControl, AFrozenSessionMakesNoProgressKeepsItsMemoryAndResumesOnThaw) {
  std::string counter = HomeOf("moat-res-a") + "/counter-" + UniqueId("c");
  std::string id = sandbox_.Detach(
      "moat-res-a", {},
      // 32 MiB of anonymous memory held, and a counter written aside and renamed, so that a
      // freeze never leaves a half-written file.
      {"/bin/sh", "-c",
       "python3 -c 'import time; b = b\"x\" * (32 << 20); time.sleep(600)' & "
       "i=0; while :; do i=$((i+1)); echo $i > " +
           counter + ".new; mv " + counter + ".new " + counter + "; sleep 0.01; done"});
  constexpr uint64_t kHeld = 32ull << 20;
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::duration<double>(ScaledSeconds(5)));
  while (Stats(sandbox_, id).value("memory_current", 0ull) < kHeld &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(Stats(sandbox_, id).value("memory_current", 0ull), kHeld) << "holder never started";
  ASSERT_EQ(sandbox_.Cli({"freeze", id}).exit_code, 0);
  std::string frozen_at = ReadFile(counter);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(ReadFile(counter), frozen_at);
  auto frozen = Stats(sandbox_, id);
  EXPECT_TRUE(frozen.value("frozen", false));
  EXPECT_LT(frozen.value("cpu_percent", 100.0), 0.5);
  // Anonymous memory without swap cannot be reclaimed: a frozen session keeps it all.
  EXPECT_GE(frozen.value("memory_current", 0ull), kHeld) << "memory kept";
  ASSERT_EQ(sandbox_.Cli({"thaw", id}).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GT(std::stol(ReadFile(counter)), std::stol(frozen_at));
  sandbox_.Stop(id);
  unlink(counter.c_str());
  unlink((counter + ".new").c_str());
}

TEST_F(ResourceControl, AFrozenSessionCanStillBeStopped) {
  std::string id = sandbox_.Detach("moat-res-a", {}, {"sleep", "600"});
  ASSERT_EQ(sandbox_.Cli({"freeze", id}).exit_code, 0);
  sandbox_.Stop(id);
  EXPECT_FALSE(Exists("/sys/fs/cgroup/pids/moat/" + id));
}

// On v1 blkio holds the session as a whole: one application's io limit is refused with that
// reason, and as the request's fault, not as a host failure.
TEST_F(ResourceControl, OneApplicationsIoLimitOnV1IsRefusedWithTheReason) {
  if (!Exists("/sys/fs/cgroup/blkio")) GTEST_SKIP() << "a cgroup v2 host has per-app io groups";
  auto device =
      Trim(RunCommand({"findmnt", "-n", "-o", "MAJ:MIN", "-T", HomeOf("moat-res-a")}).out);
  std::string id = sandbox_.Detach("moat-res-a", {}, {"sleep", "600"});
  auto r = sandbox_.Cli({"set", id, "--app", "1", "--io-write-bps", device + "=4M"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("cannot be set for one application"), std::string::npos) << r.err;
  sandbox_.Stop(id);
}

TEST_F(ResourceControl, WriteBandwidthIsCappedPerDevice) {
  // The home directory's device is what the session writes to.
  auto device =
      Trim(RunCommand({"findmnt", "-n", "-o", "MAJ:MIN", "-T", HomeOf("moat-res-a")}).out);
  ASSERT_FALSE(device.empty());
  std::string id = sandbox_.Detach("moat-res-a", {"--io-write-bps", device + "=4M"});
  auto started = std::chrono::steady_clock::now();
  auto dd = sandbox_.Exec(id,
                          "dd if=/dev/zero of=$HOME/io-test bs=1M count=12 oflag=direct 2>&1;"
                          " rm -f $HOME/io-test");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(dd.exit_code, 0) << dd.out;
  // 12 MiB at 4 MiB/s: at least 2 s even with the throttle's initial burst allowance.
  EXPECT_GE(seconds, 2.0) << dd.out;
  EXPECT_GE(Stats(sandbox_, id).value("io_write_bytes", 0ull), 12ull << 20);
  sandbox_.Stop(id);
}

TEST_F(ResourceControl, InvalidLimitsAreRefusedAndChangeNothing) {
  std::string id = sandbox_.Detach("moat-res-a", {"--cpu", "30", "--memory", "128M"});
  auto before = Stats(sandbox_, id)["limits"];
  for (const std::vector<std::string>& flags : {std::vector<std::string>{"--cpu", "-5"},
                                                {"--cpu", "0"},
                                                {"--cpu-weight", "0"},
                                                {"--memory", "12"},
                                                {"--memory", "99999T"},
                                                {"--pids", "0"},
                                                {"--cpu", "lots"},
                                                {"--io-read-bps", "/dev/nonexistent=1M"},
                                                {"--io-read-bps", "999:999=1M"},
                                                {"--frobnicate", "1"}}) {
    std::vector<std::string> args = {"set", id};
    args.insert(args.end(), flags.begin(), flags.end());
    // A valid change in the same call must not be half-applied either.
    args.insert(args.end(), {"--memory-high", "100M"});
    auto r = sandbox_.Cli(args);
    EXPECT_EQ(r.exit_code, 125) << flags[0] << " " << flags[1];
    EXPECT_FALSE(r.err.empty());
  }
  EXPECT_EQ(Stats(sandbox_, id)["limits"], before);
  auto unknown = sandbox_.Cli({"set", "no-such-session", "--cpu", "10"});
  EXPECT_EQ(unknown.exit_code, 125);
  auto bad_app = sandbox_.Cli({"set", id, "--app", "99", "--cpu", "10"});
  EXPECT_EQ(bad_app.exit_code, 125);
  EXPECT_NE(bad_app.err.find("no running application"), std::string::npos) << bad_app.err;
  // --app may come anywhere after the id.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"set", id, "--cpu", "10", "--json", "--app", "99"},
        {"stats", id, "--json", "--app", "99"}}) {
    auto r = sandbox_.Cli(args);
    EXPECT_EQ(r.exit_code, 125);
    EXPECT_NE(r.err.find("no running application '99'"), std::string::npos) << r.err;
  }
  for (const char* interval : {"nan", "inf", "0", ""}) {
    auto r = sandbox_.Cli({"stats", id, "--interval", interval});
    EXPECT_NE(r.err.find("must be 0.05..3600 seconds"), std::string::npos) << r.err;
  }
  EXPECT_NE(sandbox_.Cli({"stats", id, "--interval"}).err.find("needs a value"), std::string::npos);
  EXPECT_EQ(Stats(sandbox_, id)["limits"], before);
  sandbox_.Stop(id);
}

// On v1 the kernel limits memory + swap in one file: a change of the memory max alone must
// keep the swap limit as it was, not fail or silently change it.
TEST_F(ResourceControl, ChangingTheMemoryMaxAloneKeepsTheSwapLimit) {
  std::string id = sandbox_.Detach("moat-res-a", {"--memory", "64M", "--swap", "0"});
  for (const char* memory : {"128M", "32M", "96M"}) {
    auto r = sandbox_.Cli({"set", id, "--memory", memory});
    EXPECT_EQ(r.exit_code, 0) << memory << ": " << r.err;
  }
  auto limits = Stats(sandbox_, id)["limits"];
  EXPECT_EQ(limits.value("memory_max", 0ull), 96ull << 20);
  EXPECT_EQ(limits.value("swap_max", 1ull), 0ull);
  EXPECT_EQ(sandbox_.Cli({"set", id, "--memory", "max", "--swap", "max"}).exit_code, 0);
  EXPECT_EQ(sandbox_.Cli({"set", id, "--swap", "16M", "--memory", "100M"}).exit_code, 0);
  limits = Stats(sandbox_, id)["limits"];
  EXPECT_EQ(limits.value("memory_max", 0ull), 100ull << 20);
  EXPECT_EQ(limits.value("swap_max", 0ull), 16ull << 20);
  sandbox_.Stop(id);
}

TEST_F(ResourceControl, LimitsGivenAtCreationAreInForce) {
  std::string id = sandbox_.Detach(
      "moat-res-a", {"--cpu", "150", "--cpu-weight", "300", "--memory", "200M", "--memory-high",
                     "150M", "--pids", "99", "--io-weight", "200"});
  auto limits = Stats(sandbox_, id)["limits"];
  EXPECT_DOUBLE_EQ(limits.value("cpu_percent", 0.0), 150.0);
  EXPECT_EQ(limits.value("cpu_weight", 0), 300);
  EXPECT_EQ(limits.value("memory_max", 0ull), 200ull << 20);
  EXPECT_EQ(limits.value("memory_high", 0ull), 150ull << 20);
  EXPECT_EQ(limits.value("pids_max", 0), 99);
  EXPECT_EQ(limits.value("io_weight", 0), 200);
  sandbox_.Stop(id);
}

// From the host: moat-init in the session's group (v2: its "init" leaf), an application in its
// own "app-N" group, in every hierarchy. moat-init is started right in its cgroup2 group and
// joins the v1 ones through `tasks`, so a group it was not born in or a move that went
// nowhere shows here. On v1, blkio and the controller-less cgroup2 hold the whole session.
TEST_F(ResourceControl, InitAndApplicationsSitInTheirGroupsInEveryHierarchy) {
  std::string id = sandbox_.Detach("moat-res-a", {}, {"sleep", "600"});
  auto state = nlohmann::json::parse(
      ReadFile(sandbox_.run_dir() + "/sessions/" + id + "/state.json"), nullptr, false);
  ASSERT_TRUE(state.is_object());
  std::string init = std::to_string(state.value("pid", 0));
  std::string app = Trim(ReadFile("/proc/" + init + "/task/" + init + "/children"));
  ASSERT_FALSE(app.empty()) << "sleep is not moat-init's child";
  ASSERT_EQ(app.find(' '), std::string::npos) << "one application expected: " << app;
  // "hierarchy-id:controllers:path" lines, by controllers ("" for cgroup2).
  auto groups_of = [](const std::string& pid) {
    std::map<std::string, std::string> groups;
    std::istringstream lines(ReadFile("/proc/" + pid + "/cgroup"));
    for (std::string line; std::getline(lines, line);) {
      size_t first = line.find(':'), second = line.find(':', first + 1);
      groups[line.substr(first + 1, second - first - 1)] = line.substr(second + 1);
    }
    return groups;
  };
  auto init_groups = groups_of(init), app_groups = groups_of(app);
  // Born in its groups, without the kernel's global cgroup lock: the fallback's moves would
  // put it in the same places, so only this tells the two apart.
  if (init_groups.count("")) {
    EXPECT_EQ(state.value("cgroup_entry", ""), "born");
  }
  std::string session = "/moat/" + id;
  if (Exists("/sys/fs/cgroup/cgroup.subtree_control")) {
    EXPECT_EQ(init_groups[""], session + "/init");
    EXPECT_EQ(app_groups[""], session + "/app-1");
    // Inside, the session's group is the root: the cgroup namespace the host made for
    // moat-init (cgroup_namespace.h) holds its applications too.
    EXPECT_EQ(sandbox_.Exec(id, "cat /proc/self/cgroup").out, "0::/app-2\n");
    EXPECT_EQ(sandbox_.Exec(id, "cat /proc/1/cgroup").out, "0::/init\n");
  } else {
    int v1_hierarchies = 0;
    for (const char* controller : {"cpu", "cpuacct", "memory", "pids", "freezer", "blkio"}) {
      if (!init_groups.count(controller)) continue;
      ++v1_hierarchies;
      EXPECT_EQ(init_groups[controller], session) << controller;
      bool whole_session = std::string(controller) == "blkio";
      EXPECT_EQ(app_groups[controller], whole_session ? session : session + "/app-1") << controller;
    }
    EXPECT_GE(v1_hierarchies, 4);
    if (init_groups.count("")) {
      EXPECT_EQ(init_groups[""], session) << "moat-init outside its cgroup2 group";
      EXPECT_EQ(app_groups[""], session);
    }
  }
  sandbox_.Stop(id);
}

// systemd's Delegate=yes hands a service a cgroup v2 subtree: a manager started there keeps its
// sessions inside it. The first process moves itself into a leaf so that the subtree's own
// group can enable controllers for the sessions.
TEST_F(ResourceControl, SessionsLiveInsideADelegatedSubtree) {
  if (!Exists("/sys/fs/cgroup/cgroup.subtree_control")) {
    GTEST_SKIP() << "cgroup v1 host: delegation is a cgroup v2 notion (tests/vm runs this)";
  }
  std::string service = UniqueId("moat-test-svc") + ".service";
  std::string root = "/sys/fs/cgroup/" + service;
  ASSERT_EQ(RunCommand({"mkdir", root}).exit_code, 0);
  std::string id = UniqueId("deleg");
  auto started =
      RunCommand({"/bin/sh", "-c",
                  "echo $$ > " + root + "/cgroup.procs && exec " MOAT_SANDBOX_BIN " --run-dir " +
                      sandbox_.run_dir() + " --cgroup-parent delegated run --detach --id " + id +
                      " --user moat-res-a -- sleep 600"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  EXPECT_TRUE(Exists(root + "/moat/" + id + "/init")) << "session outside the delegation";
  EXPECT_EQ(Trim(ReadFile(root + "/supervisor/cgroup.procs")), "") << "the CLI has exited";
  EXPECT_NE(ReadFile(root + "/cgroup.subtree_control").find("memory"), std::string::npos);
  auto set_direct =
      RunCommand({MOAT_SANDBOX_BIN, "--run-dir", sandbox_.run_dir(), "--cgroup-parent",
                  service + "/moat", "set", id, "--memory", "64M"});
  EXPECT_EQ(set_direct.exit_code, 0) << set_direct.err;
  EXPECT_EQ(Trim(ReadFile(root + "/moat/" + id + "/memory.max")), std::to_string(64 << 20));
  auto stopped = RunCommand({MOAT_SANDBOX_BIN, "--run-dir", sandbox_.run_dir(), "--cgroup-parent",
                             service + "/moat", "stop", id, "--grace", "1"});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_FALSE(Exists(root + "/moat/" + id));
  RunCommand({"rmdir", root + "/moat", root + "/supervisor", root});
  EXPECT_FALSE(Exists(root));
}

}  // namespace
}  // namespace moat::test
