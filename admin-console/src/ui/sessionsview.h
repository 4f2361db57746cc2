// SPDX-License-Identifier: GPL-3.0-or-later
// The live sessions table: search box, state and host filters, sortable columns. A view: it
// reads the models and says what the admin asked for; it never calls the network.
#pragma once

#include <QWidget>

class QComboBox;
class QLineEdit;
class QTableView;

namespace moat::console {

class HostModel;
class SessionFilterModel;
class SessionModel;

class SessionsView : public QWidget {
  Q_OBJECT
 public:
  SessionsView(SessionModel* sessions, HostModel* hosts, QWidget* parent = nullptr);
  QString CurrentSession() const;  // empty when none is selected
  QTableView* table() const { return table_; }
  SessionFilterModel* filter() const { return filter_; }
  void FocusSearch();

 signals:
  void sessionActivated(const QString& id);
  void currentChanged(const QString& id);

 private:
  void RefreshHosts();

  HostModel* hosts_;
  SessionFilterModel* filter_;
  QLineEdit* search_;
  QComboBox* state_;
  QComboBox* host_;
  QTableView* table_;
};

}  // namespace moat::console
