#include "db/audit.h"

#include <gtest/gtest.h>

#include "db/test_support.h"

namespace moat::broker::db {
namespace {

using AuditTest = testing::DbTest;

TEST_F(AuditTest, EventsCommitOrRollBackWithTheirTransaction) {
  std::int64_t admin = InsertUser("root", "admin");
  {
    auto tx = Transaction::Begin(*db_);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(RecordEvent(*db_, {.actor = Actor::User(admin), .kind = "host.drain"}, Now()));
  }  // rolled back
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events"), 0);
  auto tx = Transaction::Begin(*db_);
  ASSERT_TRUE(tx);
  ASSERT_TRUE(RecordEvent(*db_,
                          {.actor = Actor::User(admin),
                           .kind = "host.drain",
                           .old_value = "false",
                           .new_value = "true",
                           .detail = R"({"host":"h1"})"},
                          Now()));
  ASSERT_TRUE(tx->Commit());
  EXPECT_EQ(CountRows("SELECT count(*) FROM v_audit WHERE actor = 'root' AND kind = "
                      "'host.drain' AND old_value = 'false' AND new_value = 'true'"),
            1);
}

TEST_F(AuditTest, RefusesEventsWithoutKindOrWithBadDetail) {
  EXPECT_FALSE(RecordEvent(*db_, {.kind = ""}, Now()));
  EXPECT_FALSE(RecordEvent(*db_, {.kind = "x", .detail = "{"}, Now()));
  EXPECT_FALSE(RecordEvent(*db_, {.actor = Actor::User(4242), .kind = "x"}, Now()));
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events"), 0);
}

TEST_F(AuditTest, ListPagesNewestFirstAndFilters) {
  for (int i = 0; i < 10; ++i) {
    Advance(1);
    ASSERT_TRUE(RecordEvent(*db_, {.kind = i % 2 ? "odd" : "even"}, Now()));
  }
  auto page = ListEvents(*db_, {.limit = 3});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 3u);
  EXPECT_GT((*page)[0].id, (*page)[1].id);
  auto next = ListEvents(*db_, {.before_id = page->back().id, .limit = 100});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->size(), 7u);
  EXPECT_EQ(ListEvents(*db_, {.kind = "odd"})->size(), 5u);
  EXPECT_EQ(ListEvents(*db_, {.since = Now() - 1})->size(), 2u);
  EXPECT_FALSE(ListEvents(*db_, {.limit = 0}));
}

}  // namespace
}  // namespace moat::broker::db
