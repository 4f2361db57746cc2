// The broker's side of what agents report: reconciliation of the database with the sessions a
// host really runs (after the agent or the broker restarted), host liveness, usage ingestion,
// and the policy timeouts.
#include <time.h>

#include "broker/session_service.h"
#include "broker/system_groups.h"
#include "db/host_store.h"
#include "db/session_store.h"
#include "moat/common/log.h"

namespace moat::broker {
namespace {

using db::SessionState;

std::chrono::nanoseconds ThreadCpuTime() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

void PublishHost(const db::Database& db, std::int64_t host_id, bool connected, Events& events) {
  auto hosts = db::HostStore(db).List();
  if (!hosts) return;
  for (const auto& host : *hosts) {
    if (host.id == host_id) events.Host(host, connected);
  }
}

}  // namespace

void SessionService::OnHello(std::int64_t host_id, const wire::HostHello& hello) {
  {
    auto db = pool_.Acquire();
    if (auto beat = db::HostStore(*db).Heartbeat(host_id, "online"); !beat) {
      log::Warning("host heartbeat failed", {{"error", beat.error().message()}});
    }
    PublishHost(*db, host_id, agents_.IsConnected(host_id), events_);
  }
  Reconcile(host_id, hello);
  Changed();
}

void SessionService::OnDisconnect(std::int64_t host_id) {
  auto db = pool_.Acquire();
  // Its sessions keep running on the host; they are reconciled when the agent is back.
  if (auto beat = db::HostStore(*db).Heartbeat(host_id, "offline"); !beat) {
    log::Warning("host heartbeat failed", {{"error", beat.error().message()}});
  }
  PublishHost(*db, host_id, agents_.IsConnected(host_id), events_);
  Changed();
}

// The host is the truth about what runs; the database is the truth about what should. A session
// that runs but should not (ended, failed, unknown) is ended; one that should run but does not
// has failed (or, if it was ending, ended); a suspended/running mismatch takes the host's word.
void SessionService::Reconcile(std::int64_t host_id, const wire::HostHello& hello) {
  auto db = pool_.Acquire();
  std::map<std::string, wire::RunningState> running;
  for (const auto& session : hello.sessions) running[session.session_id] = session.state;
  std::set<std::string> in_flight;
  {
    std::lock_guard lock(mutex_);
    in_flight = in_flight_;
  }
  auto host = db::HostStore(*db).List();
  std::string host_name = std::to_string(host_id);
  if (host) {
    for (const auto& h : *host) {
      if (h.id == host_id) host_name = h.name;
    }
  }
  {
    std::lock_guard lock(mutex_);
    host_names_[host_id] = host_name;
  }
  auto sessions = ListSessionViews(*db, {.live_only = true, .limit = 1000000});
  if (!sessions) {
    log::Error("reconcile failed", {{"host", host_name}, {"error", sessions.error().message()}});
    return;
  }
  std::vector<std::string> to_finish;
  for (const SessionView& session : *sessions) {
    if (session.host_id != host_id || in_flight.count(session.id)) continue;
    auto it = running.find(session.id);
    bool runs = it != running.end();
    Result<SessionView> changed = session;
    std::string detail = wire::Json{{"reason", "reconcile"}, {"host", host_name}}.dump();
    if (session.state == "ending") {
      if (runs) {
        to_finish.push_back(session.id);
      } else {
        changed = Transition(*db, session.id, SessionState::kEnded, db::Actor::System(), detail);
      }
    } else if (!runs) {
      std::string reason =
          "session was not running on host '" + host_name + "' when its agent reported";
      changed = Transition(*db, session.id, SessionState::kFailed, db::Actor::System(),
                           wire::Json{{"reason", reason}}.dump());
    } else if (session.state == "starting") {
      changed = Transition(*db, session.id, SessionState::kActive, db::Actor::System(), detail);
    } else if (it->second == wire::RunningState::kSuspended && session.state != "suspended") {
      changed = Transition(*db, session.id, SessionState::kSuspended, db::Actor::System(), detail);
    } else if (it->second == wire::RunningState::kRunning && session.state == "suspended") {
      changed = Transition(*db, session.id, SessionState::kActive, db::Actor::System(), detail);
    }
    if (!changed) {
      log::Warning("reconcile: transition failed",
                   {{"session", session.id}, {"error", changed.error().message()}});
    }
    running.erase(session.id);
  }
  // Running, but the database has it ended, failed, on another host or not at all.
  for (const auto& [id, state] : running) {
    if (in_flight.count(id)) continue;
    log::Warning("reconcile: ending a session the database does not have live",
                 {{"session", id}, {"host", host_name}});
    auto reply = AgentCall(
        host_id, wire::MakeMessage(wire::SessionAction{id, wire::SessionActionKind::kEnd}));
    if (!reply)
      log::Warning("reconcile: end failed", {{"session", id}, {"error", reply.error().message()}});
  }
  for (const auto& id : to_finish) {
    if (auto ended = FinishEnd(id, db::Actor::System()); !ended) {
      log::Warning("reconcile: end failed", {{"session", id}, {"error", ended.error().message()}});
    }
  }
  log::Info("host reconciled",
            {{"host", host_name}, {"running", static_cast<int64_t>(hello.sessions.size())}});
}

void SessionService::OnUsage(std::int64_t host_id, const wire::UsageBatch& batch) {
  auto start = ThreadCpuTime();
  std::vector<db::UsageSample> rows;
  rows.reserve(batch.samples.size());
  for (const auto& s : batch.samples) {
    rows.push_back(db::UsageSample{.session_id = s.session_id,
                                   .at = static_cast<std::int64_t>(s.at / 1000),
                                   .cpu_usage_us = static_cast<std::int64_t>(s.cpu_usage_us),
                                   .cpu_percent = s.cpu_percent,
                                   .memory_current = static_cast<std::int64_t>(s.memory_current),
                                   .memory_peak = static_cast<std::int64_t>(s.memory_peak),
                                   .pids = static_cast<std::int64_t>(s.pids),
                                   .io_read_bytes = static_cast<std::int64_t>(s.io_read_bytes),
                                   .io_write_bytes = static_cast<std::int64_t>(s.io_write_bytes),
                                   .oom_kills = static_cast<std::int64_t>(s.oom_kills)});
  }
  {
    std::lock_guard lock(usage_mutex_);
    if (!usage_db_) {
      auto opened = db::Database::Open(pool_.path());
      if (!opened) {
        log::Error("usage ingestion: open database failed", {{"error", opened.error().message()}});
        return;
      }
      usage_db_.emplace(std::move(*opened));
      usage_store_.emplace(*usage_db_);
    }
    if (auto inserted = usage_store_->Insert(rows); !inserted) {
      log::Warning("usage ingestion failed", {{"error", inserted.error().message()}});
    }
  }
  // Each sample serialised once, for the listings that show it and for the event.
  std::vector<std::string> serialised;
  serialised.reserve(batch.samples.size());
  for (const auto& sample : batch.samples) serialised.push_back(ToJson(sample).dump());
  {
    auto json = std::make_shared<UsageJson>(*LatestUsageJson());
    for (size_t i = 0; i < batch.samples.size(); ++i) {
      (*json)[batch.samples[i].session_id] = serialised[i];
    }
    std::lock_guard lock(mutex_);
    for (const auto& s : batch.samples) latest_usage_[s.session_id] = s;
    latest_usage_json_ = std::move(json);
  }
  Changed();
  std::string host = std::to_string(host_id);
  {
    std::lock_guard lock(mutex_);
    if (auto it = host_names_.find(host_id); it != host_names_.end()) host = it->second;
  }
  events_.Usage(host, serialised);
  metrics_.RecordIngest(batch.samples.size(), ThreadCpuTime() - start);
  EndWallsOfTimedOutCreates(host_id, batch);
}

// A create that timed out is failed in the database; if its wall came up after all, nobody
// would end it until the agent's next hello. Its usage is the first sign of it.
void SessionService::EndWallsOfTimedOutCreates(std::int64_t host_id,
                                               const wire::UsageBatch& batch) {
  std::vector<std::string> late;
  {
    std::lock_guard lock(mutex_);
    if (timed_out_creates_.empty()) return;
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(timed_out_creates_,
                  [&](const auto& entry) { return now - entry.second > kLateWallWatch; });
    for (const auto& s : batch.samples) {
      if (timed_out_creates_.erase(s.session_id)) late.push_back(s.session_id);
    }
  }
  // Synchronous, like Reconcile's ends: rare, and an End answers once the wall is down.
  for (const auto& id : late) {
    log::Warning("ending the wall of a create that timed out", {{"session", id}});
    auto reply = AgentCall(
        host_id, wire::MakeMessage(wire::SessionAction{id, wire::SessionActionKind::kEnd}));
    if (!reply && reply.error().code() != std::errc::no_such_file_or_directory) {
      log::Warning("end of a late wall failed; tried again at its next usage report",
                   {{"session", id}, {"error", reply.error().message()}});
      std::lock_guard lock(mutex_);
      timed_out_creates_[id] = std::chrono::steady_clock::now();
    }
  }
}

Result<int> SessionService::ApplyTimeouts() {
  std::vector<std::pair<std::string, std::string>> to_end;  // id, reason
  {
    auto db = pool_.Acquire();
    MOAT_TRY(auto sessions, ListSessionViews(*db, {.live_only = true, .limit = 1000000}));
    std::int64_t now = db::SystemClock()();
    std::map<std::string, db::EffectivePolicy> by_user;
    for (const SessionView& s : sessions) {
      if (s.state == "ending" || s.state == "starting") continue;
      auto found = by_user.find(s.user);
      if (found == by_user.end()) {
        MOAT_TRY(auto policy, EffectivePolicyOf(*db, s.user));
        found = by_user.emplace(s.user, std::move(policy)).first;
      }
      const db::EffectivePolicy& p = found->second;
      if (p.max_lifetime_s > 0 && now - s.created_at >= p.max_lifetime_s) {
        to_end.emplace_back(s.id, "maximum lifetime reached");
      } else if (p.disconnected_timeout_s > 0 && s.state == "disconnected" &&
                 now - s.updated_at >= p.disconnected_timeout_s) {
        to_end.emplace_back(s.id, "disconnected timeout");
      } else if (p.idle_timeout_s > 0 && s.state == "active" &&
                 now - s.last_input_at.value_or(s.updated_at) >= p.idle_timeout_s) {
        to_end.emplace_back(s.id, "idle timeout");
      }
    }
  }
  int ended = 0;
  for (const auto& [id, reason] : to_end) {
    if (End(id, db::Actor::System(), reason)) ++ended;
  }
  return ended;
}

}  // namespace moat::broker
