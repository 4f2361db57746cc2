// The VM backend (agent/src/vm_backend.h) on real QEMU: one VM session through the Backend
// interface the agent uses: create, launch, processes as the guest sees them, signals, limits
// in the QEMU cgroup's files, suspend and resume by QMP, re-adoption by a second VmBackend on
// the same run directory, and an end that leaves nothing. One boot for the whole sequence (a
// boot under TCG costs about 2 s). Needs root and qemu-system-x86; skipped without them.
#include "vm_backend.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include "backend_set.h"
#include "moat/common/testing/rfb_test_client.h"
#include "test_guest.h"
#include "test_support.h"
#include "vm_backend_fixture.h"

namespace moat::agent {
namespace {

using moat::test::EnsureUser;
using moat::test::Exists;
using moat::test::Framebuffer;
using moat::test::HomeOf;
using moat::test::ReadFile;
using moat::test::RfbTestClient;
using moat::test::RunCommand;
using moat::test::Trim;
using moat::test::UidOf;
using moat::test::UniqueId;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_F(VmBackendTest, WithoutAGuestImageVmCreatesFailNamingWhatIsMissing) {
  VmBackendOptions options;
  options.run_dir = run_dir_;
  options.guest_dir = "/nonexistent/moat-vm-guest";
  auto opened = VmBackend::Open(options, *manager_);
  ASSERT_FALSE(opened);
  const std::string reason = opened.error().message();
  // Either QEMU is missing, or the guest image: the message says which.
  EXPECT_TRUE(reason.find("/nonexistent/moat-vm-guest") != std::string::npos ||
              reason.find("qemu") != std::string::npos)
      << reason;

  // The agent's set of backends then refuses a VM create with that reason.
  sandbox::ManagerOptions manager;
  manager.run_dir = run_dir_;
  manager.cgroups.parent = parent_;
  auto sandbox = SandboxBackend::Open(manager);
  ASSERT_TRUE(sandbox) << sandbox.error().message();
  BackendSet set(std::move(*sandbox), nullptr, reason);
  EXPECT_TRUE(set.Supports(wire::Backend::kSandbox));
  auto vm = set.Supports(wire::Backend::kVm);
  ASSERT_FALSE(vm);
  EXPECT_NE(vm.error().message().find(reason), std::string::npos) << vm.error().message();
  wire::SessionCreate spec;
  spec.session_id = UniqueId("vm");
  spec.user = kUser;
  spec.backend = wire::Backend::kVm;
  auto created = set.Create(spec);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), std::errc::invalid_argument);
}

