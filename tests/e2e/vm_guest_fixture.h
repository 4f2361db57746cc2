// What the VM e2e tests share: a guest image built once per test program (QEMU boots it for
// every VM session of the broker's local agent, found through MOAT_VM_GUEST), and ways to see
// a VM session from the host (its QEMU process, the xterm in its desktop).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "moat/common/testing/rfb_test_client.h"

namespace moat::e2e {

// The pid of the QEMU that runs the VM of `session` (it runs as -name moat-ID), 0 if none.
pid_t QemuPidFor(const std::string& session);

inline size_t WhitePixels(const test::Framebuffer& frame) {
  return static_cast<size_t>(
      std::count(frame.pixels.begin(), frame.pixels.end(), uint32_t{0xFFFFFF}));
}

// Builds the guest into a scratch directory once per test program and points the broker's
// local agent at it; every test skips, with the reason, when this host cannot boot a guest.
class VmGuestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  static inline std::string skip_reason_, guest_dir_;
};

#define SKIP_WITHOUT_VM_GUEST()                              \
  do {                                                       \
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_; \
  } while (0)

}  // namespace moat::e2e
