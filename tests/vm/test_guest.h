// A guest image for the VM tests, built once per test binary by agent/vm/build-guest.sh into a
// private directory, and why the tests skip when none can be built here.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

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

}  // namespace moat::agent::test
