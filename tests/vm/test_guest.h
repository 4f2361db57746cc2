// A guest image for the VM tests, built once per test binary by agent/vm/build-guest.sh into a
// private directory, and why the tests skip when none can be built here; the SessionManager
// that makes QEMU's walls, and the clean-up of its cgroup parent.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "moat/sandbox/session_manager.h"
#include "test_support.h"

namespace moat::agent::test {

struct TestGuest {
  std::string dir;          // holds guest.env; removed by Remove()
  std::string skip_reason;  // non-empty: no guest can boot here (no QEMU, kernel, accelerator)
  std::string failure;      // non-empty: the build failed for another reason

  // `name` tells the binaries' directories apart under /tmp.
  static TestGuest Build(const std::string& name) {
    TestGuest guest;
    if (moat::test::RunCommand({"sh", "-c", "command -v qemu-system-x86_64"}).exit_code != 0) {
      guest.skip_reason =
          "qemu-system-x86_64 is not installed (scripts/install-deps.sh installs it)";
      return guest;
    }
    guest.dir = "/tmp/" + name + "-" + std::to_string(::getpid());
    std::filesystem::create_directories(guest.dir);
    ::chmod(guest.dir.c_str(), 0755);  // QEMU runs as the session's user and must read it
    auto built = moat::test::RunCommand(
        {MOAT_VM_BUILD_GUEST, "--moat-init", MOAT_INIT_BIN, "--output", guest.dir}, 600);
    if (built.exit_code == 77) {
      guest.skip_reason = moat::test::Trim(built.out);
    } else if (built.exit_code != 0) {
      guest.failure = built.out + built.err;
    }
    return guest;
  }

  void Remove() const {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

// The SessionManager for QEMU's walls on a test's own run directory (and cgroup parent, when
// given), with the moat-init this build made.
inline Result<std::unique_ptr<sandbox::SessionManager>> OpenWallManager(
    const std::string& run_dir, const std::string& cgroup_parent = "") {
  sandbox::ManagerOptions options;
  options.run_dir = run_dir;
  if (!cgroup_parent.empty()) options.cgroups.parent = cgroup_parent;
  options.init_path = MOAT_INIT_BIN;
  return sandbox::SessionManager::Open(options);
}

// The cgroup parent itself, in every hierarchy (rmdir: empty once the test's walls stopped).
inline void RemoveCgroupParent(const std::string& parent) {
  if (parent.empty()) return;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/fs/cgroup")) {
    ::rmdir((entry.path().string() + "/" + parent).c_str());
  }
  ::rmdir(("/sys/fs/cgroup/" + parent).c_str());
}

}  // namespace moat::agent::test
