#include "id_map.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

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
  EXPECT_EQ(rmdir(dir), 0);
}

}  // namespace
}  // namespace moat::sandbox
