// SPDX-License-Identifier: GPL-3.0-or-later
// The live sessions, one row each, fed by the event stream through LiveUpdates. Reacts to data
// handed to it and never does I/O. Changes are announced as contiguous dataChanged ranges, or
// one range over everything when most rows changed (after qBittorrent and libksysguard).
#pragma once

#include <QAbstractTableModel>
#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <vector>

#include "models/event.h"

namespace moat::console {

struct SessionRow {
  QString id, user, host, backend, state, failure_reason;
  QJsonObject limits;
  qint64 created_at = 0, updated_at = 0;  // Unix seconds
  qint64 last_input_at = -1;              // Unix seconds, -1 when never reported
  double cpu_percent = 0;
  qint64 memory = 0, pids = 0;
  qint64 usage_at_ms = 0;
};

class SessionModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column {
    kUser,
    kHost,
    kBackend,
    kState,
    kCpu,
    kMemory,
    kPids,
    kIdle,
    kStarted,
    kId,
    kColumnCount
  };
  enum Role { kSortRole = Qt::UserRole + 1, kIdRole };

  explicit SessionModel(QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

  // Replaces everything with a GET /api/v1/sessions listing.
  void Reset(const QJsonArray& sessions);
  // Session objects from session.state events, oldest first. A session that reached 'ended' or
  // 'failed' leaves the model; an update older than what the row holds is ignored.
  void ApplySessions(const std::vector<QJsonObject>& sessions);
  // The newest sample per session; samples of unknown sessions are ignored.
  void ApplyUsage(const std::vector<UsageSample>& samples);
  // Limits announced by an audit event (a change by anyone, this console or another).
  void SetLimits(const QString& id, const QJsonObject& limits);
  // The clock the idle column is computed against (Unix seconds).
  void SetNow(qint64 now_s);

  int RowOf(const QString& id) const { return index_.value(id, -1); }
  const SessionRow& At(int row) const { return rows_[static_cast<size_t>(row)]; }
  const SessionRow* Find(const QString& id) const;

 signals:
  // A session left the model (ended or failed); its detail window may close.
  void sessionGone(const QString& id, const QString& state);
  // Someone (this console or another) changed a session's limits.
  void limitsChanged(const QString& id);

 private:
  static SessionRow FromJson(const QJsonObject& session);
  void EmitChanged(std::vector<int>& rows, int first_column, int last_column);
  void RemoveRow(int row);
  void Reindex(int from_row);

  std::vector<SessionRow> rows_;
  QHash<QString, int> index_;
  qint64 now_s_ = 0;
};

bool IsLiveState(const QString& state);

}  // namespace moat::console
