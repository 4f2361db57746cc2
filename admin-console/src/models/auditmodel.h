// SPDX-License-Identifier: GPL-3.0-or-later
// Who did what when: GET /api/v1/audit and 'audit' events, newest first, bounded.
#pragma once

#include <QAbstractTableModel>
#include <QJsonArray>
#include <QJsonObject>
#include <QSet>
#include <deque>
#include <vector>

namespace moat::console {

class AuditModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { kTime, kActor, kKind, kSession, kChange, kDetail, kColumnCount };
  enum Role { kSortRole = Qt::UserRole + 1 };
  static constexpr int kMaxRows = 10000;

  explicit AuditModel(QObject* parent = nullptr);
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

  void Reset(const QJsonArray& events);                  // newest first, as the API answers
  void Prepend(const std::vector<QJsonObject>& events);  // oldest first, as the stream sends
  const QJsonObject& At(int row) const { return rows_[static_cast<size_t>(row)]; }

 private:
  std::deque<QJsonObject> rows_;
  QSet<qint64> ids_;
};

}  // namespace moat::console
