#include "db/host_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace moat::broker::db {
namespace {

constexpr std::string_view kColumns =
    "id, name, address, capacity, enabled, drained, state, last_seen, cert_fingerprint, "
    "created_at";

Host ReadHost(const Statement& stmt) {
  return Host{stmt.Int(0),          stmt.Text(1),     stmt.Text(2), stmt.Int(3),
              stmt.Int(4) != 0,     stmt.Int(5) != 0, stmt.Text(6), stmt.OptionalInt(7),
              stmt.OptionalText(8), stmt.Int(9)};
}

Status CheckCapacity(std::int64_t capacity) {
  if (capacity < 0 || capacity > 100000) {
    return Fail(InvalidArgument("host capacity " + std::to_string(capacity) +
                                " is out of range: use 0 to 100000 sessions"));
  }
  return {};
}

}  // namespace

Result<Host> HostStore::Add(const NewHost& host, const Actor& actor) {
  if (host.name.empty() || host.name.size() > 253 || host.address.empty()) {
    return Fail(InvalidArgument("a host needs a name of 1 to 253 characters and an address"));
  }
  MOAT_TRY_VOID(CheckCapacity(host.capacity));
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(auto insert, db_.Prepare("INSERT INTO hosts (name, address, capacity, "
                                    "cert_fingerprint, created_at) VALUES (?, ?, ?, ?, ?)"));
  MOAT_TRY_VOID(insert.BindAll(host.name, host.address, host.capacity, host.cert_fingerprint, now));
  if (auto run = insert.Run(); !run) {
    if (IsConstraintViolation(run.error())) {
      return Fail(Conflict("host '" + host.name + "' already exists"));
    }
    return Fail(std::move(run).error().Wrap("add host '" + host.name + "'"));
  }
  nlohmann::json added{{"name", host.name}, {"address", host.address}, {"capacity", host.capacity}};
  MOAT_TRY_VOID(
      RecordEvent(db_, {std::nullopt, actor, "host.add", std::nullopt, added.dump(), "{}"}, now));
  MOAT_TRY(Host created, Get(host.name));
  MOAT_TRY_VOID(tx.Commit());
  return created;
}

Result<Host> HostStore::SetColumn(std::string_view name, std::string_view column,
                                  std::int64_t value, const Actor& actor) {
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(Host current, Get(name));
  std::int64_t old = column == "enabled"   ? current.enabled
                     : column == "drained" ? current.drained
                                           : current.capacity;
  // `column` is one of three literals from this file, never user input.
  MOAT_TRY(auto update,
           db_.Prepare("UPDATE hosts SET " + std::string(column) + " = ? WHERE id = ?"));
  MOAT_TRY_VOID(update.BindAll(value, current.id));
  MOAT_TRY_VOID(update.Run());
  nlohmann::json detail{{"host", current.name}};
  MOAT_TRY_VOID(RecordEvent(db_,
                            {std::nullopt, actor, "host." + std::string(column),
                             std::to_string(old), std::to_string(value), detail.dump()},
                            now));
  MOAT_TRY(Host updated, Get(name));
  MOAT_TRY_VOID(tx.Commit());
  return updated;
}

Result<Host> HostStore::SetEnabled(std::string_view name, bool enabled, const Actor& actor) {
  return SetColumn(name, "enabled", enabled, actor);
}

Result<Host> HostStore::SetDrained(std::string_view name, bool drained, const Actor& actor) {
  return SetColumn(name, "drained", drained, actor);
}

Result<Host> HostStore::SetCapacity(std::string_view name, std::int64_t capacity,
                                    const Actor& actor) {
  MOAT_TRY_VOID(CheckCapacity(capacity));
  return SetColumn(name, "capacity", capacity, actor);
}

