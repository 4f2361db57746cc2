#include "db/migrations.h"

#include <string>

#include "db/schema.h"

namespace moat::broker::db {
namespace {

// A function-local static: the SQL lives in other files, whose globals must be ready first.
std::span<const Migration> AllMigrations() {
  static const Migration migrations[] = {
      {1, "tables", kSchemaTables},
      {2, "views", kSchemaViews},
      {3, "enrolment", kSchemaEnrolment},
      {4, "listing index", kSchemaListingIndex},
  };
  return migrations;
}

Result<std::int64_t> UserVersion(const Database& db) { return db.QueryInt("PRAGMA user_version"); }

Error TooNew(const Database& db, std::int64_t version) {
  return Error(std::make_error_code(std::errc::not_supported),
               "session database '" + db.path().string() + "' has schema version " +
                   std::to_string(version) + " but this moat-broker knows versions up to " +
                   std::to_string(LatestSchemaVersion()) +
                   "; it was written by a newer moat-broker: run that version, or restore a "
                   "backup taken before the upgrade");
}

Status Apply(const Database& db, const Migration& migration) {
  MOAT_TRY(auto tx, Transaction::Begin(db));
  // Re-read inside the write lock: another process may have migrated meanwhile.
  MOAT_TRY(std::int64_t current, UserVersion(db));
  if (current >= migration.version) return tx.Commit();
  MOAT_TRY_VOID(db.Exec(migration.sql));
  MOAT_TRY_VOID(db.Exec("PRAGMA user_version = " + std::to_string(migration.version)));
  return tx.Commit();
}

}  // namespace

std::span<const Migration> Migrations() { return AllMigrations(); }

std::int64_t LatestSchemaVersion() { return AllMigrations().back().version; }

Status Migrate(const Database& db) {
  MOAT_TRY(std::int64_t current, UserVersion(db));
  if (current > LatestSchemaVersion()) return Fail(TooNew(db, current));
  for (const Migration& migration : AllMigrations()) {
    if (migration.version <= current) continue;
    MOAT_TRY_VOID_CTX(Apply(db, migration), "migrate session database '" + db.path().string() +
                                                "' to version " +
                                                std::to_string(migration.version) + " (" +
                                                std::string(migration.name) + ")");
  }
  return {};
}

Status CheckSchemaVersion(const Database& db) {
  MOAT_TRY(std::int64_t current, UserVersion(db));
  if (current > LatestSchemaVersion()) return Fail(TooNew(db, current));
  if (current < LatestSchemaVersion()) {
    return Fail(Error(std::make_error_code(std::errc::not_supported),
                      "session database '" + db.path().string() + "' has schema version " +
                          std::to_string(current) + ", older than " +
                          std::to_string(LatestSchemaVersion()) +
                          "; start moat-broker once to migrate it"));
  }
  return {};
}

}  // namespace moat::broker::db