TEST_F(VmBackendTest, CreateLaunchProcessesLimitsSuspendReadoptEnd) {
  if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  std::string home = HomeOf(kUser);
  std::filesystem::remove(home + "/x");
  std::filesystem::remove(home + "/y");
  auto backend = Open();
  ASSERT_TRUE(backend) << backend.error().message();

  wire::SessionCreate spec;
  spec.session_id = UniqueId("vm");
  spec.user = kUser;
  spec.backend = wire::Backend::kVm;
  spec.limits.memory_max = 1024ull << 20;
  const std::string id = spec.session_id;

  spec.desktop = false;

  auto start = std::chrono::steady_clock::now();
  auto created = (*backend)->Create(spec);
  ASSERT_TRUE(created) << created.error().message();
  std::printf("[ VM ] VmBackend::Create: %lld ms (accel %s)\n",
              static_cast<long long>(
                  std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start)
                      .count()),
              (*backend)->image().accel.c_str());
  EXPECT_EQ(created->backend, wire::Backend::kVm);
  EXPECT_TRUE(created->running);
  auto* wall = (*backend)->Wall(id);
  ASSERT_NE(wall, nullptr);
  const pid_t qemu = wall->qemu_pid();

  // QEMU is in the session's own cgroup (its wall's, in an application group) from its first
  // instruction.
  std::string groups = ReadFile("/proc/" + std::to_string(qemu) + "/cgroup");
  EXPECT_NE(groups.find("/" + parent_ + "/" + id + "/app-"), std::string::npos) << groups;

  // An application, as the user, writing into the home; the guest lists it.
  AppLaunch app;
  app.argv = {"/bin/sh", "-c", "echo ok > $HOME/x; exec sleep 300"};
  auto launched = (*backend)->Launch(id, app);
  ASSERT_TRUE(launched) << launched.error().message();
  EXPECT_GT(launched->pid, 1);
  EXPECT_FALSE(launched->app.empty());
  bool listed = WaitFor(
      [&] {
        auto processes = (*backend)->Processes(id);
        if (!processes) return false;
        for (const auto& p : *processes) {
          if (p.pid == static_cast<uint64_t>(launched->pid) &&
              p.command.find("sleep 300") != std::string::npos) {
            EXPECT_EQ(p.uid, UidOf(kUser));
            EXPECT_EQ(p.app, launched->app);
            return true;
          }
        }
        return false;
      },
      30);
  EXPECT_TRUE(listed);
  EXPECT_TRUE(WaitFor([&] { return Trim(ReadFile(home + "/x")) == "ok"; }, 30));
  auto processes = (*backend)->Processes(id);
  ASSERT_TRUE(processes) << processes.error().message();
  ASSERT_FALSE(processes->empty());
  EXPECT_EQ(processes->front().pid, 1u);  // moat-init; no kernel threads
  for (const auto& p : *processes) EXPECT_NE(p.ppid, 2u) << p.command;

  // Signals: never to moat-init; ESRCH for no such process; the application goes.
  EXPECT_FALSE((*backend)->Signal(id, 1, SIGKILL));
  auto none = (*backend)->Signal(id, 99999, SIGTERM);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), std::errc::no_such_process) << none.error().message();
  ASSERT_TRUE((*backend)->Signal(id, launched->pid, SIGKILL));
  EXPECT_TRUE(WaitFor([&] {
    auto now = (*backend)->Processes(id);
    if (!now) return false;
    for (const auto& p : *now) {
      if (p.pid == static_cast<uint64_t>(launched->pid)) return false;
    }
    return true;
  }));

  // Limits land in the QEMU cgroup's files, and read back.
  wire::SessionLimits limits;
  limits.cpu_percent = 50;
  limits.memory_max = 768ull << 20;
  ASSERT_TRUE((*backend)->SetLimits(id, "", limits));
  std::string quota = CgroupFile(parent_, id, {"cpu.max", "cpu.cfs_quota_us"});
  ASSERT_FALSE(quota.empty());
  std::string value = Trim(ReadFile(quota));
  EXPECT_TRUE(value == "50000" || value.rfind("50000 ", 0) == 0) << quota << ": " << value;
  std::string memory = CgroupFile(parent_, id, {"memory.max", "memory.limit_in_bytes"});
  ASSERT_FALSE(memory.empty());
  EXPECT_EQ(Trim(ReadFile(memory)), std::to_string(768ull << 20));
  auto effective = (*backend)->ReadLimits(id, "");
  ASSERT_TRUE(effective) << effective.error().message();
  EXPECT_DOUBLE_EQ(effective->cpu_percent.value_or(0), 50.0);
  EXPECT_EQ(effective->memory_max.value_or(0), 768ull << 20);
  auto usage = (*backend)->Usage(id, "");
  ASSERT_TRUE(usage) << usage.error().message();
  EXPECT_GT(usage->cpu_usage_us, 0u);
  EXPECT_GT(usage->memory_current, 64ull << 20);  // the whole VM's memory, QEMU's own included
  EXPECT_FALSE(usage->frozen);

  // Suspend: QMP stop, then the wall's freezer, so that the usage stream's `frozen` (the
  // freezer's word) is right and QEMU uses no CPU at all.
  ASSERT_TRUE((*backend)->Freeze(id));
  std::string freezer = CgroupFile(parent_, id, {"freezer.state", "cgroup.events"});
  ASSERT_FALSE(freezer.empty());
  std::string state = ReadFile(freezer);
  EXPECT_TRUE(state.starts_with("FROZEN") || state.find("frozen 1") != std::string::npos)
      << freezer << ": " << state;
  usage = (*backend)->Usage(id, "");
  ASSERT_TRUE(usage) << usage.error().message();
  EXPECT_TRUE(usage->frozen);
  auto frozen_launch = (*backend)->Launch(id, app);
  ASSERT_FALSE(frozen_launch);
  EXPECT_EQ(frozen_launch.error().code(), std::errc::device_or_resource_busy);
  EXPECT_TRUE((*backend)->Freeze(id));  // again: nothing to do, and no QMP to a frozen QEMU

  // Re-adoption of the suspended VM: a new backend on the same run directory (the agent after a
  // restart) finds it running, still suspended, and drives it.
  backend->reset();
  ASSERT_EQ(::kill(qemu, 0), 0) << "the VM did not outlive its backend";
  // Through the agent's BackendSet: the VM's wall is one of the SessionManager's walls, yet
  // it is listed once, as the VM backend's session.
  auto again = Open();
  ASSERT_TRUE(again) << again.error().message();
  auto sandbox = SandboxBackend::Open(manager_->options());
  ASSERT_TRUE(sandbox) << sandbox.error().message();
  BackendSet set(std::move(*sandbox), std::move(*again), "");
  auto listed_again = set.List();
  ASSERT_TRUE(listed_again);
  ASSERT_EQ(listed_again->size(), 1u);
  EXPECT_EQ(listed_again->front().session_id, id);
  EXPECT_TRUE(listed_again->front().running);
  EXPECT_EQ(listed_again->front().user, kUser);
  EXPECT_EQ(listed_again->front().backend, wire::Backend::kVm);
  usage = set.Usage(id, "");
  ASSERT_TRUE(usage) << usage.error().message();
  EXPECT_TRUE(usage->frozen);

  // Resume: the freezer thawed, then QMP cont.
  ASSERT_TRUE(set.Thaw(id));
  EXPECT_TRUE(ReadFile(freezer).starts_with("THAWED") ||
              ReadFile(freezer).find("frozen 0") != std::string::npos);
  auto* adopted = set.vm() ? set.vm()->Wall(id) : nullptr;
  ASSERT_NE(adopted, nullptr);
  auto status = adopted->Qmp("query-status");
  ASSERT_TRUE(status) << status.error().message();
  EXPECT_EQ(status->value("status", std::string()), "running");
  usage = set.Usage(id, "");
  ASSERT_TRUE(usage) << usage.error().message();
  EXPECT_FALSE(usage->frozen);
  AppLaunch second;
  second.argv = {"/bin/sh", "-c", "echo adopted > $HOME/y"};
  ASSERT_TRUE(set.Launch(id, second));
  EXPECT_TRUE(WaitFor([&] { return Trim(ReadFile(home + "/y")) == "adopted"; }, 30));

  // End: nothing left, neither QEMU, nor its directory, record or cgroup.
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(set.End(id, seconds(2)));
  std::printf("[ VM ] VmBackend::End: %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start)
                      .count()));
  EXPECT_NE(::kill(qemu, 0), 0) << "QEMU " << qemu << " still runs";
  EXPECT_FALSE(Exists(run_dir_ + "/sessions/" + id));
  EXPECT_FALSE(Exists(run_dir_ + "/vm/" + id + ".json"));
  EXPECT_FALSE(manager_->Find(id));
  EXPECT_TRUE(CgroupFile(parent_, id, {"cgroup.procs"}).empty());
  auto after = set.List();
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->empty());
  std::filesystem::remove(home + "/x");
  std::filesystem::remove(home + "/y");
}

}  // namespace
}  // namespace moat::agent

