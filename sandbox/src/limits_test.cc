// Needs root: a real loop device with a real partition table.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "moat/sandbox/session_spec.h"

namespace moat::sandbox {
namespace {

std::string Shell(const std::string& command) {
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[256];
    while (std::fgets(buffer, sizeof(buffer), pipe)) out += buffer;
    ::pclose(pipe);
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// The kernel throttles whole disks: a partition is refused up front, with the reason.
TEST(ResolveBlockDevice, APartitionIsRefusedAndItsDiskTaken) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a loop device";
  char image[] = "/tmp/moat-disk-XXXXXX";
  int fd = ::mkstemp(image);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 8 << 20), 0);
  // An MBR with one Linux partition from sector 2048 to the end.
  unsigned char mbr[512] = {};
  unsigned char* entry = mbr + 0x1BE;
  entry[4] = 0x83;
  const uint32_t start = 2048, sectors = (8 << 20) / 512 - 2048;
  for (int i = 0; i < 4; ++i) {
    entry[8 + i] = static_cast<unsigned char>(start >> (8 * i));
    entry[12 + i] = static_cast<unsigned char>(sectors >> (8 * i));
  }
  mbr[510] = 0x55;
  mbr[511] = 0xAA;
  ASSERT_EQ(::pwrite(fd, mbr, sizeof(mbr), 0), static_cast<ssize_t>(sizeof(mbr)));
  ::close(fd);
  std::string disk = Shell(std::string("losetup -P -f --show ") + image);
  ASSERT_EQ(disk.rfind("/dev/loop", 0), 0u) << disk;
  // By MAJ:MIN from sysfs: the /dev node of a partition needs udev or devtmpfs to appear.
  std::string name = disk.substr(disk.rfind('/') + 1) + "p1";
  std::string partition;
  for (int i = 0; i < 100 && partition.empty(); ++i) {
    partition = Shell("cat /sys/class/block/" + name + "/dev 2>/dev/null");
    if (partition.empty()) ::usleep(20000);
  }
  if (partition.empty()) {
    Shell("losetup -d " + disk);
    ::unlink(image);
    // This project's build VMs run a kernel without partition support (MSDOS_PARTITION):
    // there, no partition can exist to be given.
    GTEST_SKIP() << "this kernel reads no partition table (" << disk << " has no p1)";
  }

  auto whole = ResolveBlockDevice(disk);
  EXPECT_TRUE(whole) << whole.error().message();
  auto part = ResolveBlockDevice(partition);
  ASSERT_FALSE(part) << partition << " was taken";
  EXPECT_NE(part.error().message().find("is a partition"), std::string::npos)
      << part.error().message();

  Shell("losetup -d " + disk);
  ::unlink(image);
}

}  // namespace
}  // namespace moat::sandbox
