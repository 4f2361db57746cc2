#include "id_map.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace moat::sandbox {
namespace {

TEST(IdMap, KeepsTheUsersOwnIdAndShiftsTheRest) {
  EXPECT_EQ(FormatIdMap(1000, 0x40000000u),
            "0 1073741824 1000\n1000 1000 1\n1001 1073742825 64535\n");
}

TEST(IdMap, HandlesAnIdAboveTheRange) {
  EXPECT_EQ(FormatIdMap(70000, 0x40000000u), "0 1073741824 65536\n70000 70000 1\n");
}

TEST(IdMap, HandlesIdOneAndTheLastIdOfTheRange) {
  EXPECT_EQ(FormatIdMap(1, 100), "0 100 1\n1 1 1\n2 102 65534\n");
  EXPECT_EQ(FormatIdMap(65535, 100), "0 100 65535\n65535 65535 1\n");
}

// The user's group and a device's group (kvm) both map to themselves, in any order.
TEST(IdMap, KeepsSeveralIds) {
  EXPECT_EQ(FormatIdMap(std::vector<uint32_t>{1000, 104, 1000, 70000}, 100),
            "0 100 104\n104 104 1\n105 205 895\n1000 1000 1\n1001 1101 64535\n70000 70000 1\n");
}

TEST(IdMap, SlotsDoNotOverlap) {
  EXPECT_EQ(HostIdBase(1) - HostIdBase(0), kIdRangeSize);
  EXPECT_LE(static_cast<uint64_t>(HostIdBase(kIdSlotCount - 1)) + kIdRangeSize, 0xFFFFFFFEull);
}

TEST(IdSlotLease, ConcurrentLeasesGetDistinctSlotsAndReleaseFreesThem) {
  char dir[] = "/tmp/moat-idslots-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  auto a = AcquireIdSlot(dir, "a");
  auto b = AcquireIdSlot(dir, "b");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->slot(), b->slot());
  uint32_t freed = a->slot();
  a->Release();
  auto c = AcquireIdSlot(dir, "c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->slot(), freed);
  b->Release();
  c->Release();
  unlink((std::string(dir) + "/.lock").c_str());
  EXPECT_EQ(rmdir(dir), 0);
}

// The CLI and the agent may both end one session: the second release must not free the slot
// a newer session has taken since.
TEST(IdSlotLease, ReleaseFreesOnlyTheOwnersSlot) {
  char dir[] = "/tmp/moat-idslots-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  auto first = AcquireIdSlot(dir, "/run/moat/sessions/first");
  ASSERT_TRUE(first);
  const uint32_t slot = first->slot();
  first->Persist();
  ReleaseIdSlot(dir, slot, "/run/moat/sessions/first");
  auto second = AcquireIdSlot(dir, "/run/moat/sessions/second");
  ASSERT_TRUE(second);
  ASSERT_EQ(second->slot(), slot);
  second->Persist();
  ReleaseIdSlot(dir, slot, "/run/moat/sessions/first");  // late, from the first's other end
  auto third = AcquireIdSlot(dir, "/run/moat/sessions/third");
  ASSERT_TRUE(third);
  EXPECT_NE(third->slot(), slot) << "the second session's slot was freed by the first's owner";
  third->Release();
  ReleaseIdSlot(dir, slot, "/run/moat/sessions/second");
  unlink((std::string(dir) + "/.lock").c_str());
  EXPECT_EQ(rmdir(dir), 0);
}

// A lease left by a session whose run directory was removed under it, or whose maker was
// killed mid-create: its slot is taken again only when nothing of that session can be left,
// i.e. its run directory entry and all its cgroup directories are gone.
TEST(IdSlotLease, AStaleLeaseIsTakenAgainOnlyWhenItsSessionIsCertainlyGone) {
  char dir[] = "/tmp/moat-idslots-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  char scratch[] = "/tmp/moat-idslot-owner-XXXXXX";
  ASSERT_NE(mkdtemp(scratch), nullptr);
  const std::string owner = std::string(scratch) + "/sessions/s1";
  const std::string cgroup = std::string(scratch) + "/cgroup/s1";
  auto plant = [&](const std::string& text) {
    FILE* file = std::fopen((std::string(dir) + "/0").c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fputs(text.c_str(), file);
    std::fclose(file);
  };
  auto first_slot = [&] {
    auto lease = AcquireIdSlot(dir, "/run/moat/sessions/new", {"/nonexistent/cgroup/new"});
    EXPECT_TRUE(lease);
    uint32_t slot = lease ? lease->slot() : 99;
    return slot;  // the lease object releases its slot again
  };
  // Its run directory entry is there: live.
  ASSERT_EQ(system(("mkdir -p " + owner + " " + cgroup).c_str()), 0);
  plant(owner + "\n" + cgroup + "\n");
  EXPECT_EQ(first_slot(), 1u);
  // Entry gone, cgroup still there (a process may live in it): live.
  ASSERT_EQ(rmdir(owner.c_str()), 0);
  EXPECT_EQ(first_slot(), 1u);
  // A lease of an older Moat names no cgroup: never taken.
  plant(owner + "\n");
  EXPECT_EQ(first_slot(), 1u);
  // Entry and cgroup gone: the slot is free again, and the new lease is the new owner's.
  plant(owner + "\n" + cgroup + "\n");
  ASSERT_EQ(rmdir(cgroup.c_str()), 0);
  auto taken = AcquireIdSlot(dir, "/run/moat/sessions/new", {"/nonexistent/cgroup/new"});
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->slot(), 0u);
  std::string text;
  if (FILE* file = std::fopen((std::string(dir) + "/0").c_str(), "r")) {
    char buffer[256] = {};
    text.assign(buffer, std::fread(buffer, 1, sizeof(buffer) - 1, file));
    std::fclose(file);
  }
  EXPECT_EQ(text, "/run/moat/sessions/new\n/nonexistent/cgroup/new\n");
  taken->Release();
  unlink((std::string(dir) + "/.lock").c_str());
  EXPECT_EQ(rmdir(dir), 0);
  ASSERT_EQ(system(("rm -rf " + std::string(scratch)).c_str()), 0);
}

}  // namespace
}  // namespace moat::sandbox
