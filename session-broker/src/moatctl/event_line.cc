#include "moatctl/event_line.h"

#include <cstdio>

#include "moatctl/output.h"

namespace moat::ctl {
namespace {

using Json = nlohmann::json;

std::string Text(const Json& object, const char* key) {
  if (!object.is_object()) return "-";
  auto it = object.find(key);
  return it == object.end() ? "-" : Cell(*it);
}

// `at` is in milliseconds in the events themselves, but in seconds in an audit record (as in
// the database): `units_per_second` says which.
std::string Clock(const Json& object, int64_t units_per_second = 1000) {
  if (!object.is_object()) return "--:--:--";
  auto it = object.find("at");
  if (it == object.end() || !it->is_number()) return "--:--:--";
  return FormatClock(it->get<int64_t>() * (1000 / units_per_second));
}

std::string SessionState(const Json& e) {
  const Json& s = e.value("session", Json::object());
  std::string line = Clock(e) + " session.state " + Text(s, "id") + " " + Text(s, "user") + "@" +
                     Text(s, "host") + " " + Text(e, "from") + " -> " + Text(e, "to");
  if (s.is_object() && s.contains("failure_reason") && !s["failure_reason"].is_null()) {
    line += " (" + Text(s, "failure_reason") + ")";
  }
  return line;
}

std::string Usage(const Json& e) {
  std::string line = Clock(e) + " usage " + Text(e, "host");
  const Json& samples = e.value("samples", Json::array());
  if (samples.empty()) return line + " (no sessions)";
  for (const auto& sample : samples) {
    char cpu[32] = "-";
    if (sample.contains("cpu_percent") && sample["cpu_percent"].is_number()) {
      std::snprintf(cpu, sizeof(cpu), "%.1f%%", sample["cpu_percent"].get<double>());
    }
    Json memory = sample.value("memory_current", Json());
    line += " " + Text(sample, "session_id") + "=" + cpu + "/" +
            (memory.is_number() ? FormatBytes(memory.get<double>()) : "-");
  }
  return line;
}

std::string Audit(const Json& e) {
  const Json& a = e.value("event", Json::object());
  std::string line =
      Clock(a, /*units_per_second=*/1) + " audit " + Text(a, "kind") + " by " + Text(a, "actor");
  if (a.is_object() && a.contains("session_id") && !a["session_id"].is_null()) {
    line += " session " + Text(a, "session_id");
  }
  bool has_old = a.is_object() && a.contains("old_value") && !a["old_value"].is_null();
  bool has_new = a.is_object() && a.contains("new_value") && !a["new_value"].is_null();
  if (has_old || has_new) line += " " + Text(a, "old_value") + " -> " + Text(a, "new_value");
  return line;
}

std::string Host(const Json& e) {
  const Json& h = e.value("host", Json::object());
  return Clock(e) + " host " + Text(h, "name") + " " + Text(h, "state") +
         " enabled=" + Text(h, "enabled") + " drained=" + Text(h, "drained") +
         " capacity=" + Text(h, "capacity");
}

}  // namespace

std::string EventLine(const Json& event) {
  std::string type = event.is_object() ? event.value("type", "") : "";
  if (type == "session.state") return SessionState(event);
  if (type == "usage") return Usage(event);
  if (type == "audit") return Audit(event);
  if (type == "host") return Host(event);
  return event.dump();
}

}  // namespace moat::ctl
