// A VM session end to end through the real broker and its real local agent: create with
// "backend": "vm" (a QEMU microVM boots), run an application that writes into the user's
// home, suspend and resume (QMP stop and cont), end: no QEMU, directory, record or cgroup
// left. One boot (about 2 s under TCG). Skipped when this host cannot boot a guest.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "broker_harness.h"
#include "moat/common/testing/rfb_test_client.h"
#include "test_support.h"

namespace moat::e2e {
namespace {

// Whether any process's command line names the VM of `session` (QEMU runs as -name moat-ID).
bool QemuRunsFor(const std::string& session) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(std::string("moat-") + session + '\0') != std::string::npos &&
        cmdline.find("qemu") != std::string::npos) {
      return true;
    }
  }
  return false;
}

class VmSessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (test::RunCommand({"sh", "-c", "command -v qemu-system-x86_64"}).exit_code != 0) {
      skip_reason_ = "qemu-system-x86_64 is not installed (scripts/install-deps.sh installs it)";
      return;
    }
    guest_dir_ = "/tmp/moat-e2e-vm-guest-" + std::to_string(::getpid());
    std::filesystem::create_directories(guest_dir_);
    ::chmod(guest_dir_.c_str(), 0755);
    auto built = test::RunCommand(
        {MOAT_VM_BUILD_GUEST, "--moat-init", MOAT_INIT_BIN, "--output", guest_dir_}, 600);
    if (built.exit_code == 77) {
      skip_reason_ = test::Trim(built.out);
      return;
    }
    ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  }
  static void TearDownTestSuite() {
    if (!guest_dir_.empty()) std::filesystem::remove_all(guest_dir_);
  }
  static inline std::string skip_reason_, guest_dir_;
};

TEST_F(VmSessionTest, CreateRunSuspendResumeEndThroughTheApi) {
  if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  // The broker's local agent inherits this: where its VM guest image is (agent --vm-guest).
  ::setenv("MOAT_VM_GUEST", guest_dir_.c_str(), 1);
  BrokerProcess broker;
  broker.Start();
  Api user = MakeUser(broker, "moat-e2e-vm", "user");
  std::string home = test::HomeOf("moat-e2e-vm");
  std::filesystem::remove(home + "/from-vm");

  Reply created = user.Call("POST", "/api/v1/sessions", {{"backend", "vm"}, {"desktop", false}});
  ASSERT_EQ(created.status, 201) << created.raw << broker.log();
  std::string id = created.body["id"];
  EXPECT_EQ(created.body["state"], "active");
  EXPECT_EQ(created.body["backend"], "vm");
  EXPECT_TRUE(std::filesystem::exists(broker.run_dir() + "/vm/" + id));
  EXPECT_FALSE(std::filesystem::exists(broker.run_dir() + "/sessions/" + id));
  EXPECT_TRUE(QemuRunsFor(id));

  Reply app = user.Call("POST", "/api/v1/sessions/" + id + "/apps",
                        {{"argv", {"/bin/sh", "-c", "uname -r > $HOME/from-vm"}}});
  ASSERT_EQ(app.status, 201) << app.raw;
  EXPECT_TRUE(WaitFor([&] { return !test::Trim(test::ReadFile(home + "/from-vm")).empty(); }));
  struct stat file {};
  ASSERT_EQ(::stat((home + "/from-vm").c_str(), &file), 0);
  EXPECT_EQ(file.st_uid, test::UidOf("moat-e2e-vm"));

  Reply ps = user.Call("GET", "/api/v1/sessions/" + id + "/processes");
  ASSERT_EQ(ps.status, 200) << ps.raw;
  ASSERT_FALSE(ps.body["processes"].empty()) << ps.raw;
  EXPECT_EQ(ps.body["processes"][0]["pid"], 1);

  // Suspend and resume are an operator's (as for a sandbox session).
  Api admin = AdminApi(broker);
  Reply suspended = admin.Call("POST", "/api/v1/sessions/" + id + "/suspend");
  ASSERT_EQ(suspended.status, 200) << suspended.raw;
  EXPECT_EQ(suspended.body["state"], "suspended");
  Reply resumed = admin.Call("POST", "/api/v1/sessions/" + id + "/resume");
  ASSERT_EQ(resumed.status, 200) << resumed.raw;
  EXPECT_EQ(resumed.body["state"], "active");

  Reply ended = user.Call("POST", "/api/v1/sessions/" + id + "/end");
  ASSERT_EQ(ended.status, 200) << ended.raw;
  EXPECT_EQ(ended.body["state"], "ended");
  EXPECT_FALSE(QemuRunsFor(id));
  EXPECT_FALSE(std::filesystem::exists(broker.run_dir() + "/vm/" + id));
  EXPECT_FALSE(std::filesystem::exists(broker.run_dir() + "/vm/" + id + ".json"));
  EXPECT_TRUE(SessionCgroupFile(broker.cgroup_parent(), id, {"cgroup.procs"}).empty());
  std::filesystem::remove(home + "/from-vm");
}

