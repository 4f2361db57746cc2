#include "db/session_store.h"

#include <gtest/gtest.h>

#include "db/test_support.h"

namespace moat::broker::db {
namespace {

using enum SessionState;

class SessionStoreTest : public testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    user_ = InsertUser("alice");
    store_ = std::make_unique<SessionStore>(*db_, TestClock());
  }

  // A session driven into `state` by legal steps.
  std::string SessionIn(SessionState state) {
    auto session = store_->Create({.user_id = user_}, Actor::System());
    EXPECT_TRUE(session) << session.error().message();
    std::vector<SessionState> path;
    switch (state) {
      case kStarting:
        break;
      case kActive:
        path = {kActive};
        break;
      case kDisconnected:
        path = {kActive, kDisconnected};
        break;
      case kSuspended:
        path = {kActive, kSuspended};
        break;
      case kEnding:
        path = {kEnding};
        break;
      case kEnded:
        path = {kEnding, kEnded};
        break;
      case kFailed:
        path = {kFailed};
        break;
    }
    for (SessionState step : path) {
      auto moved = store_->Transition(session->id, step, Actor::System());
      EXPECT_TRUE(moved) << moved.error().message();
    }
    return session->id;
  }

  std::int64_t EventCount(const std::string& id) {
    return CountRows("SELECT count(*) FROM session_events WHERE session_id = '" + id + "'");
  }

  std::int64_t user_ = 0;
  std::unique_ptr<SessionStore> store_;
};

TEST_F(SessionStoreTest, CreateStartsInStartingWithAnEvent) {
  auto session = store_->Create(
      {.id = "s1", .user_id = user_, .backend = "vm", .limits = R"({"cpu_percent":50})"},
      Actor::User(user_));
  ASSERT_TRUE(session) << session.error().message();
  EXPECT_EQ(session->state, kStarting);
  EXPECT_EQ(session->backend, "vm");
  EXPECT_EQ(session->created_at, Now());
  auto events = ListEvents(*db_, {.session_id = "s1"});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, "session.create");
  EXPECT_EQ((*events)[0].new_value, "starting");
  EXPECT_EQ((*events)[0].actor, "alice");
}

TEST_F(SessionStoreTest, CreateRefusesBadInputAndChangesNothing) {
  EXPECT_FALSE(store_->Create({.user_id = user_, .backend = "docker"}, Actor::System()));
  EXPECT_FALSE(store_->Create({.user_id = user_, .limits = "[1]"}, Actor::System()));
  EXPECT_FALSE(store_->Create({.id = "bad id!", .user_id = user_}, Actor::System()));
  auto missing_user = store_->Create({.user_id = 9999}, Actor::System());
  ASSERT_FALSE(missing_user);
  EXPECT_EQ(missing_user.error().code(), std::errc::operation_not_permitted);
  ASSERT_TRUE(store_->Create({.id = "dup", .user_id = user_}, Actor::System()));
  EXPECT_FALSE(store_->Create({.id = "dup", .user_id = user_}, Actor::System()));
  EXPECT_EQ(CountRows("SELECT count(*) FROM sessions"), 1);
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events"), 1);
}

TEST_F(SessionStoreTest, EveryLegalTransitionUpdatesTheRowAndAddsOneEvent) {
  const std::pair<SessionState, SessionState> kLegal[] = {
      {kStarting, kActive},     {kStarting, kEnding},     {kStarting, kFailed},
      {kActive, kDisconnected}, {kActive, kSuspended},    {kActive, kEnding},
      {kActive, kFailed},       {kDisconnected, kActive}, {kDisconnected, kSuspended},
      {kDisconnected, kEnding}, {kDisconnected, kFailed}, {kSuspended, kActive},
      {kSuspended, kEnding},    {kSuspended, kFailed},    {kEnding, kEnded},
      {kEnding, kFailed},
  };
  for (auto [from, to] : kLegal) {
    SCOPED_TRACE(std::string(ToString(from)) + " -> " + std::string(ToString(to)));
    EXPECT_TRUE(IsTransitionAllowed(from, to));
    std::string id = SessionIn(from);
    std::int64_t events = EventCount(id);
    Advance(7);
    auto moved = store_->Transition(id, to, Actor::User(user_), R"({"reason":"test"})");
    ASSERT_TRUE(moved) << moved.error().message();
    EXPECT_EQ(moved->state, to);
    EXPECT_EQ(moved->updated_at, Now());
    EXPECT_EQ(moved->ended_at.has_value(), IsTerminal(to));
    if (to == kFailed) {
      EXPECT_EQ(moved->failure_reason, "test");
    }
    EXPECT_EQ(EventCount(id), events + 1);
    auto last = ListEvents(*db_, {.session_id = id, .limit = 1});
    ASSERT_TRUE(last);
    EXPECT_EQ((*last)[0].old_value, ToString(from));
    EXPECT_EQ((*last)[0].new_value, ToString(to));
    EXPECT_EQ((*last)[0].actor_id, user_);
  }
}

