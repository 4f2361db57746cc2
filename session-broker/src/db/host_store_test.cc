#include "db/host_store.h"

#include <gtest/gtest.h>

#include "db/session_store.h"
#include "db/test_support.h"

namespace moat::broker::db {
namespace {

class HostStoreTest : public testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    admin_ = Actor::User(InsertUser("root", "admin"));
    store_ = std::make_unique<HostStore>(*db_, TestClock());
  }
  Actor admin_;
  std::unique_ptr<HostStore> store_;
};

TEST_F(HostStoreTest, AddRefusesDuplicatesAndBadInput) {
  auto host = store_->Add({.name = "host-a", .address = "10.0.0.5", .capacity = 4}, admin_);
  ASSERT_TRUE(host) << host.error().message();
  EXPECT_EQ(host->state, "unknown");
  EXPECT_TRUE(host->enabled);
  EXPECT_FALSE(store_->Add({.name = "host-a", .address = "10.0.0.6"}, admin_));
  EXPECT_FALSE(store_->Add({.name = "", .address = "x"}, admin_));
  EXPECT_FALSE(store_->Add({.name = "b", .address = "x", .capacity = -1}, admin_));
  EXPECT_EQ(CountRows("SELECT count(*) FROM hosts"), 1);
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events WHERE kind = 'host.add'"), 1);
}

TEST_F(HostStoreTest, AdminSwitchesAreAudited) {
  ASSERT_TRUE(store_->Add({.name = "host-a", .address = "a", .capacity = 4}, admin_));
  auto drained = store_->SetDrained("host-a", true, admin_);
  ASSERT_TRUE(drained);
  EXPECT_TRUE(drained->drained);
  ASSERT_TRUE(store_->SetCapacity("host-a", 8, admin_));
  EXPECT_FALSE(store_->SetCapacity("host-a", -2, admin_));
  EXPECT_FALSE(store_->SetEnabled("nope", false, admin_));
  auto events = ListEvents(*db_, {.limit = 2});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].kind, "host.capacity");
  EXPECT_EQ((*events)[0].old_value, "4");
  EXPECT_EQ((*events)[0].new_value, "8");
  EXPECT_EQ((*events)[1].kind, "host.drained");
  EXPECT_EQ((*events)[1].old_value, "0");
  EXPECT_EQ((*events)[1].actor, "root");
}

TEST_F(HostStoreTest, HeartbeatsRecordStateChangesOnce) {
  auto host = store_->Add({.name = "host-a", .address = "a", .capacity = 1}, admin_);
  ASSERT_TRUE(host);
  ASSERT_TRUE(store_->Heartbeat(host->id, "online"));
  Advance(1);
  ASSERT_TRUE(store_->Heartbeat(host->id, "online"));
  EXPECT_FALSE(store_->Heartbeat(host->id, "sleepy"));
  EXPECT_FALSE(store_->Heartbeat(999, "online"));
  EXPECT_EQ(store_->Get("host-a")->last_seen, Now());
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events WHERE kind = 'host.state'"), 1);
}

TEST_F(HostStoreTest, PlacementPicksTheOnlineHostWithMostFreeSlots) {
  auto a = store_->Add({.name = "a", .address = "a", .capacity = 2}, admin_);
  auto b = store_->Add({.name = "b", .address = "b", .capacity = 3}, admin_);
  auto c = store_->Add({.name = "c", .address = "c", .capacity = 9}, admin_);
  ASSERT_TRUE(a && b && c);
  std::vector<std::int64_t> all = {a->id, b->id, c->id};
  EXPECT_EQ(*store_->PickForPlacement({}), std::nullopt);  // no agent linked yet
  // Linked, its hello not handled yet (the state column still says so): it takes sessions.
  EXPECT_EQ((*store_->PickForPlacement(all))->name, "c");
  ASSERT_TRUE(store_->Heartbeat(a->id, "online"));
  ASSERT_TRUE(store_->Heartbeat(b->id, "online"));
  ASSERT_TRUE(store_->Heartbeat(c->id, "online"));
  ASSERT_TRUE(store_->SetDrained("c", true, admin_));
  EXPECT_EQ((*store_->PickForPlacement(all))->name, "b");
  SessionStore sessions(*db_, TestClock());
  std::int64_t user = InsertUser("alice");
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(sessions.Create({.user_id = user, .host_id = b->id}, Actor::System()));
  }
  EXPECT_EQ((*store_->PickForPlacement(all))->name, "a");
}

// The database may call a host online whose agent has just gone: the next best host with a
// linked agent takes the session, and none at all is "no host".
TEST_F(HostStoreTest, PlacementSkipsHostsWhoseAgentIsNotConnected) {
  auto a = store_->Add({.name = "a", .address = "a", .capacity = 10}, admin_);
  auto b = store_->Add({.name = "b", .address = "b", .capacity = 2}, admin_);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(store_->Heartbeat(a->id, "online"));
  ASSERT_TRUE(store_->Heartbeat(b->id, "online"));
  std::vector<std::int64_t> both = {a->id, b->id}, only_b = {b->id};
  EXPECT_EQ((*store_->PickForPlacement(both))->name, "a");
  EXPECT_EQ((*store_->PickForPlacement(only_b))->name, "b");
  EXPECT_EQ(*store_->PickForPlacement({}), std::nullopt);
}

// After a broker restart no agent is linked yet: what the database still calls online is
// offline (with its event) until its agent says hello; other states stay as they are.
TEST_F(HostStoreTest, StartUpTakesOnlineHostsOffline) {
  auto a = store_->Add({.name = "a", .address = "a", .capacity = 1}, admin_);
  auto b = store_->Add({.name = "b", .address = "b", .capacity = 1}, admin_);
  auto c = store_->Add({.name = "c", .address = "c", .capacity = 1}, admin_);
  ASSERT_TRUE(a && b && c);
  ASSERT_TRUE(store_->Heartbeat(a->id, "online"));
  ASSERT_TRUE(store_->Heartbeat(b->id, "offline"));
  std::int64_t events = CountRows("SELECT count(*) FROM session_events WHERE kind = 'host.state'");
  auto changed = store_->MarkOnlineHostsOffline();
  ASSERT_TRUE(changed) << changed.error().message();
  EXPECT_EQ(*changed, 1);
  EXPECT_EQ(store_->Get("a")->state, "offline");
  EXPECT_EQ(store_->Get("b")->state, "offline");
  EXPECT_EQ(store_->Get("c")->state, "unknown");
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events WHERE kind = 'host.state'"), events + 1);
  EXPECT_EQ(*store_->MarkOnlineHostsOffline(), 0);
}

}  // namespace
}  // namespace moat::broker::db
