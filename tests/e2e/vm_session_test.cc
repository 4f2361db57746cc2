// A VM session end to end through the real broker and its real local agent: create with
// "backend": "vm" (a QEMU microVM boots), run an application that writes into the user's
// home, suspend and resume (QMP stop and cont), end: no QEMU, directory, record or cgroup
// left. One boot (about 2 s under TCG). Skipped when this host cannot boot a guest.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "broker_harness.h"
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

}  // namespace
}  // namespace moat::e2e
