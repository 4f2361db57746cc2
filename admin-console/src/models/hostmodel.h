// SPDX-License-Identifier: GPL-3.0-or-later
// The session hosts: what GET /api/v1/hosts and 'host' events say, plus the load the live
// sessions put on each (counted from the sessions model by LiveUpdates).
#pragma once

#include <QAbstractTableModel>
#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <vector>

namespace moat::console {

struct HostLoad {
  int sessions = 0;
  double cpu_percent = 0;
  qint64 memory = 0;
};

class HostModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column {
    kName,
    kState,
    kConnected,
    kDrained,
    kEnabled,
    kSessions,
    kCapacity,
    kCpu,
    kMemory,
    kColumnCount
  };
  enum Role { kSortRole = Qt::UserRole + 1, kNameRole };

  explicit HostModel(QObject* parent = nullptr);
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

  void Reset(const QJsonArray& hosts);
  // A host object from an event or an action's answer; its keys are merged over the row's.
  void Upsert(const QJsonObject& host);
  void SetLoad(const QHash<QString, HostLoad>& load);
  const QJsonObject* Find(const QString& name) const;

 private:
  struct Row {
    QJsonObject host;
    HostLoad load;
  };
  std::vector<Row> rows_;
  QHash<QString, int> index_;
};

}  // namespace moat::console
