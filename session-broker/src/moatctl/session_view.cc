#include "moatctl/session_view.h"

#include <cstdio>

#include "moatctl/output.h"

namespace moat::ctl {
namespace {

using Json = nlohmann::json;

const Json& Field(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string Percent(const Json& value) {
  if (!value.is_number()) return "-";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f", value.get<double>());
  return buffer;
}

std::string Bytes(const Json& value) {
  return value.is_number() ? FormatBytes(value.get<double>()) : Cell(value);
}

std::string Time(const Json& value) {
  return value.is_number_integer() ? FormatTime(value.get<int64_t>()) : Cell(value);
}

bool IsSizeKey(const std::string& key) {
  return key == "memory_max" || key == "memory_high" || key == "swap_max";
}

}  // namespace

std::vector<std::string> SessionHeaders() {
  return {"ID", "USER", "HOST", "STATE", "BACKEND", "CPU%", "MEM", "AGE"};
}

std::vector<std::string> SessionRow(const Json& s) {
  const Json& usage = Field(s, "usage");
  const Json& created = Field(s, "created_at");
  std::string age =
      created.is_number_integer() ? FormatAge(NowSeconds() - created.get<int64_t>()) : "-";
  return {Cell(Field(s, "id")),
          Cell(Field(s, "user")),
          Cell(Field(s, "host")),
          Cell(Field(s, "state")),
          Cell(Field(s, "backend")),
          Percent(Field(usage, "cpu_percent")),
          Bytes(Field(usage, "memory_current")),
          age};
}

std::string FormatLimits(const Json& limits) {
  if (!limits.is_object() || limits.empty()) return "-";
  std::string out;
  for (const auto& [key, value] : limits.items()) {
    if (!out.empty()) out += ' ';
    out += key + "=" + (IsSizeKey(key) && value.is_number() ? Bytes(value) : Cell(value));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> SessionFields(const Json& s,
                                                               const Json& effective) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", Cell(Field(s, "id"))},
      {"user", Cell(Field(s, "user"))},
      {"host", Cell(Field(s, "host"))},
      {"backend", Cell(Field(s, "backend"))},
      {"state", Cell(Field(s, "state"))},
      {"created", Time(Field(s, "created_at"))},
      {"updated", Time(Field(s, "updated_at"))},
      {"last input", Time(Field(s, "last_input_at"))},
  };
  if (!Field(s, "ended_at").is_null()) fields.emplace_back("ended", Time(Field(s, "ended_at")));
  if (!Field(s, "failure_reason").is_null()) {
    fields.emplace_back("failure", Cell(Field(s, "failure_reason")));
  }
  if (Field(s, "reconnected").is_boolean()) {
    fields.emplace_back("reconnected", Cell(Field(s, "reconnected")));
  }
  fields.emplace_back("limits", FormatLimits(Field(s, "limits")));
  if (!effective.is_null()) fields.emplace_back("effective limits", FormatLimits(effective));
  const Json& usage = Field(s, "usage");
  if (usage.is_object()) {
    fields.emplace_back("cpu", Percent(Field(usage, "cpu_percent")) + "%");
    fields.emplace_back("memory", Bytes(Field(usage, "memory_current")) + " (peak " +
                                      Bytes(Field(usage, "memory_peak")) + ")");
    fields.emplace_back("pids", Cell(Field(usage, "pids")));
    fields.emplace_back("oom kills", Cell(Field(usage, "oom_kills")));
  }
  return fields;
}

}  // namespace moat::ctl
