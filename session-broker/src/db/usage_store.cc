#include "db/usage_store.h"

#include <algorithm>
#include <string>

namespace moat::broker::db {
namespace {

// Minutes re-rolled before the watermark, for samples that arrive late (agent reconnects).
constexpr std::int64_t kLateMinutes = 5;
constexpr std::string_view kWatermarkKey = "usage_rolled_up_through";

Status CheckSample(const UsageSample& sample) {
  if (sample.session_id.empty()) return Fail(InvalidArgument("usage sample without a session id"));
  if (sample.at <= 0 || sample.cpu_usage_us < 0 || sample.cpu_percent < 0 ||
      sample.memory_current < 0 || sample.memory_peak < 0 || sample.pids < 0 ||
      sample.io_read_bytes < 0 || sample.io_write_bytes < 0 || sample.oom_kills < 0) {
    return Fail(InvalidArgument("usage sample for session '" + sample.session_id + "' at " +
                                std::to_string(sample.at) + " has a negative or zero value"));
  }
  return {};
}

}  // namespace

Status UsageStore::Insert(std::span<const UsageSample> samples) {
  for (const UsageSample& sample : samples) MOAT_TRY_VOID(CheckSample(sample));
  if (!insert_) {
    // A sample of a session the database does not know (yet, or any more) is skipped rather
    // than failing the foreign key and with it the whole batch.
    MOAT_TRY(auto stmt, db_.Prepare("INSERT OR REPLACE INTO usage_samples (session_id, at, "
                                    "cpu_usage_us, cpu_percent, memory_current, memory_peak, "
                                    "pids, io_read_bytes, io_write_bytes, oom_kills) "
                                    "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 "
                                    "WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1)",
                                    /*persistent=*/true));
    insert_ = std::move(stmt);
  }
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  for (const UsageSample& s : samples) {
    MOAT_TRY_VOID(insert_->BindAll(s.session_id, s.at, s.cpu_usage_us, s.cpu_percent,
                                   s.memory_current, s.memory_peak, s.pids, s.io_read_bytes,
                                   s.io_write_bytes, s.oom_kills));
    MOAT_TRY_VOID_CTX(insert_->Run(), "insert usage sample for session '" + s.session_id + "'");
  }
  return tx.Commit();
}

Result<std::int64_t> UsageStore::RolledUpThrough() const {
  MOAT_TRY(auto stmt, db_.Prepare("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?"));
  MOAT_TRY_VOID(stmt.BindAll(kWatermarkKey));
  MOAT_TRY(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

Result<std::int64_t> UsageStore::RollUp() {
  std::int64_t current_minute = clock_() / 60 * 60;
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(std::int64_t through, RolledUpThrough());
  std::int64_t from = std::max<std::int64_t>(0, through - kLateMinutes * 60);
  // Counters are cumulative: the minute's delta is its last value minus its first.
  MOAT_TRY(auto rollup, db_.Prepare(R"sql(
INSERT INTO usage_minutes (session_id, minute, samples, cpu_percent_avg, cpu_percent_max,
                           cpu_usage_us, memory_avg, memory_max, pids_max, io_read_bytes,
                           io_write_bytes, oom_kills)
SELECT session_id, at / 60 * 60, count(*), avg(cpu_percent), max(cpu_percent),
       max(cpu_usage_us) - min(cpu_usage_us), CAST(avg(memory_current) AS INTEGER),
       max(memory_peak), max(pids), max(io_read_bytes) - min(io_read_bytes),
       max(io_write_bytes) - min(io_write_bytes), max(oom_kills) - min(oom_kills)
FROM usage_samples
WHERE at >= ?1 AND at < ?2
GROUP BY session_id, at / 60
ON CONFLICT (session_id, minute) DO UPDATE SET
  samples = excluded.samples, cpu_percent_avg = excluded.cpu_percent_avg,
  cpu_percent_max = excluded.cpu_percent_max, cpu_usage_us = excluded.cpu_usage_us,
  memory_avg = excluded.memory_avg, memory_max = excluded.memory_max,
  pids_max = excluded.pids_max, io_read_bytes = excluded.io_read_bytes,
  io_write_bytes = excluded.io_write_bytes, oom_kills = excluded.oom_kills
)sql"));
  MOAT_TRY_VOID(rollup.BindAll(from, current_minute));
  MOAT_TRY_VOID_CTX(rollup.Run(), "roll up usage minutes");
  std::int64_t written = db_.Changes();
  MOAT_TRY(auto mark, db_.Prepare("INSERT INTO meta (key, value) VALUES (?1, ?2) "
                                  "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  MOAT_TRY_VOID(mark.BindAll(kWatermarkKey, std::to_string(current_minute)));
  MOAT_TRY_VOID(mark.Run());
  MOAT_TRY_VOID(tx.Commit());
  return written;
}

Result<std::int64_t> UsageStore::Prune(const UsageRetention& retention) {
  if (retention.raw_seconds < 60 || retention.minute_seconds < retention.raw_seconds) {
    return Fail(InvalidArgument(
        "usage retention raw " + std::to_string(retention.raw_seconds) + " s, minutes " +
        std::to_string(retention.minute_seconds) +
        " s: keep raw samples at least 60 s and minute rows at least as long as raw samples"));
  }
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(std::int64_t through, RolledUpThrough());
  // Raw samples go only once their minute is rolled up (and past the late-sample window).
  std::int64_t raw_cutoff = std::min(now - retention.raw_seconds, through - kLateMinutes * 60);
  MOAT_TRY(auto raw, db_.Prepare("DELETE FROM usage_samples WHERE at < ?"));
  MOAT_TRY_VOID(raw.BindAll(raw_cutoff));
  MOAT_TRY_VOID(raw.Run());
  std::int64_t deleted = db_.Changes();
  MOAT_TRY(auto minutes, db_.Prepare("DELETE FROM usage_minutes WHERE minute < ?"));
  MOAT_TRY_VOID(minutes.BindAll(now - retention.minute_seconds));
  MOAT_TRY_VOID(minutes.Run());
  deleted += db_.Changes();
  MOAT_TRY_VOID(tx.Commit());
  return deleted;
}

Result<std::vector<UsageMinute>> UsageStore::Minutes(std::string_view session_id, std::int64_t from,
                                                     std::int64_t to) const {
  MOAT_TRY(auto stmt,
           db_.Prepare("SELECT session_id, minute, samples, cpu_percent_avg, cpu_percent_max, "
                       "cpu_usage_us, memory_avg, memory_max, pids_max, io_read_bytes, "
                       "io_write_bytes, oom_kills FROM usage_minutes "
                       "WHERE session_id = ? AND minute >= ? AND minute < ? ORDER BY minute"));
  MOAT_TRY_VOID(stmt.BindAll(session_id, from, to));
  std::vector<UsageMinute> minutes;
  while (true) {
    MOAT_TRY(bool row, stmt.Step());
    if (!row) break;
    minutes.push_back(UsageMinute{stmt.Text(0), stmt.Int(1), stmt.Int(2), stmt.Double(3),
                                  stmt.Double(4), stmt.Int(5), stmt.Int(6), stmt.Int(7),
                                  stmt.Int(8), stmt.Int(9), stmt.Int(10), stmt.Int(11)});
  }
  return minutes;
}

}  // namespace moat::broker::db
