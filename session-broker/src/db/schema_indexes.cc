// Migration 4: the index behind the session listing (newest first, paged), so a page reads its
// rows in order instead of sorting every session.
#include "db/schema.h"

namespace moat::broker::db {

extern const std::string_view kSchemaListingIndex = R"sql(
CREATE INDEX sessions_by_created ON sessions (created_at DESC, id);
)sql";

}  // namespace moat::broker::db