size_t WhitePixels(const test::Framebuffer& frame) {
  return static_cast<size_t>(
      std::count(frame.pixels.begin(), frame.pixels.end(), uint32_t{0xFFFFFF}));
}

long long MsSince(std::chrono::steady_clock::time_point start) {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - start)
                                    .count());
}

// A VM desktop through the broker: the API creates it, a native VNC login to USER/SESSION on
// the gateway's port reaches the xterm in the guest; a second login takes it over.
TEST_F(VmSessionTest, DesktopThroughTheDisplayGateway) {
  if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  ::setenv("MOAT_VM_GUEST", guest_dir_.c_str(), 1);
  BrokerProcess broker;
  broker.Start();
  const std::string name = "moat-e2e-vmdesk";
  Api user = MakeUser(broker, name, "user");

  auto start = std::chrono::steady_clock::now();
  Reply created = user.Call("POST", "/api/v1/sessions", {{"backend", "vm"}, {"desktop", true}});
  ASSERT_EQ(created.status, 201) << created.raw << broker.log();
  std::printf("[ VM ] POST /api/v1/sessions desktop VM to 201: %lld ms\n", MsSince(start));
  std::string id = created.body["id"];
  EXPECT_EQ(created.body["backend"], "vm");
  EXPECT_TRUE(std::filesystem::exists(broker.run_dir() + "/sessions/" + id + "/display/rfb.sock"));

  test::VencryptLogin login{.host = "127.0.0.1",
                            .port = broker.display_port(),
                            .ca_pem = broker.ca_pem(),
                            .verify_hostname = "127.0.0.1",
                            .user = name + "/" + id,
                            .password = "pw-" + name + "-secret"};
  start = std::chrono::steady_clock::now();
  auto client = test::RfbTestClient::ConnectVencrypt(login, std::chrono::seconds(30));
  ASSERT_TRUE(client) << client.error().message() << broker.log();
  EXPECT_EQ(client->width(), 1280);
  EXPECT_EQ(client->height(), 800);
  auto frame = client->FullFrame();
  ASSERT_TRUE(frame) << frame.error().message();
  std::printf("[ VM ] VNC login to the first full frame: %lld ms\n", MsSince(start));
  size_t white = WhitePixels(*frame);
  for (int i = 0; i < 100 && white <= 50000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    frame = client->FullFrame();
    ASSERT_TRUE(frame) << frame.error().message();
    white = WhitePixels(*frame);
  }
  EXPECT_GT(white, 50000u);

  // Takeover: the gateway connects the new relay before it drops the old client.
  start = std::chrono::steady_clock::now();
  auto second = test::RfbTestClient::ConnectVencrypt(login, std::chrono::seconds(30));
  ASSERT_TRUE(second) << second.error().message() << broker.log();
  auto taken = second->FullFrame();
  ASSERT_TRUE(taken) << taken.error().message();
  EXPECT_GT(WhitePixels(*taken), 50000u);
  std::printf("[ VM ] takeover login to a full frame: %lld ms\n", MsSince(start));
  EXPECT_TRUE(client->ClosedWithin(std::chrono::seconds(10)));
  // The dropped owner's leaving is a takeover, not a disconnection: the session stays active
  // and the new login keeps its desktop.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  Reply shown = user.Call("GET", "/api/v1/sessions/" + id);
  ASSERT_EQ(shown.status, 200) << shown.raw;
  EXPECT_EQ(shown.body["state"], "active") << shown.raw;
  auto still = second->FullFrame();
  ASSERT_TRUE(still) << still.error().message();

  // Watching is refused with the reason, rather than waiting behind the owner.
  test::VencryptLogin watch = login;
  watch.user = "admin/shadow/" + id;
  watch.password = broker.admin_password();
  auto watcher = test::RfbTestClient::ConnectVencrypt(watch, std::chrono::seconds(30));
  ASSERT_FALSE(watcher);
  EXPECT_NE(watcher.error().message().find("cannot be watched"), std::string::npos)
      << watcher.error().message();

  Reply ended = user.Call("POST", "/api/v1/sessions/" + id + "/end");
  ASSERT_EQ(ended.status, 200) << ended.raw;
  EXPECT_FALSE(QemuRunsFor(id));
  EXPECT_FALSE(std::filesystem::exists(broker.run_dir() + "/sessions/" + id));
  EXPECT_FALSE(std::filesystem::exists(broker.run_dir() + "/vm/" + id));
}

}  // namespace
}  // namespace moat::e2e
