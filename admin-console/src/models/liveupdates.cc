// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/liveupdates.h"

#include <QDateTime>
#include <QJsonDocument>

namespace moat::console {

LiveUpdates::LiveUpdates(QObject* parent, int interval_ms) : QObject(parent) {
  timer_.setSingleShot(true);
  timer_.setInterval(interval_ms);
  connect(&timer_, &QTimer::timeout, this, &LiveUpdates::Flush);
  connect(&sessions_, &SessionModel::sessionGone, this,
          [this](const QString& id, const QString&) { history_.Remove(id); });
}

void LiveUpdates::Enqueue(const QByteArray& message) {
  if (auto event = ParseEvent(message)) Enqueue(std::move(*event));
}

void LiveUpdates::Enqueue(Event event) {
  if (auto* state = std::get_if<SessionStateEvent>(&event)) {
    pending_sessions_.push_back(std::move(state->session));
  } else if (auto* usage = std::get_if<UsageEvent>(&event)) {
    pending_usage_.insert(pending_usage_.end(), std::make_move_iterator(usage->samples.begin()),
                          std::make_move_iterator(usage->samples.end()));
  } else if (auto* audit = std::get_if<AuditEvent>(&event)) {
    pending_audit_.push_back(std::move(audit->event));
  } else if (auto* host = std::get_if<HostEvent>(&event)) {
    pending_hosts_.push_back(std::move(host->host));
  }
  // The first event after a flush arms the timer; the rest ride along.
  if (!timer_.isActive()) timer_.start();
}

void LiveUpdates::BeginSessionsSnapshot() {
  awaiting_snapshot_ = true;
  during_snapshot_.clear();
}

void LiveUpdates::ResetSessions(const QJsonArray& sessions) {
  sessions_.Reset(sessions);
  history_.Clear();
  // Those older than a listed row are ignored by the model (updated_at), as ever.
  if (!during_snapshot_.empty()) sessions_.ApplySessions(during_snapshot_);
  awaiting_snapshot_ = false;
  during_snapshot_.clear();
  UpdateHostLoad();
}

void LiveUpdates::ResetHosts(const QJsonArray& hosts) {
  hosts_.Reset(hosts);
  UpdateHostLoad();
}

void LiveUpdates::ResetAudit(const QJsonArray& events) { audit_.Reset(events); }

void LiveUpdates::ApplySession(const QJsonObject& session) {
  sessions_.ApplySessions({session});
  UpdateHostLoad();
}

void LiveUpdates::Flush() {
  timer_.stop();
  if (!pending_sessions_.empty()) {
    sessions_.ApplySessions(pending_sessions_);
    if (awaiting_snapshot_) {
      during_snapshot_.insert(during_snapshot_.end(), pending_sessions_.begin(),
                              pending_sessions_.end());
    }
    pending_sessions_.clear();
  }
  if (!pending_usage_.empty()) {
    history_.Append(pending_usage_);
    sessions_.ApplyUsage(pending_usage_);  // keeps the newest per session
    pending_usage_.clear();
  }
  for (const auto& host : pending_hosts_) hosts_.Upsert(host);
  pending_hosts_.clear();
  if (!pending_audit_.empty()) {
    // A limits change is announced only as an audit event: its new value is the limits.
    for (const auto& event : pending_audit_) {
      if (event.value(QLatin1String("kind")).toString() != QLatin1String("session.limits"))
        continue;
      QJsonDocument limits =
          QJsonDocument::fromJson(event.value(QLatin1String("new_value")).toString().toUtf8());
      if (limits.isObject()) {
        sessions_.SetLimits(event.value(QLatin1String("session_id")).toString(), limits.object());
      }
    }
    audit_.Prepend(pending_audit_);
    pending_audit_.clear();
  }
  sessions_.SetNow(QDateTime::currentSecsSinceEpoch());
  UpdateHostLoad();
  emit flushed();
}

void LiveUpdates::UpdateHostLoad() {
  QHash<QString, HostLoad> load;
  for (int row = 0; row < sessions_.rowCount(); ++row) {
    const SessionRow& session = sessions_.At(row);
    HostLoad& host = load[session.host];
    ++host.sessions;
    host.cpu_percent += session.cpu_percent;
    host.memory += session.memory;
  }
  hosts_.SetLoad(load);
}

}  // namespace moat::console
