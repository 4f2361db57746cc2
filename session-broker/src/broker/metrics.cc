#include "broker/metrics.h"

#include <cstdio>
#include <map>

#include "db/session_state.h"

namespace moat::broker {
namespace {

std::string Number(double value) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.9g", value);
  return text;
}

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

}  // namespace

void Metrics::RecordRequest(int status, std::chrono::nanoseconds duration) {
  double seconds = std::chrono::duration<double>(duration).count();
  size_t bucket = 0;
  while (bucket < kLatencyBuckets.size() && seconds > kLatencyBuckets[bucket]) ++bucket;
  latency_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_.fetch_add(static_cast<uint64_t>(duration.count()), std::memory_order_relaxed);
  int status_class = status / 100;
  if (status_class < 1 || status_class > 5) status_class = 0;
  status_classes_[status_class].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::RecordIngest(std::size_t samples, std::chrono::nanoseconds cpu_time) {
  samples_ingested_.fetch_add(samples, std::memory_order_relaxed);
  batches_ingested_.fetch_add(1, std::memory_order_relaxed);
  ingest_ns_.fetch_add(static_cast<uint64_t>(cpu_time.count()), std::memory_order_relaxed);
}

void Metrics::RecordAgentRequest(bool ok) {
  (ok ? agent_requests_ok_ : agent_requests_failed_).fetch_add(1, std::memory_order_relaxed);
}

Result<std::string> Metrics::Render(const db::Database& db, const Live& live) const {
  std::string out;
  Header(out, "moat_sessions", "gauge", "Sessions in the database by state.");
  {
    MOAT_TRY(auto stmt, db.Prepare("SELECT state, count(*) FROM sessions GROUP BY state"));
    std::map<std::string, int64_t> counts;
    for (;;) {
      MOAT_TRY(bool row, stmt.Step());
      if (!row) break;
      counts[stmt.Text(0)] = stmt.Int(1);
    }
    for (auto state : db::AllSessionStates()) {
      std::string name(db::ToString(state));
      out += "moat_sessions{state=\"" + name + "\"} " + std::to_string(counts[name]) + "\n";
    }
  }
  Header(out, "moat_hosts", "gauge", "Session hosts by state (online, offline, unknown).");
  {
    MOAT_TRY(auto stmt, db.Prepare("SELECT state, count(*) FROM hosts GROUP BY state"));
    std::map<std::string, int64_t> counts{{"online", 0}, {"offline", 0}, {"unknown", 0}};
    for (;;) {
      MOAT_TRY(bool row, stmt.Step());
      if (!row) break;
      counts[stmt.Text(0)] = stmt.Int(1);
    }
    for (const auto& [state, count] : counts) {
      out += "moat_hosts{state=\"" + state + "\"} " + std::to_string(count) + "\n";
    }
  }
  {
    MOAT_TRY(auto drained, db.QueryInt("SELECT count(*) FROM hosts WHERE drained = 1"));
    Header(out, "moat_hosts_drained", "gauge", "Hosts that take no new sessions.");
    out += "moat_hosts_drained " + std::to_string(drained) + "\n";
  }
  Header(out, "moat_agents_connected", "gauge", "Agents with a live link to this broker.");
  out += "moat_agents_connected " + std::to_string(live.agents_connected) + "\n";
  Header(out, "moat_display_clients", "gauge",
         "Viewers relayed by the display gateway now (owners and read-only viewers).");
  Header(out, "moat_display_connections_total", "counter",
         "Viewers the display gateway has relayed since the broker started.");
  for (size_t i = 0; i < 2; ++i) {
    std::string via = i == 0 ? "vnc" : "web";
    out += "moat_display_clients{via=\"" + via + "\"} " +
           std::to_string(display_clients_[i].load(std::memory_order_relaxed)) + "\n";
    out += "moat_display_connections_total{via=\"" + via + "\"} " +
           std::to_string(display_connections_[i].load(std::memory_order_relaxed)) + "\n";
  }
  Header(out, "moat_event_subscribers", "gauge", "Clients of the /api/v1/events stream.");
  out += "moat_event_subscribers " + std::to_string(live.event_subscribers) + "\n";

  Header(out, "moat_api_request_duration_seconds", "histogram",
         "Time from a whole request to its response, per API request.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += latency_counts_[i].load(std::memory_order_relaxed);
    out += "moat_api_request_duration_seconds_bucket{le=\"" + Number(kLatencyBuckets[i]) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  cumulative += latency_counts_.back().load(std::memory_order_relaxed);
  out +=
      "moat_api_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += "moat_api_request_duration_seconds_sum " +
         Number(static_cast<double>(latency_sum_ns_.load()) / 1e9) + "\n";
  out += "moat_api_request_duration_seconds_count " + std::to_string(cumulative) + "\n";
  Header(out, "moat_api_requests_total", "counter", "API responses by status class.");
  for (int c = 1; c <= 5; ++c) {
    out += "moat_api_requests_total{code=\"" + std::to_string(c) + "xx\"} " +
           std::to_string(status_classes_[c].load()) + "\n";
  }
  Header(out, "moat_usage_samples_ingested_total", "counter",
         "Usage samples received from agents and written to the database.");
  out += "moat_usage_samples_ingested_total " + std::to_string(samples_ingested_.load()) + "\n";
  Header(out, "moat_usage_batches_ingested_total", "counter", "Usage batches received.");
  out += "moat_usage_batches_ingested_total " + std::to_string(batches_ingested_.load()) + "\n";
  Header(out, "moat_usage_ingest_cpu_seconds_total", "counter",
         "CPU time the broker spent decoding and storing usage batches.");
  out += "moat_usage_ingest_cpu_seconds_total " +
         Number(static_cast<double>(ingest_ns_.load()) / 1e9) + "\n";
  Header(out, "moat_agent_requests_total", "counter", "Requests to agents by outcome.");
  out += "moat_agent_requests_total{outcome=\"ok\"} " + std::to_string(agent_requests_ok_.load()) +
         "\n";
  out += "moat_agent_requests_total{outcome=\"failed\"} " +
         std::to_string(agent_requests_failed_.load()) + "\n";
  return out;
}

void Metrics::RecordDisplayClient(bool web, int delta) {
  size_t via = web ? 1 : 0;
  display_clients_[via].fetch_add(delta, std::memory_order_relaxed);
  if (delta > 0) display_connections_[via].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace moat::broker
