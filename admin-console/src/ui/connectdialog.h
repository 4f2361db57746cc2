// SPDX-License-Identifier: GPL-3.0-or-later
// Broker URL (remembered servers), user name and password.
#pragma once

#include <QDialog>
#include <QUrl>

class QComboBox;
class QLineEdit;

namespace moat::console {

class ConnectDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ConnectDialog(QWidget* parent = nullptr);
  // Pre-filled from the command line (--broker, --user).
  void Prefill(const QString& server, const QString& user);
  // What was typed; an address without a scheme is taken as https://.
  QUrl server() const;
  QString user() const;
  QString password() const;
  void Remember() const;  // after a successful connect

 private:
  QComboBox* server_;
  QLineEdit* user_;
  QLineEdit* password_;
};

}  // namespace moat::console
