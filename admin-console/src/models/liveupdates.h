// SPDX-License-Identifier: GPL-3.0-or-later
// Where the event stream meets the models. Messages are parsed as they come and queued; the
// queue is applied at most every `interval` (250 ms by default), usage reduced to the newest
// sample per session, so that 1,000 sessions at 1 Hz cost the views a handful of signals a
// second. Owns the models; does no I/O (the client hands the text over).
#pragma once

#include <QObject>
#include <QTimer>
#include <vector>

#include "models/auditmodel.h"
#include "models/event.h"
#include "models/hostmodel.h"
#include "models/sessionmodel.h"
#include "models/usagehistory.h"

namespace moat::console {

class LiveUpdates : public QObject {
  Q_OBJECT
 public:
  explicit LiveUpdates(QObject* parent = nullptr, int interval_ms = 250);

  SessionModel& sessions() { return sessions_; }
  HostModel& hosts() { return hosts_; }
  AuditModel& audit() { return audit_; }
  const UsageHistory& history() const { return history_; }

  // One text message of /api/v1/events.
  void Enqueue(const QByteArray& message);
  void Enqueue(Event event);
  // The session listing was asked for. State events applied from now until it arrives are
  // applied again over it: the listing may predate them (a session ended or created while it
  // was read would otherwise come back, or go missing, until its next event).
  void BeginSessionsSnapshot();
  // Snapshots from the API; queued events are applied over them at the next flush.
  void ResetSessions(const QJsonArray& sessions);
  void ResetHosts(const QJsonArray& hosts);
  void ResetAudit(const QJsonArray& events);
  // An action's answer (a session object): applied at once, the stream will confirm it.
  void ApplySession(const QJsonObject& session);
  // Applies whatever is queued now (the timer calls it; tests and benchmarks too).
  void Flush();
  int pending() const { return static_cast<int>(pending_sessions_.size() + pending_usage_.size()); }

 signals:
  void flushed();

 private:
  void UpdateHostLoad();

  SessionModel sessions_;
  HostModel hosts_;
  AuditModel audit_;
  UsageHistory history_;
  QTimer timer_;
  std::vector<QJsonObject> pending_sessions_, pending_audit_, pending_hosts_;
  bool awaiting_snapshot_ = false;
  std::vector<QJsonObject> during_snapshot_;  // state events applied while awaiting it
  std::vector<UsageSample> pending_usage_;
};

}  // namespace moat::console
