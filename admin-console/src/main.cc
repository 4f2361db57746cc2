// SPDX-License-Identifier: GPL-3.0-or-later
// moat-console: the admin console. Asks where to connect, then shows the broker live.
#include <QApplication>
#include <QCommandLineParser>
#include <QMessageBox>
#include <QTimer>

#include "client/brokerclient.h"
#include "client/feed.h"
#include "models/liveupdates.h"
#include "ui/mainwindow.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("Moat"));
  QApplication::setApplicationName(QStringLiteral("moat-console"));
  QApplication::setApplicationVersion(QStringLiteral("0.1.0"));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("The Moat admin console"));
  parser.addHelpOption();
  parser.addVersionOption();
  QCommandLineOption broker(QStringLiteral("broker"), QStringLiteral("Broker URL to connect to."),
                            QStringLiteral("url"));
  QCommandLineOption user(QStringLiteral("user"), QStringLiteral("User name."),
                          QStringLiteral("name"));
  parser.addOption(broker);
  parser.addOption(user);
  parser.process(app);

  moat::console::TrustedCa trust;
  moat::console::BrokerClient client(&trust);
  moat::console::LiveUpdates live;
  moat::console::Feed(&client, &live);
  moat::console::MainWindow window(&client, &live);
  client.SetTrustPrompt([&window](const QUrl& server, const QString& fingerprint) {
    return QMessageBox::question(
               &window, QObject::tr("Trust This Broker?"),
               QObject::tr("First connection to %1.\n\nIts CA certificate has the SHA-256 "
                           "fingerprint\n%2\n\nCompare it with the one moat-broker printed at "
                           "start. Trust it and remember it?")
                   .arg(server.authority(), fingerprint),
               QMessageBox::Yes | QMessageBox::No, QMessageBox::No) == QMessageBox::Yes;
  });
  window.SetConnectDefaults(parser.value(broker), parser.value(user));
  window.show();
  QTimer::singleShot(0, &window, [&] { window.ShowConnectDialog(); });
  return app.exec();
}
