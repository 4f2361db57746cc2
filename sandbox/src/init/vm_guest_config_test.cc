#include "vm_guest_config.h"

#include <gtest/gtest.h>

#include "moat/common/vm_guest_home.h"

namespace moat::sandbox::init {
namespace {

const std::string kSession =
    "console=ttyS0 quiet moat.id=s1 moat.user=alice moat.uid=1001 moat.gid=1001 "
    "moat.groups=1001,27 moat.shell=/bin/bash";

TEST(VmGuestConfig, ReadsTheSessionFromTheKernelCommandLine) {
  auto guest = VmGuestConfigFromCmdline(kSession + " moat.home=/home/alice moat.ports=4");
  ASSERT_TRUE(guest) << guest.error().message();
  EXPECT_EQ(guest->config.id, "s1");
  EXPECT_EQ(guest->config.hostname, "moat-s1");
  EXPECT_EQ(guest->config.user.name, "alice");
  EXPECT_EQ(guest->config.user.uid, 1001u);
  EXPECT_EQ(guest->config.user.home, "/home/alice");
  EXPECT_EQ(guest->config.user.shell, "/bin/bash");
  EXPECT_EQ(guest->groups, (std::vector<gid_t>{1001, 27}));
  EXPECT_EQ(guest->seccomp_profile, "default");
  EXPECT_EQ(guest->named_ports, 4u);
}

TEST(VmGuestConfig, OneNamedPortWithoutMoatPorts) {
  auto guest = VmGuestConfigFromCmdline(kSession + " moat.home=/home/alice");
  ASSERT_TRUE(guest) << guest.error().message();
  EXPECT_EQ(guest->named_ports, 1u);
}

// The home's export is mounted read-write at that path in the guest: "/" would cover the
// read-only root, a relative path or ".." would land in the initramfs or elsewhere.
TEST(VmGuestConfig, RefusesHomesTheGuestCannotMountSafely) {
  for (const char* home :
       {"/", "home/alice", "/home/../etc", "/home/./alice", "/..", "/home/alice/.."}) {
    auto guest = VmGuestConfigFromCmdline(kSession + " moat.home=" + home);
    EXPECT_FALSE(guest) << home;
    if (!guest) {
      EXPECT_NE(guest.error().message().find("moat.home"), std::string::npos) << home;
    }
  }
  EXPECT_TRUE(IsVmGuestHome("/home/alice"));
  EXPECT_TRUE(IsVmGuestHome("/home/.users/alice"));
  EXPECT_TRUE(IsVmGuestHome("/var/lib/alice/"));
}

TEST(VmGuestConfig, RefusesBadPortCountsAndRoot) {
  for (const char* ports : {"0", "9", "x", "-1", ""}) {
    EXPECT_FALSE(VmGuestConfigFromCmdline(kSession + " moat.home=/h moat.ports=" + ports)) << ports;
  }
  std::string root = "moat.id=s1 moat.user=root moat.uid=0 moat.gid=0 moat.home=/root";
  EXPECT_FALSE(VmGuestConfigFromCmdline(root));
  EXPECT_FALSE(VmGuestConfigFromCmdline("moat.user=alice moat.uid=1 moat.gid=1 moat.home=/h"));
}

}  // namespace
}  // namespace moat::sandbox::init
