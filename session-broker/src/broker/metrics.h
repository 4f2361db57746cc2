// /metrics in the Prometheus text format (version 0.0.4). Counters are atomics bumped on the
// hot paths; gauges of database state (sessions by state, hosts) are read at scrape time.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "db/database.h"

namespace moat::broker {

class Metrics {
 public:
  // Upper bounds of the API latency histogram, in seconds.
  static constexpr std::array<double, 10> kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                             0.025,  0.05,  0.1,    0.5,   2.5};

  void RecordRequest(int status, std::chrono::nanoseconds duration);
  void RecordIngest(std::size_t samples, std::chrono::nanoseconds cpu_time);
  void RecordAgentRequest(bool ok);
  // A display client was relayed (+1) or left (-1); `web` for browsers, else native VNC.
  void RecordDisplayClient(bool web, int delta);

  struct Live {
    std::size_t agents_connected = 0;
    std::size_t event_subscribers = 0;
  };
  // The whole exposition; reads sessions and hosts from `db`.
  Result<std::string> Render(const db::Database& db, const Live& live) const;

 private:
  std::array<std::atomic<std::uint64_t>, kLatencyBuckets.size() + 1> latency_counts_{};
  std::atomic<std::uint64_t> latency_sum_ns_{0};
  std::array<std::atomic<std::uint64_t>, 6> status_classes_{};  // 0, 1xx … 5xx
  std::atomic<std::uint64_t> samples_ingested_{0};
  std::atomic<std::uint64_t> batches_ingested_{0};
  std::atomic<std::uint64_t> ingest_ns_{0};
  std::atomic<std::uint64_t> agent_requests_ok_{0};
  std::atomic<std::uint64_t> agent_requests_failed_{0};
  std::array<std::atomic<std::int64_t>, 2> display_clients_{};       // vnc, web
  std::array<std::atomic<std::uint64_t>, 2> display_connections_{};  // vnc, web, since start
};

}  // namespace moat::broker
