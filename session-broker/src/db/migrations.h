// Schema migrations by `PRAGMA user_version`: an ordered list of SQL scripts, version N taking the
// file from N-1 to N. Each runs in its own write transaction together with its user_version bump,
// so a crash leaves the file at one version or the next, never between.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "db/database.h"

namespace moat::broker::db {

struct Migration {
  std::int64_t version{};
  std::string_view name{};
  std::string_view sql{};
};

std::span<const Migration> Migrations();
std::int64_t LatestSchemaVersion();

// Brings the file up to LatestSchemaVersion(); refuses a file written by newer code.
Status Migrate(const Database& db);
// For read-only opens: refuses a file newer than this code, or one never migrated.
Status CheckSchemaVersion(const Database& db);

}  // namespace moat::broker::db
