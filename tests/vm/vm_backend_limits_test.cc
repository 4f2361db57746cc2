// The limits of a VM session that the guest enforces, on real QEMU (one boot): vCPUs from the
// CPU cap, pids_max and one application's limits in moat-init's cgroups inside the guest (a
// fork bomb stops there), bad input to the "limits" op refused with nothing changed, and memory
// max lowered live reaching the guest through its balloon. Needs root and qemu-system-x86.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <thread>

#include "moat/common/wire/messages.h"
#include "test_support.h"
#include "vm_backend_fixture.h"

namespace moat::agent {
namespace {

using moat::test::HomeOf;
using moat::test::ReadFile;
using moat::test::Trim;
using moat::test::UniqueId;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = 1ull << 20;

// The same number read twice in a row from `path`: a counter that has stopped moving.
std::string SettledNumber(const std::string& path, int timeout_s) {
  std::string last;
  auto deadline = std::chrono::steady_clock::now() + seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1500));
    std::string now = Trim(ReadFile(path));
    if (!now.empty() && now == last) return now;
    last = now;
  }
  return last;
}

// MemTotal of the guest, as an application there wrote it into the home (kB).
uint64_t MemTotalKb(const std::string& text) {
  std::istringstream in(text);
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "MemTotal:") return value;
    std::string unit;
    in >> unit;
  }
  return 0;
}

