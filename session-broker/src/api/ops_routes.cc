// For ops: the audit trail, read-only SQL over the session database (what `moatctl sql` uses),
// Prometheus metrics and a health check.
#include <sqlite3.h>

#include <chrono>

#include "api/api.h"
#include "api/request_body.h"
#include "broker/events.h"

namespace moat::broker::api {
namespace {

constexpr int kMaxSqlRows = 10000;
constexpr auto kMaxSqlTime = std::chrono::seconds(10);

Result<int> QueryInt(const http::HttpRequest& request, std::string_view name, int fallback, int min,
                     int max) {
  auto text = request.QueryParam(name);
  if (!text) return fallback;
  char* end = nullptr;
  long long value = std::strtoll(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || value < min || value > max) {
    return Fail(InvalidArgument("query parameter '" + std::string(name) + "' must be a number " +
                                std::to_string(min) + " to " + std::to_string(max)));
  }
  return static_cast<int>(value);
}

wire::Json Cell(sqlite3_stmt* stmt, int column) {
  switch (sqlite3_column_type(stmt, column)) {
    case SQLITE_INTEGER:
      return sqlite3_column_int64(stmt, column);
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, column);
    case SQLITE_NULL:
      return nullptr;
    case SQLITE_BLOB: {
      static constexpr char kHex[] = "0123456789abcdef";
      auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, column));
      std::string hex;
      for (int i = 0; i < sqlite3_column_bytes(stmt, column); ++i) {
        hex += kHex[bytes[i] >> 4];
        hex += kHex[bytes[i] & 15];
      }
      return "x'" + hex + "'";
    }
    default:
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, column)),
                         static_cast<size_t>(sqlite3_column_bytes(stmt, column)));
  }
}

// One read-only statement on a read-only connection: the connection refuses writes, and so does
// the check of the prepared statement, so neither alone has to be perfect.
Result<wire::Json> RunReadOnlySql(const std::filesystem::path& path, const std::string& sql) {
  MOAT_TRY(db::Database db, db::Database::Open(path, {.read_only = true}));
  MOAT_TRY_VOID(db.Exec("PRAGMA query_only = 1"));
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db.handle(), sql.c_str(), static_cast<int>(sql.size()), &raw, &tail);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, sqlite3_finalize);
  if (rc != SQLITE_OK) {
    return Fail(InvalidArgument(std::string("SQL error: ") + sqlite3_errmsg(db.handle())));
  }
  if (!stmt) return Fail(InvalidArgument("no SQL statement given"));
  std::string_view rest(tail);
  if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
    return Fail(InvalidArgument("one statement at a time"));
  }
  if (!sqlite3_stmt_readonly(stmt.get())) {
    return Fail(Error(std::make_error_code(std::errc::operation_not_supported),
                      "only read-only statements (SELECT, read-only PRAGMA, EXPLAIN) are allowed"));
  }
  auto deadline = std::chrono::steady_clock::now() + kMaxSqlTime;
  sqlite3_progress_handler(
      db.handle(), 10000,
      [](void* end) -> int {
        return std::chrono::steady_clock::now() >
               *static_cast<std::chrono::steady_clock::time_point*>(end);
      },
      &deadline);
  wire::Json columns = wire::Json::array();
  int count = sqlite3_column_count(stmt.get());
  for (int i = 0; i < count; ++i) columns.push_back(sqlite3_column_name(stmt.get(), i));
  wire::Json rows = wire::Json::array();
  bool truncated = false;
  for (;;) {
    rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      std::string message = sqlite3_errmsg(db.handle());
      if (rc == SQLITE_INTERRUPT) message = "the query ran longer than 10 s";
      return Fail(InvalidArgument("SQL error: " + message));
    }
    if (static_cast<int>(rows.size()) == kMaxSqlRows) {
      truncated = true;
      break;
    }
    wire::Json row = wire::Json::array();
    for (int i = 0; i < count; ++i) row.push_back(Cell(stmt.get(), i));
    rows.push_back(std::move(row));
  }
  return wire::Json{
      {"columns", std::move(columns)}, {"rows", std::move(rows)}, {"truncated", truncated}};
}

}  // namespace

Status AddOpsRoutes(http::Router& router, ApiContext& ctx) {
  MOAT_TRY_VOID(
      Route(router, ctx, "GET", "/api/v1/audit", Access::kReadAll,
            [&ctx](const http::HttpRequest& request, const Caller&) -> Result<http::HttpResponse> {
              db::AuditFilter filter;
              filter.session_id = request.QueryParam("session");
              filter.kind = request.QueryParam("kind");
              MOAT_TRY(int since, QueryInt(request, "since", 0, 0, 2147483647));
              MOAT_TRY(int before, QueryInt(request, "before", 0, 0, 2147483647));
              MOAT_TRY(filter.limit, QueryInt(request, "limit", 100, 1, 1000));
              if (since > 0) filter.since = since;
              if (before > 0) filter.before_id = before;
              auto db = ctx.pool.Acquire();
              MOAT_TRY(auto events, db::ListEvents(*db, filter));
              wire::Json list = wire::Json::array();
              for (const auto& event : events) list.push_back(ToJson(event));
              return Json(200, {{"events", std::move(list)}});
            }));
  MOAT_TRY_VOID(Route(
      router, ctx, "POST", "/api/v1/sql", Access::kAnyUser,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        if (!caller.Is(db::Role::kAdmin) && !caller.Is(db::Role::kAuditor)) {
          return Fail(Error(std::make_error_code(std::errc::operation_not_supported),
                            "SQL needs the role admin or auditor"));
        }
        MOAT_TRY(auto body, RequestBody::Parse(request, {"query"}));
        MOAT_TRY(std::string query, body.RequiredString("query", 65536));
        MOAT_TRY(wire::Json result, RunReadOnlySql(ctx.pool.path(), query));
        return Json(200, result);
      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "GET", "/metrics", Access::kAnyone,
      [&ctx](const http::HttpRequest&, const Caller&) -> Result<http::HttpResponse> {
        auto db = ctx.pool.Acquire();
        MOAT_TRY(std::string text, ctx.metrics.Render(*db, {ctx.agents.ConnectedHosts().size(),
                                                            ctx.hub.subscriber_count()}));
        http::HttpResponse response{200, {}, std::move(text)};
        response.headers.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        return response;
      }));
  MOAT_TRY_VOID(
      Route(router, ctx, "GET", "/healthz", Access::kAnyone,
            [&ctx](const http::HttpRequest&, const Caller&) -> Result<http::HttpResponse> {
              auto db = ctx.pool.Acquire();
              MOAT_TRY_VOID(db->QueryInt("SELECT 1"));
              return Json(200, {{"status", "ok"}, {"agents", ctx.agents.ConnectedHosts().size()}});
            }));
  return {};
}

}  // namespace moat::broker::api
