// Usage samples: one row per session per second from the agents, ingested in batches (one
// transaction and one reused prepared statement per batch), rolled up per completed minute into
// usage_minutes, and deleted after a configurable time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "db/clock.h"
#include "db/database.h"

namespace moat::broker::db {

struct UsageSample {
  std::string session_id{};
  std::int64_t at = 0;  // unix seconds
  std::int64_t cpu_usage_us = 0;
  double cpu_percent = 0;
  std::int64_t memory_current = 0;
  std::int64_t memory_peak = 0;
  std::int64_t pids = 0;
  std::int64_t io_read_bytes = 0;
  std::int64_t io_write_bytes = 0;
  std::int64_t oom_kills = 0;
};

struct UsageRetention {
  std::int64_t raw_seconds = 24 * 3600;          // usage_samples
  std::int64_t minute_seconds = 90 * 24 * 3600;  // usage_minutes
};

struct UsageMinute {
  std::string session_id{};
  std::int64_t minute = 0;
  std::int64_t samples = 0;
  double cpu_percent_avg = 0;
  double cpu_percent_max = 0;
  std::int64_t cpu_usage_us = 0;
  std::int64_t memory_avg = 0;
  std::int64_t memory_max = 0;
  std::int64_t pids_max = 0;
  std::int64_t io_read_bytes = 0;
  std::int64_t io_write_bytes = 0;
  std::int64_t oom_kills = 0;
};

class UsageStore {
 public:
  explicit UsageStore(const Database& db, Clock clock = SystemClock())
      : db_(db), clock_(std::move(clock)) {}

  // All or nothing; samples of sessions not in the database are skipped. A sample repeated
  // for the same session and second replaces the earlier one
  // (an agent may resend after a reconnect).
  Status Insert(std::span<const UsageSample> samples);

  // Rolls up every completed minute (before the current one) not yet rolled up, plus a few
  // minutes before that for late samples. Returns the number of minute rows written.
  Result<std::int64_t> RollUp();

  // Deletes raw samples older than retention.raw_seconds (never ones not yet rolled up) and
  // minute rows older than retention.minute_seconds. Returns the rows deleted.
  Result<std::int64_t> Prune(const UsageRetention& retention);

  Result<std::vector<UsageMinute>> Minutes(std::string_view session_id, std::int64_t from,
                                           std::int64_t to) const;

 private:
  Result<std::int64_t> RolledUpThrough() const;

  const Database& db_;
  Clock clock_;
  std::optional<Statement> insert_;  // prepared once, reused by every batch
};

}  // namespace moat::broker::db
