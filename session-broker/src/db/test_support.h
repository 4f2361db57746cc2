// Test helpers: a real SQLite file in a fresh temporary directory, and a clock tests can move.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "db/audit.h"
#include "db/clock.h"
#include "db/database.h"
#include "moat/common/testing/temp_dir.h"

namespace moat::broker::db::testing {

using TempDir = ::moat::testing::TempDir;

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto db = Database::Open(DbPath());
    ASSERT_TRUE(db) << db.error().message();
    db_ = std::make_unique<Database>(std::move(*db));
  }

  std::filesystem::path DbPath() const { return dir_.path() / "state" / "moat.db"; }
  Clock TestClock() {
    return [now = now_] { return *now; };
  }
  void Advance(std::int64_t seconds) { *now_ += seconds; }
  std::int64_t Now() const { return *now_; }

  std::int64_t CountRows(const std::string& sql) {
    auto count = db_->QueryInt(sql);
    EXPECT_TRUE(count) << count.error().message();
    return count ? *count : -1;
  }

  // A user straight into the table, for tests about other things than users.
  std::int64_t InsertUser(const std::string& name, const std::string& role = "user") {
    auto stmt =
        db_->Prepare("INSERT INTO users (name, source, role, created_at) VALUES (?, 'pam', ?, ?)");
    EXPECT_TRUE(stmt);
    EXPECT_TRUE(stmt->BindAll(name, role, Now()));
    auto run = stmt->Run();
    EXPECT_TRUE(run) << run.error().message();
    return db_->LastInsertRowid();
  }

  TempDir dir_;
  std::shared_ptr<std::int64_t> now_ = std::make_shared<std::int64_t>(1'800'000'000);
  std::unique_ptr<Database> db_;
};

}  // namespace moat::broker::db::testing
