// SPDX-License-Identifier: GPL-3.0-or-later
// Who did what when, newest first, filterable.
#pragma once

#include <QWidget>

class QSortFilterProxyModel;

namespace moat::console {

class AuditModel;

class AuditView : public QWidget {
  Q_OBJECT
 public:
  explicit AuditView(AuditModel* audit, QWidget* parent = nullptr);

 private:
  QSortFilterProxyModel* filter_;
};

}  // namespace moat::console
