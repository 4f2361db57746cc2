// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/connectdialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLineEdit>
#include <QSettings>

namespace moat::console {

ConnectDialog::ConnectDialog(QWidget* parent)
    : QDialog(parent), server_(new QComboBox), user_(new QLineEdit), password_(new QLineEdit) {
  setWindowTitle(tr("Connect to a Moat Broker"));
  QSettings settings;
  server_->setEditable(true);
  server_->addItems(settings.value(QStringLiteral("servers/recent")).toStringList());
  if (server_->count() == 0) server_->addItem(QStringLiteral("https://localhost:8443"));
  server_->setMinimumWidth(320);
  user_->setText(
      settings.value(QStringLiteral("servers/user"), QStringLiteral("admin")).toString());
  password_->setEchoMode(QLineEdit::Password);
  auto* form = new QFormLayout(this);
  form->addRow(tr("&Broker:"), server_);
  form->addRow(tr("&User:"), user_);
  form->addRow(tr("&Password:"), password_);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  form->addRow(buttons);
  password_->setFocus();
}

QUrl ConnectDialog::server() const {
  QString text = server_->currentText().trimmed();
  // fromUserInput would make "broker:8443" an http:// address.
  if (!text.contains(QLatin1String("://"))) text.prepend(QLatin1String("https://"));
  return QUrl(text, QUrl::StrictMode);
}

void ConnectDialog::Prefill(const QString& server, const QString& user) {
  if (!server.isEmpty()) server_->setCurrentText(server);
  if (!user.isEmpty()) user_->setText(user);
}
QString ConnectDialog::user() const { return user_->text().trimmed(); }
QString ConnectDialog::password() const { return password_->text(); }

void ConnectDialog::Remember() const {
  QSettings settings;
  QStringList recent = settings.value(QStringLiteral("servers/recent")).toStringList();
  QString url = server().toString();
  recent.removeAll(url);
  recent.prepend(url);
  while (recent.size() > 10) recent.removeLast();
  settings.setValue(QStringLiteral("servers/recent"), recent);
  settings.setValue(QStringLiteral("servers/user"), user());
}

}  // namespace moat::console
