#include "broker/housekeeping.h"

#include <chrono>

#include "db/login_throttle.h"
#include "db/token_store.h"
#include "db/usage_store.h"
#include "moat/common/log.h"

namespace moat::broker {
namespace {

constexpr auto kTick = std::chrono::milliseconds(250);
constexpr int kTimeoutTicks = 40;  // 10 s
constexpr int kMinuteTicks = 240;  // 60 s

template <typename T>
void LogFailure(std::string_view what, const Result<T>& result) {
  if (!result) log::Warning(what, {{"error", result.error().message()}});
}

}  // namespace

Housekeeping::Housekeeping(db::ConnectionPool& pool, SessionService& sessions, Events& events,
                           const BrokerConfig& config)
    : pool_(pool), sessions_(sessions), events_(events), config_(config) {}

Housekeeping::~Housekeeping() { Stop(); }

void Housekeeping::Start() {
  // Events before the broker started are history (GET /api/v1/audit), not news.
  auto db = pool_.Acquire();
  last_audit_id_ = db->QueryInt("SELECT coalesce(max(id), 0) FROM session_events").value_or(0);
  thread_ = std::thread([this] { Run(); });
}

void Housekeeping::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Housekeeping::Run() {
  for (int tick = 1;; ++tick) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, kTick, [this] { return stopping_; })) return;
    }
    AnnounceAudit();
    if (tick % kTimeoutTicks == 0) LogFailure("policy timeouts", sessions_.ApplyTimeouts());
    if (tick % kMinuteTicks == 0) Minutely();
  }
}

void Housekeeping::AnnounceAudit() {
  auto db = pool_.Acquire();
  auto stmt = db->Prepare(
      "SELECT id, at, actor_id, actor, kind, session_id, old_value, new_value, detail "
      "FROM v_audit WHERE id > ? ORDER BY id LIMIT 1000");
  if (!stmt) return;
  if (!stmt->Bind(1, last_audit_id_)) return;
  for (;;) {
    auto row = stmt->Step();
    if (!row || !*row) break;
    db::AuditRecord record{stmt->Int(0),          stmt->Int(1),          stmt->OptionalInt(2),
                           stmt->Text(3),         stmt->Text(4),         stmt->OptionalText(5),
                           stmt->OptionalText(6), stmt->OptionalText(7), stmt->Text(8)};
    last_audit_id_ = record.id;
    events_.Audit(record);
  }
}

void Housekeeping::Minutely() {
  auto db = pool_.Acquire();
  db::UsageStore usage(*db);
  LogFailure("usage roll-up", usage.RollUp());
  LogFailure("usage retention",
             usage.Prune({config_.usage_raw_retention_s, config_.usage_minute_retention_s}));
  LogFailure("token purge", db::TokenStore(*db).Purge(24 * 3600));
  LogFailure("login failure purge", db::LoginThrottle(*db).Prune());
}

}  // namespace moat::broker
