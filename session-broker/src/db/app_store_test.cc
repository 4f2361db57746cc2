#include "db/app_store.h"

#include <gtest/gtest.h>

#include "db/session_store.h"
#include "db/test_support.h"

namespace moat::broker::db {
namespace {

class AppStoreTest : public testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    user_ = InsertUser("alice");
    SessionStore sessions(*db_, TestClock());
    ASSERT_TRUE(sessions.Create({.id = "s1", .user_id = user_}, Actor::System()));
    store_ = std::make_unique<AppStore>(*db_, TestClock());
  }
  std::int64_t user_ = 0;
  std::unique_ptr<AppStore> store_;
};

TEST_F(AppStoreTest, StartAndEndAreRecordedWithEvents) {
  auto app = store_->Start({.session_id = "s1",
                            .name = "xterm",
                            .argv = R"(["xterm", "-fa", "Mono"])",
                            .pid = 42,
                            .cgroup = "app-1"},
                           Actor::User(user_));
  ASSERT_TRUE(app) << app.error().message();
  EXPECT_EQ(store_->List("s1", true)->size(), 1u);
  Advance(30);
  auto ended = store_->End(app->id, 0);
  ASSERT_TRUE(ended) << ended.error().message();
  EXPECT_EQ(ended->ended_at, Now());
  EXPECT_EQ(ended->exit_code, 0);
  EXPECT_FALSE(store_->End(app->id, 1));  // twice
  EXPECT_EQ(store_->Get(app->id)->exit_code, 0);
  EXPECT_EQ(store_->List("s1", true)->size(), 0u);
  EXPECT_EQ(store_->List("s1")->size(), 1u);
  EXPECT_EQ(CountRows("SELECT count(*) FROM v_audit WHERE session_id = 's1' AND kind LIKE "
                      "'app.%'"),
            2);
}

TEST_F(AppStoreTest, BadInputChangesNothing) {
  EXPECT_FALSE(store_->Start({.session_id = "s1", .name = ""}, Actor::System()));
  EXPECT_FALSE(store_->Start({.session_id = "s1", .name = "x", .argv = "[1]"}, Actor::System()));
  EXPECT_FALSE(store_->Start({.session_id = "nope", .name = "x"}, Actor::System()));
  EXPECT_FALSE(store_->End(99, 0));
  EXPECT_EQ(CountRows("SELECT count(*) FROM apps"), 0);
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events WHERE kind LIKE 'app.%'"), 0);
}

}  // namespace
}  // namespace moat::broker::db
