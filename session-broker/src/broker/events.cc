#include "broker/events.h"

#include <chrono>

namespace moat::broker {
namespace {

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <typename T>
wire::Json Optional(const std::optional<T>& value) {
  if (!value) return nullptr;
  return *value;
}

}  // namespace

wire::Json ToJson(const db::Host& h) {
  return wire::Json{{"id", h.id},
                    {"name", h.name},
                    {"address", h.address},
                    {"capacity", h.capacity},
                    {"enabled", h.enabled},
                    {"drained", h.drained},
                    {"state", h.state},
                    {"last_seen", Optional(h.last_seen)},
                    {"cert_fingerprint", Optional(h.cert_fingerprint)},
                    {"created_at", h.created_at}};
}

wire::Json ToJson(const db::AuditRecord& r) {
  return wire::Json{{"id", r.id},
                    {"at", r.at},
                    {"actor", r.actor},
                    {"kind", r.kind},
                    {"session_id", Optional(r.session_id)},
                    {"old_value", Optional(r.old_value)},
                    {"new_value", Optional(r.new_value)},
                    {"detail", wire::Json::parse(r.detail, nullptr, false).is_discarded()
                                   ? wire::Json::object()
                                   : wire::Json::parse(r.detail)}};
}

wire::Json ToJson(const wire::UsageSample& s) {
  wire::Json psi = wire::Json::object();
  if (s.psi.cpu) psi["cpu"] = *s.psi.cpu;
  if (s.psi.memory) psi["memory"] = *s.psi.memory;
  if (s.psi.io) psi["io"] = *s.psi.io;
  return wire::Json{{"session_id", s.session_id},
                    {"at", s.at},
                    {"cpu_usage_us", s.cpu_usage_us},
                    {"cpu_percent", s.cpu_percent},
                    {"memory_current", s.memory_current},
                    {"memory_peak", s.memory_peak},
                    {"pids", s.pids},
                    {"io_read_bytes", s.io_read_bytes},
                    {"io_write_bytes", s.io_write_bytes},
                    {"oom_kills", s.oom_kills},
                    {"psi", std::move(psi)}};
}

void Events::SessionState(const SessionView& session, std::string_view from) {
  if (Quiet()) return;
  hub_.Publish(wire::Json{{"type", "session.state"},
                          {"at", NowMs()},
                          {"from", from.empty() ? wire::Json(nullptr) : wire::Json(from)},
                          {"to", session.state},
                          {"session", ToJson(session)}}
                   .dump());
}

void Events::Usage(std::string_view host, const std::vector<std::string>& samples) {
  if (Quiet()) return;
  std::string message = "{\"type\":\"usage\",\"at\":" + std::to_string(NowMs()) + ",\"host\":";
  AppendJsonString(message, host);
  message += ",\"samples\":[";
  for (size_t i = 0; i < samples.size(); ++i) {
    if (i > 0) message += ',';
    message += samples[i];
  }
  message += "]}";
  hub_.Publish(std::move(message));
}

void Events::Audit(const db::AuditRecord& record) {
  if (Quiet()) return;
  hub_.Publish(wire::Json{{"type", "audit"}, {"event", ToJson(record)}}.dump());
}

void Events::Host(const db::Host& host, bool connected) {
  if (Quiet()) return;
  wire::Json json = ToJson(host);
  json["connected"] = connected;
  hub_.Publish(wire::Json{{"type", "host"}, {"at", NowMs()}, {"host", std::move(json)}}.dump());
}

}  // namespace moat::broker
