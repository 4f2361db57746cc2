// SPDX-License-Identifier: GPL-3.0-or-later
// Sorting and filtering of the sessions view: a search text (user, host, session id, backend)
// and exact state and host filters. Numbers sort as numbers (SessionModel::kSortRole).
#pragma once

#include <QSortFilterProxyModel>

namespace moat::console {

class SessionFilterModel : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  explicit SessionFilterModel(QObject* parent = nullptr);
  void SetSearch(const QString& text);
  void SetState(const QString& state);  // empty: any
  void SetHost(const QString& host);    // empty: any

 protected:
  bool filterAcceptsRow(int source_row, const QModelIndex& source_parent) const override;

 private:
  QString search_, state_, host_;
};

}  // namespace moat::console
