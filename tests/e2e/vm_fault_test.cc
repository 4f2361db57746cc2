// kill -9 of the agent while VM sessions run, through the real broker: QEMU does not depend on
// the agent (its own session, no parent-death signal), so the guests keep running; the broker
// restarts its local agent, which re-adopts them (the record, QEMU's pid and start time, the
// control port again, the desktop's socket); apps, the desktop and the end work as before.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "broker_harness.h"
#include "moat/common/testing/rfb_test_client.h"
#include "test_support.h"
#include "vm_guest_fixture.h"

namespace moat::e2e {
namespace {

class VmFaultTest : public VmGuestTest {};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// User and system CPU time of a process so far (/proc/PID/stat, fields 14 and 15).
double CpuSecondsOf(pid_t pid) {
  std::string stat = test::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  long long ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stoll(field);
  }
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

TEST_F(VmFaultTest, AgentKilledVmSessionsKeepRunningAndAreReadopted) {
  SKIP_WITHOUT_VM_GUEST();
  BrokerProcess broker;
  broker.Start();
  const std::string name = "moat-e2e-vmfault";
  Api user = MakeUser(broker, name, "user");
  Api admin = AdminApi(broker);
  std::string home = test::HomeOf(name);
  for (const char* file : {"before-kill", "after-restart"}) {
    std::filesystem::remove(home + "/" + file);
  }

  // The plain VM first, with an application that outlives the agent.
  Reply plain = user.Call("POST", "/api/v1/sessions", {{"backend", "vm"}, {"desktop", false}});
  ASSERT_EQ(plain.status, 201) << plain.raw << broker.log();
  std::string plain_id = plain.body["id"];
  Reply app =
      user.Call("POST", "/api/v1/sessions/" + plain_id + "/apps",
                {{"argv", {"/bin/sh", "-c", "echo before > $HOME/before-kill; exec sleep 600"}}});
  ASSERT_EQ(app.status, 201) << app.raw;
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(home + "/before-kill"); }, 30));

  // Then the desktop VM, and the kill at once, while its guest is still busy starting the
  // xterm: the restarted agent's first request then reaches the guest before the guest has
  // seen the port open again (moat-init used to drop it, and the adoption failed). An
  // application of the plain VM ends while no agent is connected: its exit event finds no
  // host (moat-init used to spin on it until the agent came back).
  Reply desk = user.Call("POST", "/api/v1/sessions", {{"backend", "vm"}, {"desktop", true}});
  ASSERT_EQ(desk.status, 201) << desk.raw << broker.log();
  std::string desk_id = desk.body["id"];
  pid_t plain_qemu = QemuPidFor(plain_id), desk_qemu = QemuPidFor(desk_id);
  ASSERT_GT(plain_qemu, 0);
  ASSERT_GT(desk_qemu, 0);
  Reply short_app = user.Call("POST", "/api/v1/sessions/" + plain_id + "/apps",
                              {{"argv", {"/bin/sleep", "0.1"}}});
  ASSERT_EQ(short_app.status, 201) << short_app.raw;

  pid_t agent = LocalAgentPid(broker);
  ASSERT_GT(agent, 0);
  double plain_cpu_before = CpuSecondsOf(plain_qemu);
  auto killed = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(agent, SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(QemuPidFor(plain_id), plain_qemu) << "the plain VM died with the agent";
  EXPECT_EQ(QemuPidFor(desk_id), desk_qemu) << "the desktop VM died with the agent";

  // The broker restarts the agent; the new one reports both VMs and the broker shows them
  // active again.
  EXPECT_TRUE(AwaitAgentRestarted(broker, admin, agent, 60)) << broker.log();
  double gap_s = SecondsSince(killed);
  double plain_cpu_s = CpuSecondsOf(plain_qemu) - plain_cpu_before;
  for (const std::string& id : {plain_id, desk_id}) {
    EXPECT_TRUE(WaitFor(
        [&] { return user.Call("GET", "/api/v1/sessions/" + id).body["state"] == "active"; }, 30))
        << id << ": " << user.Call("GET", "/api/v1/sessions/" + id).raw;
  }
  std::printf(
      "[ VM ] agent killed to a new agent connected: %.2f s (the plain VM's QEMU used %.2f s of "
      "CPU meanwhile), to both VM sessions active: %.2f s\n",
      gap_s, plain_cpu_s, SecondsSince(killed));
  // An idle guest whose exit event waits for a host sleeps; it does not spin.
  EXPECT_LT(plain_cpu_s, 0.3 * gap_s) << "the plain guest was busy while no agent was connected";
  EXPECT_EQ(QemuPidFor(plain_id), plain_qemu) << "the plain VM was restarted, not re-adopted";
  EXPECT_EQ(QemuPidFor(desk_id), desk_qemu) << "the desktop VM was restarted, not re-adopted";

  // The plain VM: the old app is still there, and a new one runs through the new agent.
  Reply ps = user.Call("GET", "/api/v1/sessions/" + plain_id + "/processes");
  ASSERT_EQ(ps.status, 200) << ps.raw;
  EXPECT_NE(ps.raw.find("sleep 600"), std::string::npos) << ps.raw;
  Reply again = user.Call("POST", "/api/v1/sessions/" + plain_id + "/apps",
                          {{"argv", {"/bin/sh", "-c", "echo readopted > $HOME/after-restart"}}});
  ASSERT_EQ(again.status, 201) << again.raw;
  EXPECT_TRUE(WaitFor(
      [&] { return test::Trim(test::ReadFile(home + "/after-restart")) == "readopted"; }, 30));

  // The desktop VM: a native VNC login through the gateway shows its xterm.
  test::VencryptLogin login{.host = "127.0.0.1",
                            .port = broker.display_port(),
                            .ca_pem = broker.ca_pem(),
                            .verify_hostname = "127.0.0.1",
                            .user = name + "/" + desk_id,
                            .password = "pw-" + name + "-secret"};
  auto client = test::RfbTestClient::ConnectVencrypt(login, std::chrono::seconds(30));
  ASSERT_TRUE(client) << client.error().message() << broker.log();
  size_t white = 0;
  for (int i = 0; i < 100 && white <= 50000; ++i) {
    auto frame = client->FullFrame();
    ASSERT_TRUE(frame) << frame.error().message();
    white = WhitePixels(*frame);
    if (white <= 50000) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_GT(white, 50000u) << "the re-adopted desktop does not show its xterm";

  for (const std::string& id : {plain_id, desk_id}) {
    Reply ended = user.Call("POST", "/api/v1/sessions/" + id + "/end");
    ASSERT_EQ(ended.status, 200) << ended.raw;
    EXPECT_EQ(ended.body["state"], "ended");
    EXPECT_EQ(QemuPidFor(id), 0) << id;
    EXPECT_FALSE(std::filesystem::exists(broker.run_dir() + "/sessions/" + id)) << id;
    EXPECT_FALSE(std::filesystem::exists(broker.run_dir() + "/vm/" + id + ".json")) << id;
    EXPECT_TRUE(SessionCgroupFile(broker.cgroup_parent(), id, {"cgroup.procs"}).empty()) << id;
  }
  EXPECT_TRUE(client->ClosedWithin(std::chrono::seconds(10)));
  for (const char* file : {"before-kill", "after-restart"}) {
    std::filesystem::remove(home + "/" + file);
  }
}

}  // namespace
}  // namespace moat::e2e
