// SPDX-License-Identifier: GPL-3.0-or-later
// The session hosts with their load; drain and undrain.
#pragma once

#include <QWidget>

class QPushButton;
class QTableView;

namespace moat::console {

class HostModel;

class HostsView : public QWidget {
  Q_OBJECT
 public:
  explicit HostsView(HostModel* hosts, QWidget* parent = nullptr);
  QString CurrentHost() const;
  void SetCanDrain(bool can);

 signals:
  void drainRequested(const QString& host, bool drained);

 private:
  QTableView* table_;
  QPushButton* drain_;
  QPushButton* undrain_;
};

}  // namespace moat::console