TEST_F(VmBackendTest, GuestCgroupsPidsMaxPerAppLimitsBalloonAndVcpus) {
  if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  const std::string home = HomeOf(kUser);
  for (const char* name :
       {"cpus", "bomb-app", "bomb-session", "mem-before", "mem-after", "mem-raised"}) {
    std::filesystem::remove(home + "/" + name);
  }
  auto backend = Open();
  ASSERT_TRUE(backend) << backend.error().message();
  wire::SessionCreate spec;
  spec.session_id = UniqueId("vml");
  spec.user = kUser;
  spec.backend = wire::Backend::kVm;
  spec.desktop = false;
  spec.limits.cpu_percent = 150;  // two vCPUs, if the host has two cores
  spec.limits.memory_max = 1024 * kMiB;
  spec.limits.pids_max = 24;
  const std::string id = spec.session_id;
  struct EndOnReturn {
    std::function<void()> end;
    ~EndOnReturn() { end(); }
  } end_on_return{[&] {
    if (backend && *backend && (*backend)->Wall(id)) (void)(*backend)->End(id, milliseconds(500));
  }};
  auto created = (*backend)->Create(spec);
  ASSERT_TRUE(created) << created.error().message();
  auto* wall = (*backend)->Wall(id);
  ASSERT_NE(wall, nullptr);
  auto& control = wall->control();

  auto run = [&](const std::string& script, const wire::SessionLimits& limits = {}) {
    AppLaunch app;
    app.argv = {"/bin/sh", "-c", script};
    app.limits = limits;
    auto launched = (*backend)->Launch(id, app);
    EXPECT_TRUE(launched) << launched.error().message();
    return launched ? *launched : LaunchedApp{};
  };

  // vCPUs: ceil(150 / 100) = 2, at most the host's cores.
  unsigned expected_cpus = std::min(2u, std::max(1u, std::thread::hardware_concurrency()));
  std::string cmdline = ReadFile("/proc/" + std::to_string(wall->qemu_pid()) + "/cmdline");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  EXPECT_NE(cmdline.find(" -smp " + std::to_string(expected_cpus) + " "), std::string::npos)
      << cmdline;
  run("grep -c ^processor /proc/cpuinfo > $HOME/cpus");
  ASSERT_TRUE(WaitFor([&] { return !Trim(ReadFile(home + "/cpus")).empty(); }, 30));
  EXPECT_EQ(Trim(ReadFile(home + "/cpus")), std::to_string(expected_cpus));

  // pids_max is the guest's: ReadLimits reports it, the QEMU group's pids.max is not it.
  auto limits = (*backend)->ReadLimits(id, "");
  ASSERT_TRUE(limits) << limits.error().message();
  EXPECT_EQ(limits->pids_max.value_or(0), 24u);
  EXPECT_EQ(limits->memory_max.value_or(0), 1024 * kMiB);

  // A fork bomb in an application of its own limited to 8 processes: it stops at 8 (its shell
  // and 7 sleeps); the count it reached is the last it wrote.
  const char* bomb =
      "i=0; while [ $i -lt 100 ]; do sleep 600 & i=$((i+1)); echo $i > $HOME/%s; done";
  char script[256];
  std::snprintf(script, sizeof(script), bomb, "bomb-app");
  wire::SessionLimits eight;
  eight.pids_max = 8;
  auto bomb_app = run(script, eight);
  ASSERT_FALSE(bomb_app.app.empty());
  std::string reached = SettledNumber(home + "/bomb-app", 60);
  std::printf("[ VM ] fork bomb in an app with pids_max 8: %s sleeps started\n", reached.c_str());
  EXPECT_EQ(reached, "7");
  auto app_limits = (*backend)->ReadLimits(id, bomb_app.app);
  ASSERT_TRUE(app_limits) << app_limits.error().message();
  EXPECT_EQ(app_limits->pids_max.value_or(0), 8u);

  // Another in the session's share: every application's processes together stop at 24.
  std::snprintf(script, sizeof(script), bomb, "bomb-session");
  run(script);
  reached = SettledNumber(home + "/bomb-session", 60);
  std::printf("[ VM ] fork bomb beside it, session pids_max 24: %s sleeps started\n",
              reached.c_str());
  // 24 less the first bomb's 7 sleeps less this one's shell: 16 at most.
  ASSERT_FALSE(reached.empty());
  EXPECT_LE(std::stoi(reached), 16);
  EXPECT_GE(std::stoi(reached), 10);
  auto processes = (*backend)->Processes(id);
  ASSERT_TRUE(processes) << processes.error().message();
  size_t in_apps = 0;
  for (const auto& p : *processes) in_apps += p.app.empty() ? 0 : 1;
  EXPECT_LE(in_apps, 24u);
  EXPECT_GE(in_apps, 20u);

  // One application's CPU, memory and pids, live (its group lives while its sleeps do).
  wire::SessionLimits several;
  several.cpu_percent = 20;
  several.memory_max = 64 * kMiB;
  several.pids_max = 16;
  ASSERT_TRUE((*backend)->SetLimits(id, bomb_app.app, several));
  app_limits = (*backend)->ReadLimits(id, bomb_app.app);
  ASSERT_TRUE(app_limits) << app_limits.error().message();
  EXPECT_DOUBLE_EQ(app_limits->cpu_percent.value_or(0), 20.0);
  EXPECT_EQ(app_limits->memory_max.value_or(0), 64 * kMiB);
  EXPECT_EQ(app_limits->pids_max.value_or(0), 16u);
  // The bombs go; moat-init never was in their groups, so it still answers and still starts
  // programs.
  for (const auto& p : *processes) {
    if (!p.app.empty()) (void)(*backend)->Signal(id, static_cast<pid_t>(p.pid), SIGKILL);
  }

  // Bad input to the op changes nothing, and says what was wrong.
  for (const auto& request :
       {nlohmann::json{{"op", "limits"}, {"app", ""}, {"set", {{"pids_max", 0}}}},
        nlohmann::json{{"op", "limits"}, {"set", {{"pids_max", 5}, {"bogus", 1}}}},
        nlohmann::json{{"op", "limits"}, {"set", {{"pids_max", "lots"}}}},
        nlohmann::json{{"op", "limits"}, {"set", {{"io_weight", 50}}}},
        nlohmann::json{{"op", "limits"}, {"app", "../.."}, {"set", {{"pids_max", 5}}}},
        nlohmann::json{{"op", "limits"}, {"app", "app-999"}, {"set", {{"pids_max", 5}}}},
        nlohmann::json{{"op", "limits"}, {"app", 3}},
        nlohmann::json{{"op", "limits"}, {"sett", {{"pids_max", 5}}}}}) {
    auto reply = control.Call(request, seconds(10));
    EXPECT_FALSE(reply) << request.dump();
    if (!reply)
      std::printf("[ VM ] %s -> %s\n", request.dump().c_str(), reply.error().message().c_str());
  }
  limits = (*backend)->ReadLimits(id, "");
  ASSERT_TRUE(limits) << limits.error().message();
  EXPECT_EQ(limits->pids_max.value_or(0), 24u);
  wire::SessionLimits swap;
  swap.swap_max = 0;
  auto refused = (*backend)->SetLimits(id, bomb_app.app, swap);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), std::errc::not_supported);
  wire::SessionLimits one;
  one.pids_max = 4;
  auto missing = (*backend)->SetLimits(id, "app-999", one);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), std::errc::no_such_file_or_directory)
      << missing.error().message();

  // The session's pids_max, live.
  wire::SessionLimits more;
  more.pids_max = 200;
  ASSERT_TRUE((*backend)->SetLimits(id, "", more));
  limits = (*backend)->ReadLimits(id, "");
  ASSERT_TRUE(limits) << limits.error().message();
  EXPECT_EQ(limits->pids_max.value_or(0), 200u);
  std::string host_pids = CgroupFile(parent_, id, {"pids.max"});
  if (!host_pids.empty()) {
    EXPECT_NE(Trim(ReadFile(host_pids)), "200") << host_pids;
  }

  // Memory max lowered live: the balloon takes the guest down to memory max − 192 MiB before
  // the cgroup's max drops; the guest's MemTotal shows it. Raised again: it comes back.
  run("cat /proc/meminfo > $HOME/mem-before");
  ASSERT_TRUE(WaitFor([&] { return MemTotalKb(ReadFile(home + "/mem-before")) > 0; }, 30));
  const uint64_t before = MemTotalKb(ReadFile(home + "/mem-before"));
  wire::SessionLimits lower;
  lower.memory_max = 448 * kMiB;  // the guest: 448 − 192 = 256 MiB of its 512
  ASSERT_TRUE((*backend)->SetLimits(id, "", lower));
  auto balloon = wall->Qmp("query-balloon");
  ASSERT_TRUE(balloon) << balloon.error().message();
  EXPECT_EQ(balloon->value("actual", uint64_t{0}), 256 * kMiB);
  std::string memory = CgroupFile(parent_, id, {"memory.max", "memory.limit_in_bytes"});
  ASSERT_FALSE(memory.empty());
  EXPECT_EQ(Trim(ReadFile(memory)), std::to_string(448 * kMiB));
  run("cat /proc/meminfo > $HOME/mem-after");
  ASSERT_TRUE(WaitFor([&] { return MemTotalKb(ReadFile(home + "/mem-after")) > 0; }, 30));
  const uint64_t after = MemTotalKb(ReadFile(home + "/mem-after"));
  std::printf("[ VM ] guest MemTotal %llu kB, after memory max 448 MiB: %llu kB\n",
              static_cast<unsigned long long>(before), static_cast<unsigned long long>(after));
  EXPECT_LT(after, before);
  EXPECT_LE(after, 256 * 1024u);
  wire::SessionLimits raise;
  raise.memory_max = 1024 * kMiB;
  ASSERT_TRUE((*backend)->SetLimits(id, "", raise));
  EXPECT_EQ(Trim(ReadFile(memory)), std::to_string(1024 * kMiB));
  run("cat /proc/meminfo > $HOME/mem-raised");
  ASSERT_TRUE(
      WaitFor([&] { return MemTotalKb(ReadFile(home + "/mem-raised")) > before - 1024; }, 30));

  // Suspended: the freezer holds QEMU, so its CPU time stands still; the guest's limits wait.
  ASSERT_TRUE((*backend)->Freeze(id));
  auto cpu_time = [&] {
    std::string stat = ReadFile("/proc/" + std::to_string(wall->qemu_pid()) + "/stat");
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    uint64_t ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14 || i == 15) ticks += std::stoull(field);
    }
    return ticks;
  };
  uint64_t frozen_at = cpu_time();
  std::this_thread::sleep_for(seconds(1));
  EXPECT_EQ(cpu_time(), frozen_at);
  auto busy = (*backend)->SetLimits(id, "", more);
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code(), std::errc::device_or_resource_busy);
  ASSERT_TRUE((*backend)->Thaw(id));

  ASSERT_TRUE((*backend)->End(id, seconds(2)));
  EXPECT_FALSE(Exists(run_dir_ + "/sessions/" + id));
  EXPECT_TRUE(CgroupFile(parent_, id, {"cgroup.procs"}).empty());
  for (const char* name :
       {"cpus", "bomb-app", "bomb-session", "mem-before", "mem-after", "mem-raised"}) {
    std::filesystem::remove(home + "/" + name);
  }
}

}  // namespace
}  // namespace moat::agent
