// Ops read the live file with `sqlite3 -readonly` while the broker writes: WAL lets them.
#include <gtest/gtest.h>

#include "db/session_store.h"
#include "db/test_support.h"
#include "db/usage_store.h"

namespace moat::broker::db {
namespace {

constexpr const char* kViews[] = {"v_users", "v_sessions", "v_session_usage_minute", "v_audit",
                                  "v_hosts_load"};

class ReadOnlyTest : public testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    std::int64_t user = InsertUser("alice");
    ASSERT_TRUE(
        db_->Exec("INSERT INTO hosts (id, name, address, capacity, created_at) "
                  "VALUES (1, 'host-a', '10.0.0.5', 4, 1)"));
    SessionStore sessions(*db_, TestClock());
    ASSERT_TRUE(sessions.Create({.id = "s1", .user_id = user, .host_id = 1}, Actor::System()));
    ASSERT_TRUE(sessions.Transition("s1", SessionState::kActive, Actor::User(user)));
    UsageStore usage(*db_, TestClock());
    std::int64_t minute = Now() / 60 * 60;
    ASSERT_TRUE(usage.Insert(std::vector<UsageSample>{
        {.session_id = "s1", .at = minute, .cpu_percent = 5, .memory_current = 10},
        {.session_id = "s1", .at = minute + 1, .cpu_percent = 7, .memory_current = 20}}));
    *now_ = minute + 60;
    ASSERT_TRUE(usage.RollUp());
  }
};

TEST_F(ReadOnlyTest, AReaderQueriesEveryViewWhileAWriterHoldsTheLock) {
  // The writer holds the write lock with an uncommitted row.
  auto tx = Transaction::Begin(*db_);
  ASSERT_TRUE(tx);
  ASSERT_TRUE(db_->Exec("INSERT INTO hosts (name, address, created_at) VALUES ('host-b', 'x', 1)"));

  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open_v2(DbPath().c_str(), &reader, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto count = [&](const std::string& sql) -> std::int64_t {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(reader, sql.c_str(), -1, &stmt, nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << sqlite3_errmsg(reader);
    rc = sqlite3_step(stmt);
    EXPECT_EQ(rc, SQLITE_ROW) << sql << ": " << sqlite3_errmsg(reader);
    std::int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return value;
  };
  for (const char* view : kViews) {
    EXPECT_GE(count(std::string("SELECT count(*) FROM ") + view), 1) << view;
  }
  EXPECT_EQ(count("SELECT count(*) FROM v_sessions WHERE id = 's1' AND user_name = 'alice' "
                  "AND host_name = 'host-a' AND state_label = 'Active' AND live = 1"),
            1);
  EXPECT_EQ(count("SELECT live_sessions FROM v_hosts_load WHERE name = 'host-a'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM v_hosts_load"), 1);  // the uncommitted host is unseen
  EXPECT_EQ(count("SELECT samples FROM v_session_usage_minute WHERE session_id = 's1'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM v_audit WHERE session_id = 's1' AND kind = "
                  "'session.state' AND actor = 'alice' AND old_value = 'starting'"),
            1);
  EXPECT_NE(sqlite3_exec(reader, "DELETE FROM sessions", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(reader);

  // The wrapper's read-only mode behaves the same and checks the schema version.
  auto read_only = Database::Open(DbPath(), {.read_only = true});
  ASSERT_TRUE(read_only) << read_only.error().message();
  EXPECT_EQ(*read_only->QueryInt("SELECT count(*) FROM v_sessions"), 1);
  EXPECT_FALSE(read_only->Exec("UPDATE sessions SET state = 'ended'"));
  ASSERT_TRUE(tx->Commit());
  EXPECT_EQ(*read_only->QueryInt("SELECT count(*) FROM v_hosts_load"), 2);
}

}  // namespace
}  // namespace moat::broker::db
