#include "db/app_store.h"

#include <nlohmann/json.hpp>

namespace moat::broker::db {
namespace {

constexpr std::string_view kColumns =
    "id, session_id, name, argv, pid, cgroup, started_at, ended_at, exit_code";

App ReadApp(const Statement& stmt) {
  return App{stmt.Int(0),  stmt.Text(1),        stmt.Text(2),
             stmt.Text(3), stmt.OptionalInt(4), stmt.OptionalText(5),
             stmt.Int(6),  stmt.OptionalInt(7), stmt.OptionalInt(8)};
}

Status CheckArgv(std::string_view argv) {
  auto json = nlohmann::json::parse(argv, nullptr, /*allow_exceptions=*/false);
  bool ok = !json.is_discarded() && json.is_array();
  for (const auto& item : ok ? json : nlohmann::json::array()) ok = ok && item.is_string();
  if (ok) return {};
  return Fail(InvalidArgument("app argv must be a JSON array of strings, not '" +
                              std::string(argv.substr(0, 80)) + "'"));
}

}  // namespace

Result<App> AppStore::Start(const NewApp& app, const Actor& actor) {
  if (app.name.empty()) return Fail(InvalidArgument("an app needs a name"));
  MOAT_TRY_VOID(CheckArgv(app.argv));
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(auto insert, db_.Prepare("INSERT INTO apps (session_id, name, argv, pid, cgroup, "
                                    "started_at) VALUES (?, ?, ?, ?, ?, ?)"));
  MOAT_TRY_VOID(insert.BindAll(app.session_id, app.name, app.argv, app.pid, app.cgroup, now));
  if (auto run = insert.Run(); !run) {
    if (IsConstraintViolation(run.error())) {
      return Fail(NotFound("start app '" + app.name + "': no session '" + app.session_id + "'"));
    }
    return Fail(std::move(run).error());
  }
  std::int64_t id = db_.LastInsertRowid();
  nlohmann::json detail{{"app_id", id}, {"argv", nlohmann::json::parse(app.argv)}};
  MOAT_TRY_VOID(RecordEvent(
      db_, {app.session_id, actor, "app.start", std::nullopt, app.name, detail.dump()}, now));
  MOAT_TRY(App started, Get(id));
  MOAT_TRY_VOID(tx.Commit());
  return started;
}

Result<App> AppStore::End(std::int64_t id, std::optional<std::int64_t> exit_code) {
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(App current, Get(id));
  if (current.ended_at) {
    return Fail(Conflict("app " + std::to_string(id) + " ('" + current.name + "') has ended"));
  }
  MOAT_TRY(auto update, db_.Prepare("UPDATE apps SET ended_at = ?, exit_code = ? WHERE id = ?"));
  MOAT_TRY_VOID(update.BindAll(now, exit_code, id));
  MOAT_TRY_VOID(update.Run());
  nlohmann::json detail{{"app_id", id}, {"exit_code", nullptr}};
  if (exit_code) detail["exit_code"] = *exit_code;
  MOAT_TRY_VOID(RecordEvent(
      db_,
      {current.session_id, Actor::System(), "app.end", current.name, std::nullopt, detail.dump()},
      now));
  MOAT_TRY(App ended, Get(id));
  MOAT_TRY_VOID(tx.Commit());
  return ended;
}

Result<App> AppStore::Get(std::int64_t id) const {
  MOAT_TRY(auto stmt, db_.Prepare("SELECT " + std::string(kColumns) + " FROM apps WHERE id = ?"));
  MOAT_TRY_VOID(stmt.BindAll(id));
  MOAT_TRY(bool row, stmt.Step());
  if (!row) return Fail(NotFound("no app with id " + std::to_string(id)));
  return ReadApp(stmt);
}

Result<std::vector<App>> AppStore::List(std::string_view session_id, bool running_only) const {
  MOAT_TRY(auto stmt, db_.Prepare("SELECT " + std::string(kColumns) +
                                  " FROM apps WHERE session_id = ? AND (? = 0 OR ended_at IS "
                                  "NULL) ORDER BY id"));
  MOAT_TRY_VOID(stmt.BindAll(session_id, running_only));
  std::vector<App> apps;
  while (true) {
    MOAT_TRY(bool row, stmt.Step());
    if (!row) break;
    apps.push_back(ReadApp(stmt));
  }
  return apps;
}

}  // namespace moat::broker::db
