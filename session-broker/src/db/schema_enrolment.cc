// Migration 3: one-time enrolment tokens for new session hosts (`moatctl hosts token`). Like
// bearer tokens, only their SHA-256 is stored.
#include "db/schema.h"

namespace moat::broker::db {

extern const std::string_view kSchemaEnrolment = R"sql(
CREATE TABLE enrolment_tokens (
  token_hash BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
  created_at INTEGER NOT NULL,
  created_by INTEGER REFERENCES users (id),
  expires_at INTEGER NOT NULL,
  used_at    INTEGER,
  host_id    INTEGER REFERENCES hosts (id)
) STRICT;
)sql";

}  // namespace moat::broker::db