namespace moat::agent {
namespace {

size_t WhitePixels(const Framebuffer& frame) {
  return static_cast<size_t>(
      std::count(frame.pixels.begin(), frame.pixels.end(), uint32_t{0xFFFFFF}));
}

// Full frames until the xterm's white window shows (mapped just after the desktop is ready;
// under TCG the xterm takes a while to start).
Result<Framebuffer> AwaitXterm(RfbTestClient& client, seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Framebuffer last;
  while (std::chrono::steady_clock::now() < deadline) {
    MOAT_TRY(last, client.FullFrame());
    if (WhitePixels(last) > 50000) return last;
    std::this_thread::sleep_for(milliseconds(200));
  }
  return Fail(
      Error(std::make_error_code(std::errc::timed_out),
            "no xterm on the screen: " + std::to_string(WhitePixels(last)) + " white pixels"));
}

long long MsSince(std::chrono::steady_clock::time_point start) {
  return static_cast<long long>(
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start).count());
}

// A desktop VM: Xvnc, openbox and the xterm in the guest, the RFB stream through the
// moat.display port to the host socket the display gateway uses for a local desktop.
TEST_F(VmBackendTest, DesktopReachesTheHostSocketWhereTheGatewayLooks) {
  if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  auto backend = Open();
  ASSERT_TRUE(backend) << backend.error().message();
  wire::SessionCreate spec;
  spec.session_id = UniqueId("vmd");
  spec.user = kUser;
  spec.backend = wire::Backend::kVm;
  spec.desktop = true;
  const std::string id = spec.session_id;
  const std::string socket = run_dir_ + "/sessions/" + id + "/display/rfb.sock";

  // A failed assertion returns early, and a VmBackend releases its VMs rather than ending them
  // (an agent's restart): end it here so that no QEMU outlives the test.
  struct EndOnReturn {
    std::function<void()> end;
    ~EndOnReturn() { end(); }
  } end_on_return{[&] {
    if (backend && *backend && (*backend)->Wall(id)) (void)(*backend)->End(id, milliseconds(200));
  }};
  auto start = std::chrono::steady_clock::now();
  auto created = (*backend)->Create(spec);
  ASSERT_TRUE(created) << created.error().message();
  std::printf("[ VM ] desktop VmBackend::Create (boot, Xvnc, openbox ready): %lld ms (accel %s)\n",
              MsSince(start), (*backend)->image().accel.c_str());
  EXPECT_EQ(created->rfb_socket, socket);

  // Where the broker's DisplayService::SocketOf looks; root's alone, as for a sandbox.
  struct stat info {};
  ASSERT_EQ(::lstat(socket.c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_uid, 0u);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((run_dir_ + "/sessions/" + id + "/display").c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, 0u);
  EXPECT_EQ(info.st_mode & 0777, 0700u);

  // A viewer: the greeting, the 1280x800 screen, the xterm's white window.
  start = std::chrono::steady_clock::now();
  auto client = RfbTestClient::Connect(socket, seconds(30));
  ASSERT_TRUE(client) << client.error().message();
  EXPECT_EQ(client->width(), 1280);
  EXPECT_EQ(client->height(), 800);
  EXPECT_EQ(client->desktop_name(), "moat-" + id);
  auto first = client->FullFrame();
  ASSERT_TRUE(first) << first.error().message();
  std::printf("[ VM ] connect to first full frame: %lld ms\n", MsSince(start));
  auto frame = AwaitXterm(*client, seconds(90));
  ASSERT_TRUE(frame) << frame.error().message();
  std::printf("[ VM ] connect to the xterm on screen: %lld ms (%zu white pixels)\n", MsSince(start),
              WhitePixels(*frame));

  // For docs/vm.md: QEMU's resident memory with Xvnc, openbox and the xterm in the guest.
  if (auto* wall = (*backend)->Wall(id)) {
    std::string status = ReadFile("/proc/" + std::to_string(wall->qemu_pid()) + "/status");
    auto at = status.find("VmRSS:");
    if (at != std::string::npos) {
      std::printf("[ VM ] QEMU %s\n", status.substr(at, status.find('\n', at) - at).c_str());
    }
  }

  // The viewer leaves, the next one gets a fresh RFB connection (the relay reconnects to Xvnc
  // for each host connection), a few times.
  for (int round = 0; round < 3; ++round) {
    client = Fail(Error({}, "closed"));  // the previous viewer disconnects
    start = std::chrono::steady_clock::now();
    client = RfbTestClient::Connect(socket, seconds(30));
    ASSERT_TRUE(client) << "reconnect " << round << ": " << client.error().message();
    auto again = client->FullFrame();
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_GT(WhitePixels(*again), 50000u);
    std::printf("[ VM ] reconnect %d to a full frame: %lld ms\n", round, MsSince(start));
  }

  // A takeover as the display gateway does it: the new viewer connects (it waits in the
  // socket's backlog, QEMU serves one connection at a time) and only then is the old one
  // dropped; the new one gets a fresh greeting, not the rest of the old stream.
  for (int round = 0; round < 3; ++round) {
    start = std::chrono::steady_clock::now();
    auto next = std::async(std::launch::async,
                           [&socket] { return RfbTestClient::Connect(socket, seconds(30)); });
    std::this_thread::sleep_for(milliseconds(300));
    client = Fail(Error({}, "taken over"));
    auto taken = next.get();
    ASSERT_TRUE(taken) << "takeover " << round << ": " << taken.error().message();
    auto again = taken->FullFrame();
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_GT(WhitePixels(*again), 50000u);
    std::printf("[ VM ] takeover %d to a full frame: %lld ms (300 ms of it waiting)\n", round,
                MsSince(start));
    client = std::move(taken);
  }

  // Xvnc, openbox and the xterm run in the guest as the user.
  auto processes = (*backend)->Processes(id);
  ASSERT_TRUE(processes) << processes.error().message();
  bool xvnc = false, xterm = false;
  for (const auto& p : *processes) {
    if (p.command.find("Xvnc") != std::string::npos) xvnc = p.uid == UidOf(kUser);
    if (p.command.find("xterm") != std::string::npos) xterm = p.uid == UidOf(kUser);
  }
  EXPECT_TRUE(xvnc);
  EXPECT_TRUE(xterm);

  // The listing carries the socket (the agent's display.open uses it for remote gateways).
  auto listed = (*backend)->List();
  ASSERT_TRUE(listed) << listed.error().message();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().rfb_socket, socket);

  // An agent restart: the VM, its relay and the socket (QEMU holds the listening fd) stay; the
  // next backend lists the socket and a viewer gets the desktop as it was.
  client = Fail(Error({}, "closed"));
  backend->reset();
  backend = Open();
  ASSERT_TRUE(backend) << backend.error().message();
  listed = (*backend)->List();
  ASSERT_TRUE(listed) << listed.error().message();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE(listed->front().running);
  EXPECT_EQ(listed->front().rfb_socket, socket);
  client = RfbTestClient::Connect(socket, seconds(30));
  ASSERT_TRUE(client) << "after re-adoption: " << client.error().message();
  auto adopted = client->FullFrame();
  ASSERT_TRUE(adopted) << adopted.error().message();
  EXPECT_GT(WhitePixels(*adopted), 50000u);

  client = Fail(Error({}, "closed"));
  ASSERT_TRUE((*backend)->End(id, milliseconds(500)));
  EXPECT_FALSE(Exists(run_dir_ + "/sessions/" + id));
  EXPECT_FALSE(manager_->Find(id));
}

}  // namespace
}  // namespace moat::agent
