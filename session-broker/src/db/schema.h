// The SQL text of the migrations. Timestamps are INTEGER unix seconds (UTC) everywhere.
#pragma once

#include <string_view>

namespace moat::broker::db {

extern const std::string_view kSchemaTables;        // migration 1: the tables and indexes
extern const std::string_view kSchemaViews;         // migration 2: the stable views for ops
extern const std::string_view kSchemaEnrolment;     // migration 3: host enrolment tokens
extern const std::string_view kSchemaListingIndex;  // migration 4: the session listing's index

}  // namespace moat::broker::db
