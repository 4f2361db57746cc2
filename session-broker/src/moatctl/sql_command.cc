// moatctl sql "SELECT …": read-only SQL over the session database, through POST /api/v1/sql
// (admin, auditor). The broker refuses writes with 403; the statement is its business, not ours.
#include <cstdio>

#include "moatctl/args.h"
#include "moatctl/commands.h"
#include "moatctl/exit_code.h"
#include "moatctl/output.h"

namespace moat::ctl {
namespace {

constexpr char kHelp[] =
    "usage: moatctl sql \"SELECT ...\"\n"
    "\n"
    "Runs one read-only statement (SELECT, read-only PRAGMA, EXPLAIN) over the session\n"
    "database at the broker and prints the rows as a table (NULL for null), or the API's\n"
    "{\"columns\",\"rows\",\"truncated\"} with --json. Needs the role admin or auditor. The\n"
    "stable views (v_sessions, v_session_usage_minute, v_audit, v_hosts_load, v_users) are\n"
    "in docs/database.md.\n"
    "A write is refused by the broker: exit 4. A statement SQLite cannot parse: exit 1.\n";

std::string SqlCell(const Json& value) { return value.is_null() ? "NULL" : Cell(value); }

}  // namespace

Status RunSql(Context& ctx, const Arguments& arguments) {
  MOAT_TRY(Args args, Args::Parse("sql", arguments, {}));
  if (args.help()) return PrintHelp(kHelp);
  std::string query;
  for (const auto& part : args.positional()) query += (query.empty() ? "" : " ") + part;
  for (const auto& part : args.after_dashes()) query += (query.empty() ? "" : " ") + part;
  if (query.empty()) return UsageError("no query given (usage: moatctl sql \"SELECT ...\")");
  MOAT_TRY(ApiClient * api, ctx.Api());
  MOAT_TRY(ApiReply reply, api->Call("POST", "/api/v1/sql", {{"query", query}}));
  if (ctx.json()) {
    PrintJson(reply.raw);
    return {};
  }
  std::vector<std::string> headers;
  for (const auto& column : reply.body.value("columns", Json::array())) {
    headers.push_back(Cell(column));
  }
  Table table(headers);
  size_t count = 0;
  for (const auto& row : reply.body.value("rows", Json::array())) {
    std::vector<std::string> cells;
    for (const auto& value : row) cells.push_back(SqlCell(value));
    table.AddRow(std::move(cells));
    ++count;
  }
  table.Print();
  std::fflush(stdout);
  if (reply.body.value("truncated", false)) {
    std::fprintf(stderr, "moatctl: only the first %zu rows: the broker truncated the result\n",
                 count);
  }
  return {};
}

}  // namespace moat::ctl