TEST_F(SessionStoreTest, IllegalTransitionsAreRefusedAndChangeNothing) {
  int illegal = 0;
  for (SessionState from : AllSessionStates()) {
    for (SessionState to : AllSessionStates()) {
      if (IsTransitionAllowed(from, to)) continue;
      SCOPED_TRACE(std::string(ToString(from)) + " -> " + std::string(ToString(to)));
      ++illegal;
      std::string id = SessionIn(from);
      auto before = store_->Get(id);
      ASSERT_TRUE(before);
      std::int64_t events = EventCount(id);
      Advance(3);
      auto moved = store_->Transition(id, to, Actor::System());
      ASSERT_FALSE(moved);
      EXPECT_EQ(moved.error().code(), std::errc::operation_not_permitted);
      EXPECT_NE(moved.error().message().find("cannot go from"), std::string::npos);
      auto after = store_->Get(id);
      ASSERT_TRUE(after);
      EXPECT_EQ(after->state, before->state);
      EXPECT_EQ(after->updated_at, before->updated_at);
      EXPECT_EQ(EventCount(id), events);
    }
  }
  EXPECT_EQ(illegal, 7 * 7 - 16);
}

TEST_F(SessionStoreTest, TransitionOfAnUnknownSessionOrWithBadDetailFails) {
  auto missing = store_->Transition("nope", kActive, Actor::System());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), std::errc::no_such_file_or_directory);
  std::string id = SessionIn(kStarting);
  EXPECT_FALSE(store_->Transition(id, kActive, Actor::System(), "not json"));
  EXPECT_EQ(store_->Get(id)->state, kStarting);
  EXPECT_EQ(EventCount(id), 1);
}

TEST_F(SessionStoreTest, ListFiltersAndPages) {
  std::int64_t bob = InsertUser("bob");
  ASSERT_TRUE(
      db_->Exec("INSERT INTO hosts (id, name, address, created_at) VALUES (7, 'h7', "
                "'a', 1)"));
  for (int i = 0; i < 5; ++i) {
    Advance(1);
    ASSERT_TRUE(store_->Create({.id = "a" + std::to_string(i), .user_id = user_}, Actor::System()));
  }
  Advance(1);
  ASSERT_TRUE(store_->Create({.id = "b0", .user_id = bob, .host_id = 7}, Actor::System()));
  ASSERT_TRUE(store_->Transition("a0", kActive, Actor::System()));
  ASSERT_TRUE(store_->Transition("a1", kFailed, Actor::System()));

  auto alice = store_->List({.user_id = user_});
  ASSERT_TRUE(alice);
  ASSERT_EQ(alice->size(), 5u);
  EXPECT_EQ(alice->front().id, "a4");  // newest first
  EXPECT_EQ(store_->List({.host_id = 7})->size(), 1u);
  EXPECT_EQ(store_->List({.state = kActive})->size(), 1u);
  EXPECT_EQ(store_->List({.user_id = user_, .live_only = true})->size(), 4u);
  auto page = store_->List({.user_id = user_, .limit = 2, .offset = 2});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, "a2");
  EXPECT_EQ(*store_->CountLive(user_), 4);
  EXPECT_FALSE(store_->List({.limit = 0}));
}

TEST_F(SessionStoreTest, SetLimitsIsAuditedWithOldAndNewValues) {
  std::string id = SessionIn(kActive);
  std::int64_t admin = InsertUser("root", "admin");
  auto updated = store_->SetLimits(id, R"({"cpu_percent": 25})", Actor::User(admin));
  ASSERT_TRUE(updated) << updated.error().message();
  EXPECT_EQ(updated->limits, R"({"cpu_percent":25})");
  auto events = ListEvents(*db_, {.session_id = id, .kind = "session.limits"});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].old_value, "{}");
  EXPECT_EQ((*events)[0].new_value, R"({"cpu_percent":25})");
  EXPECT_EQ((*events)[0].actor, "root");
  EXPECT_FALSE(store_->SetLimits(id, "nope", Actor::User(admin)));
  EXPECT_EQ(store_->Get(id)->limits, R"({"cpu_percent":25})");
}

TEST_F(SessionStoreTest, PlaceAndTouchInput) {
  std::string id = SessionIn(kStarting);
  EXPECT_FALSE(store_->Place(id, 42, Actor::System()));
  ASSERT_TRUE(
      db_->Exec("INSERT INTO hosts (id, name, address, created_at) VALUES (42, 'h', "
                "'a', 1)"));
  auto placed = store_->Place(id, 42, Actor::System());
  ASSERT_TRUE(placed) << placed.error().message();
  EXPECT_EQ(placed->host_id, 42);
  ASSERT_TRUE(store_->TouchInput(id, Now() + 5));
  ASSERT_TRUE(store_->TouchInput(id, Now() + 1));  // never moves back
  EXPECT_EQ(store_->Get(id)->last_input_at, Now() + 5);
  EXPECT_FALSE(store_->TouchInput("nope", Now()));
}

}  // namespace
}  // namespace moat::broker::db