Status HostStore::Heartbeat(std::int64_t id, std::string_view state) {
  if (state != "online" && state != "offline" && state != "unknown") {
    return Fail(InvalidArgument("host state '" + std::string(state) +
                                "' is not 'online', 'offline' or 'unknown'"));
  }
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(auto select, db_.Prepare("SELECT name, state FROM hosts WHERE id = ?"));
  MOAT_TRY_VOID(select.BindAll(id));
  MOAT_TRY(bool row, select.Step());
  if (!row) return Fail(NotFound("no host with id " + std::to_string(id)));
  std::string name = select.Text(0);
  std::string old_state = select.Text(1);
  MOAT_TRY(auto update, db_.Prepare("UPDATE hosts SET state = ?, last_seen = ? WHERE id = ?"));
  MOAT_TRY_VOID(update.BindAll(state, now, id));
  MOAT_TRY_VOID(update.Run());
  if (old_state != state) {
    nlohmann::json detail{{"host", name}};
    MOAT_TRY_VOID(RecordEvent(
        db_,
        {std::nullopt, Actor::System(), "host.state", old_state, std::string(state), detail.dump()},
        now));
  }
  return tx.Commit();
}

Result<std::int64_t> HostStore::MarkOnlineHostsOffline() {
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(auto select, db_.Prepare("SELECT name FROM hosts WHERE state = 'online' ORDER BY name"));
  std::vector<std::string> names;
  while (true) {
    MOAT_TRY(bool row, select.Step());
    if (!row) break;
    names.push_back(select.Text(0));
  }
  MOAT_TRY(auto update, db_.Prepare("UPDATE hosts SET state = 'offline' WHERE state = 'online'"));
  MOAT_TRY_VOID(update.Run());
  for (const std::string& name : names) {
    nlohmann::json detail{{"host", name}, {"reason", "broker start"}};
    MOAT_TRY_VOID(RecordEvent(
        db_, {std::nullopt, Actor::System(), "host.state", "online", "offline", detail.dump()},
        now));
  }
  MOAT_TRY_VOID(tx.Commit());
  return static_cast<std::int64_t>(names.size());
}

Result<Host> HostStore::Get(std::string_view name) const {
  MOAT_TRY(auto stmt,
           db_.Prepare("SELECT " + std::string(kColumns) + " FROM hosts WHERE name = ?"));
  MOAT_TRY_VOID(stmt.BindAll(name));
  MOAT_TRY(bool row, stmt.Step());
  if (!row) return Fail(NotFound("no host '" + std::string(name) + "'"));
  return ReadHost(stmt);
}

Result<std::vector<Host>> HostStore::List() const {
  MOAT_TRY(auto stmt, db_.Prepare("SELECT " + std::string(kColumns) + " FROM hosts ORDER BY name"));
  std::vector<Host> hosts;
  while (true) {
    MOAT_TRY(bool row, stmt.Step());
    if (!row) break;
    hosts.push_back(ReadHost(stmt));
  }
  return hosts;
}

Status HostStore::SetCertificate(std::string_view name, std::string_view fingerprint,
                                 const Actor& actor) {
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(Host current, Get(name));
  MOAT_TRY(auto update, db_.Prepare("UPDATE hosts SET cert_fingerprint = ? WHERE id = ?"));
  MOAT_TRY_VOID(update.BindAll(fingerprint, current.id));
  MOAT_TRY_VOID(update.Run());
  MOAT_TRY_VOID(
      RecordEvent(db_,
                  {std::nullopt, actor, "host.certificate", current.cert_fingerprint,
                   std::string(fingerprint), nlohmann::json{{"host", current.name}}.dump()},
                  now));
  return tx.Commit();
}

Result<std::optional<Host>> HostStore::PickForPlacement(
    std::span<const std::int64_t> connected) const {
  // Best first; the first whose agent is linked wins. The link decides, not the state column:
  // a host the database calls online may have lost its agent a moment ago, and one whose
  // agent has just linked is online only once its hello has been handled.
  MOAT_TRY(auto stmt,
           db_.Prepare("SELECT id, name FROM v_hosts_load "
                       "WHERE enabled = 1 AND drained = 0 AND free_slots > 0 "
                       "ORDER BY 1.0 * live_sessions / capacity, free_slots DESC, name"));
  while (true) {
    MOAT_TRY(bool row, stmt.Step());
    if (!row) return std::optional<Host>();
    if (std::find(connected.begin(), connected.end(), stmt.Int(0)) == connected.end()) continue;
    MOAT_TRY(Host host, Get(stmt.Text(1)));
    return std::optional<Host>(std::move(host));
  }
}

}  // namespace moat::broker::db
