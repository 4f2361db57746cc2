#include "db/database.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <thread>

#include "db/migrations.h"
#include "db/test_support.h"

namespace moat::broker::db {
namespace {

using testing::DbTest;
using testing::TempDir;

TEST(Database, MigratesAnEmptyFileToTheLatestVersion) {
  TempDir dir;
  auto path = dir.path() / "a" / "b" / "moat.db";
  auto db = Database::Open(path);
  ASSERT_TRUE(db) << db.error().message();
  EXPECT_EQ(*db->QueryInt("PRAGMA user_version"), LatestSchemaVersion());
  EXPECT_EQ(*db->QueryInt("PRAGMA foreign_keys"), 1);
  auto mode = db->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode);
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->Text(0), "wal");
  EXPECT_EQ(*db->QueryInt("PRAGMA synchronous"), 1);  // NORMAL
  for (const char* table :
       {"users", "auth_tokens", "login_failures", "hosts", "sessions", "session_events", "apps",
        "usage_samples", "usage_minutes", "policies"}) {
    auto stmt = db->Prepare("SELECT strict FROM pragma_table_list WHERE name = ?");
    ASSERT_TRUE(stmt);
    ASSERT_TRUE(stmt->BindAll(table));
    ASSERT_TRUE(*stmt->Step()) << table;
    EXPECT_EQ(stmt->Int(0), 1) << table << " is not STRICT";
  }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST(Database, ReopenIsIdempotent) {
  TempDir dir;
  auto path = dir.path() / "moat.db";
  {
    auto db = Database::Open(path);
    ASSERT_TRUE(db) << db.error().message();
    ASSERT_TRUE(db->Exec("INSERT INTO hosts (name, address, created_at) VALUES ('h', 'x', 1)"));
  }
  for (int i = 0; i < 2; ++i) {
    auto db = Database::Open(path);
    ASSERT_TRUE(db) << db.error().message();
    EXPECT_EQ(*db->QueryInt("PRAGMA user_version"), LatestSchemaVersion());
    EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM hosts"), 1);
  }
}

TEST(Database, RefusesAFileFromNewerCode) {
  TempDir dir;
  auto path = dir.path() / "moat.db";
  {
    auto db = Database::Open(path);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->Exec("PRAGMA user_version = " + std::to_string(LatestSchemaVersion() + 1)));
  }
  auto db = Database::Open(path);
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message().find("newer moat-broker"), std::string::npos)
      << db.error().message();
  auto read_only = Database::Open(path, {.read_only = true});
  ASSERT_FALSE(read_only);
  // Nothing was changed by the refusal.
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(handle, "PRAGMA user_version", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(stmt, 0), LatestSchemaVersion() + 1);
  sqlite3_finalize(stmt);
  sqlite3_close(handle);
}

TEST(Database, ErrorsNameTheCallAndSqliteText) {
  TempDir dir;
  auto db = Database::Open(dir.path() / "moat.db");
  ASSERT_TRUE(db);
  auto stmt = db->Prepare("SELECT x FROM nowhere");
  ASSERT_FALSE(stmt);
  EXPECT_NE(stmt.error().message().find("sqlite3_prepare_v3"), std::string::npos);
  EXPECT_NE(stmt.error().message().find("no such table: nowhere"), std::string::npos)
      << stmt.error().message();
  EXPECT_EQ(stmt.error().code().category(), SqliteCategory());
}

TEST(Database, OpenFailsClearlyWhenTheDirectoryCannotBeMade) {
  TempDir dir;
  auto file = dir.path() / "file";
  ASSERT_TRUE(Database::Open(file));
  auto db = Database::Open(file / "sub" / "moat.db");
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message().find("create directory"), std::string::npos)
      << db.error().message();
}

TEST(Database, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  auto path = dir.path() / "moat.db";
  {
    std::FILE* file = std::fopen(path.c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fputs("this is not an SQLite file, and it is long enough to have a header to read\n",
               file);
    std::fclose(file);
  }
  auto db = Database::Open(path);
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message().find("file is not a database"), std::string::npos)
      << db.error().message();
  EXPECT_NE(db.error().message().find(path.string()), std::string::npos) << db.error().message();
}

TEST(Transaction, RollsBackUnlessCommitted) {
  TempDir dir;
  auto db = Database::Open(dir.path() / "moat.db");
  ASSERT_TRUE(db);
  {
    auto tx = Transaction::Begin(*db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db->Exec("INSERT INTO hosts (name, address, created_at) VALUES ('h', 'x', 1)"));
  }
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM hosts"), 0);
  {
    auto tx = Transaction::Begin(*db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db->Exec("INSERT INTO hosts (name, address, created_at) VALUES ('h', 'x', 1)"));
    ASSERT_TRUE(tx->Commit());
  }
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM hosts"), 1);
}

TEST(Transaction, ConcurrentWritersWaitUnderBusyTimeoutAndKeepTheFileIntact) {
  TempDir dir;
  auto path = dir.path() / "moat.db";
  ASSERT_TRUE(Database::Open(path));
  constexpr int kRows = 200;
  auto writer = [&](const std::string& prefix, bool* ok) {
    auto db = Database::Open(path, {.busy_timeout_ms = 10000});
    if (!db) return;
    for (int i = 0; i < kRows; ++i) {
      auto tx = Transaction::Begin(*db);
      if (!tx) return;
      auto stmt = db->Prepare("INSERT INTO hosts (name, address, created_at) VALUES (?, 'a', 1)");
      if (!stmt || !stmt->BindAll(prefix + std::to_string(i)) || !stmt->Run()) return;
      if (!tx->Commit()) return;
    }
    *ok = true;
  };
  bool ok_a = false;
  bool ok_b = false;
  std::thread a(writer, "a", &ok_a);
  std::thread b(writer, "b", &ok_b);
  a.join();
  b.join();
  EXPECT_TRUE(ok_a);
  EXPECT_TRUE(ok_b);
  auto db = Database::Open(path);
  ASSERT_TRUE(db);
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM hosts"), 2 * kRows);
  auto check = db->Prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check);
  ASSERT_TRUE(*check->Step());
  EXPECT_EQ(check->Text(0), "ok");
}

TEST_F(DbTest, StrictTablesRefuseWrongTypesAndBadJson) {
  EXPECT_FALSE(
      db_->Exec("INSERT INTO hosts (name, address, capacity, created_at) "
                "VALUES ('h', 'x', 'lots', 1)"));
  std::int64_t user = InsertUser("alice");
  EXPECT_FALSE(
      db_->Exec("INSERT INTO sessions (id, user_id, backend, state, limits, created_at, "
                "updated_at) VALUES ('s', " +
                std::to_string(user) + ", 'sandbox', 'starting', '{bad', 1, 1)"));
  EXPECT_FALSE(
      db_->Exec("INSERT INTO sessions (id, user_id, backend, state, created_at, "
                "updated_at) VALUES ('s', 9999, 'sandbox', 'starting', 1, 1)"));
  EXPECT_EQ(CountRows("SELECT count(*) FROM sessions"), 0);
}

}  // namespace
}  // namespace moat::broker::db
