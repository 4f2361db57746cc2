// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/event.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace moat::console {

UsageSample ParseUsageSample(const QJsonObject& sample) {
  return UsageSample{.session_id = sample.value(QLatin1String("session_id")).toString(),
                     .at_ms = sample.value(QLatin1String("at")).toInteger(),
                     .cpu_percent = sample.value(QLatin1String("cpu_percent")).toDouble(),
                     .memory_current = sample.value(QLatin1String("memory_current")).toInteger(),
                     .pids = sample.value(QLatin1String("pids")).toInteger()};
}

std::optional<Event> ParseEvent(const QByteArray& message) {
  QJsonParseError error{};
  QJsonDocument document = QJsonDocument::fromJson(message, &error);
  if (error.error != QJsonParseError::NoError || !document.isObject()) return std::nullopt;
  QJsonObject object = document.object();
  QString type = object.value(QLatin1String("type")).toString();
  if (type == QLatin1String("session.state")) {
    QJsonObject session = object.value(QLatin1String("session")).toObject();
    if (session.value(QLatin1String("id")).toString().isEmpty()) return std::nullopt;
    return SessionStateEvent{object.value(QLatin1String("from")).toString(),
                             object.value(QLatin1String("to")).toString(), session};
  }
  if (type == QLatin1String("usage")) {
    UsageEvent usage{object.value(QLatin1String("host")).toString(), {}};
    const QJsonArray samples = object.value(QLatin1String("samples")).toArray();
    usage.samples.reserve(samples.size());
    for (const auto& sample : samples) usage.samples.push_back(ParseUsageSample(sample.toObject()));
    return usage;
  }
  if (type == QLatin1String("audit")) {
    return AuditEvent{object.value(QLatin1String("event")).toObject()};
  }
  if (type == QLatin1String("host")) {
    return HostEvent{object.value(QLatin1String("host")).toObject()};
  }
  return std::nullopt;
}

}  // namespace moat::console
