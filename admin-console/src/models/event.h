// SPDX-License-Identifier: GPL-3.0-or-later
// The messages of the broker's /api/v1/events stream (docs/api.md), parsed into plain values.
// No I/O here: the client hands over the text, the models take these.
#pragma once

#include <QJsonObject>
#include <QString>
#include <optional>
#include <variant>
#include <vector>

namespace moat::console {

struct UsageSample {
  QString session_id;
  qint64 at_ms = 0;
  double cpu_percent = 0;
  qint64 memory_current = 0;
  qint64 pids = 0;
};

struct SessionStateEvent {
  QString from, to;
  QJsonObject session;
};
struct UsageEvent {
  QString host;
  std::vector<UsageSample> samples;
};
struct AuditEvent {
  QJsonObject event;
};
struct HostEvent {
  QJsonObject host;
};

using Event = std::variant<SessionStateEvent, UsageEvent, AuditEvent, HostEvent>;

// One text message of the stream; nullopt for malformed JSON or a type this console does not
// know (newer brokers may add types; they are skipped, not fatal).
std::optional<Event> ParseEvent(const QByteArray& message);
UsageSample ParseUsageSample(const QJsonObject& sample);

}  // namespace moat::console
