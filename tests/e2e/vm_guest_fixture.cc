#include "vm_guest_fixture.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "test_support.h"

namespace moat::e2e {

pid_t QemuPidFor(const std::string& session) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(std::string("moat-") + session + '\0') != std::string::npos &&
        cmdline.find("qemu") != std::string::npos) {
      return static_cast<pid_t>(std::stoi(name));
    }
  }
  return 0;
}

void VmGuestTest::SetUpTestSuite() {
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

void VmGuestTest::TearDownTestSuite() {
  if (!guest_dir_.empty()) std::filesystem::remove_all(guest_dir_);
}

void VmGuestTest::SetUp() {
  // The broker's local agent inherits this (agent --vm-guest), restarted agents too.
  if (!guest_dir_.empty()) ::setenv("MOAT_VM_GUEST", guest_dir_.c_str(), 1);
}

}  // namespace moat::e2e
