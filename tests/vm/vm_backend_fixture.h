// The VM backend's test fixture: a guest image built once per test binary, a run directory,
// a cgroup parent and a SessionManager of the test's own. Shared by vm_backend_test.cc and
// vm_backend_limits_test.cc.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "test_guest.h"
#include "test_support.h"
#include "vm_backend.h"

namespace moat::agent {

using moat::test::EnsureUser;
using moat::test::Exists;

constexpr const char* kUser = "moat-vm-test";

inline bool WaitFor(const std::function<bool()>& predicate, int timeout_s = 20) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return predicate();
}

// The first of `names` in the group `group` under `parent`, in any hierarchy (v2 or a v1
// controller); "" if none.
inline std::string CgroupFile(const std::string& parent, const std::string& group,
                              const std::vector<std::string>& names) {
  std::vector<std::string> roots = {"/sys/fs/cgroup"};
  for (const auto& entry : std::filesystem::directory_iterator("/sys/fs/cgroup")) {
    roots.push_back(entry.path().string());
  }
  for (const auto& name : names) {
    for (const auto& root : roots) {
      std::string path = root + "/" + parent + "/" + group + "/" + name;
      if (Exists(path)) return path;
    }
  }
  return "";
}

class VmBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    test::TestGuest guest = test::TestGuest::Build("moat-vm-backend-guest");
    guest_dir_ = guest.dir;
    skip_reason_ = guest.skip_reason;
    if (!skip_reason_.empty()) return;
    ASSERT_TRUE(guest.failure.empty()) << guest.failure;
    EnsureUser(kUser);
  }
  static void TearDownTestSuite() {
    if (!guest_dir_.empty()) std::filesystem::remove_all(guest_dir_);
  }

  void SetUp() override {
    run_dir_ = "/run/moat-vm-backend-test-" + std::to_string(::getpid());
    std::filesystem::create_directories(run_dir_);
    ::chmod(run_dir_.c_str(), 0755);
    sandbox::CgroupOptions options;
    options.parent = "moat-vm-backend-test-" + std::to_string(::getpid());
    auto cgroups = sandbox::CgroupDriver::Detect(options);
    ASSERT_TRUE(cgroups) << cgroups.error().message();
    cgroups_ = std::move(*cgroups);
    parent_ = options.parent;
    auto opened = test::OpenWallManager(run_dir_, parent_);
    ASSERT_TRUE(opened) << opened.error().message();
    manager_ = std::move(*opened);
  }
  void TearDown() override {
    if (!run_dir_.empty()) std::filesystem::remove_all(run_dir_);
    test::RemoveCgroupParent(parent_);
  }

  Result<std::unique_ptr<VmBackend>> Open() {
    VmBackendOptions options;
    options.run_dir = run_dir_;
    options.guest_dir = guest_dir_;
    return VmBackend::Open(options, *manager_);
  }

  static inline std::string skip_reason_;
  static inline std::string guest_dir_;
  std::string run_dir_, parent_;
  std::unique_ptr<sandbox::CgroupDriver> cgroups_;
  std::unique_ptr<sandbox::SessionManager> manager_;
};

}  // namespace moat::agent
