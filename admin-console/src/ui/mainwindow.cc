// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/mainwindow.h"

#include <QApplication>
#include <QCloseEvent>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QProcess>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>

#include "models/liveupdates.h"
#include "ui/auditview.h"
#include "ui/connectdialog.h"
#include "ui/hostsview.h"
#include "ui/limitsdialog.h"
#include "ui/sessiondetail.h"
#include "ui/sessionsview.h"

namespace moat::console {

MainWindow::MainWindow(BrokerClient* client, LiveUpdates* live, QWidget* parent)
    : QMainWindow(parent),
      client_(client),
      live_(live),
      tabs_(new QTabWidget),
      sessions_(new SessionsView(&live->sessions(), &live->hosts())),
      hosts_(new HostsView(&live->hosts())),
      audit_(new AuditView(&live->audit())),
      connection_(new QLabel(tr("Not connected"))) {
  setWindowTitle(tr("Moat Console"));
  setObjectName(QStringLiteral("MoatConsoleMainWindow"));
  confirm_ = [this](const QString& title, const QString& text) {
    return QMessageBox::question(this, title, text, QMessageBox::Yes | QMessageBox::Cancel,
                                 QMessageBox::Cancel) == QMessageBox::Yes;
  };
  tabs_->addTab(sessions_, tr("&Sessions"));
  tabs_->addTab(hosts_, tr("&Hosts"));
  tabs_->addTab(audit_, tr("&Audit"));
  setCentralWidget(tabs_);
  statusBar()->addPermanentWidget(connection_);
  BuildMenus();

  connect(client_, &BrokerClient::stateChanged, this, &MainWindow::OnStateChanged);
  connect(client_, &BrokerClient::roleChanged, this, &MainWindow::UpdateActions);
  connect(sessions_, &SessionsView::sessionActivated, this, &MainWindow::OpenDetail);
  connect(sessions_, &SessionsView::currentChanged, this, &MainWindow::UpdateActions);
  connect(hosts_, &HostsView::drainRequested, this, &MainWindow::SetDrained);
  // Another admin's throttle: an open detail reads the kernel's values again.
  connect(&live_->sessions(), &SessionModel::limitsChanged, this, [this](const QString& id) {
    if (details_.value(id) && client_->state() == BrokerClient::State::kConnected) {
      LoadEffectiveLimits(id);
    }
  });
  connect(live_, &LiveUpdates::flushed, this, [this] {
    statusBar()->setToolTip(tr("%1 live sessions").arg(live_->sessions().rowCount()));
  });
  RestoreLayout();
  OnStateChanged(client_->state(), client_->status_text());
}

MainWindow::~MainWindow() = default;

void MainWindow::BuildMenus() {
  QMenu* connection = menuBar()->addMenu(tr("&Connection"));
  connection->addAction(tr("&Connect…"), QKeySequence::Open, this, &MainWindow::ShowConnectDialog);
  disconnect_action_ =
      connection->addAction(tr("&Disconnect"), this, [this] { client_->Disconnect(); });
  connection->addAction(tr("&Forget Server Certificate"), this, [this] {
    TrustedCa().Forget(client_->server());
    statusBar()->showMessage(tr("Forgot the CA of %1").arg(client_->server().authority()), 5000);
  });
  connection->addSeparator();
  connection->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

  QMenu* session = menuBar()->addMenu(tr("S&ession"));
  auto add = [&](const QString& key, const QString& text, const QKeySequence& shortcut) {
    QAction* action = session->addAction(text, shortcut, this, [this, key] {
      if (QString id = sessions_->CurrentSession(); !id.isEmpty()) RunAction(key, id);
    });
    session_actions_.insert(key, action);
  };
  add(QStringLiteral("details"), tr("&Details…"), QKeySequence(Qt::CTRL | Qt::Key_I));
  session->addSeparator();
  add(QStringLiteral("limits"), tr("Change &Limits…"), QKeySequence(Qt::CTRL | Qt::Key_L));
  add(QStringLiteral("suspend"), tr("&Suspend"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S));
  add(QStringLiteral("resume"), tr("&Resume"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R));
  add(QStringLiteral("disconnect"), tr("Dis&connect User"),
      QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_D));
  add(QStringLiteral("logoff"), tr("Log &Off User…"),
      QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_L));
  add(QStringLiteral("end"), tr("&End Session…"), QKeySequence::Delete);
  add(QStringLiteral("message"), tr("Send &Message…"), QKeySequence(Qt::CTRL | Qt::Key_M));
  session->addSeparator();
  add(QStringLiteral("launch"), tr("Launch &Application…"),
      QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_A));

  QMenu* view = menuBar()->addMenu(tr("&View"));
  view->addAction(tr("&Refresh"), QKeySequence::Refresh, this, [this] { client_->Refresh(); });
  view->addAction(tr("&Find Session"), QKeySequence::Find, this, [this] {
    tabs_->setCurrentWidget(sessions_);
    sessions_->FocusSearch();
  });
  view->addSeparator();
  for (int tab = 0; tab < tabs_->count(); ++tab) {
    view->addAction(tabs_->tabText(tab).remove(QLatin1Char('&')),
                    QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + tab)), this,
                    [this, tab] { tabs_->setCurrentIndex(tab); });
  }

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About Moat Console"), this, [this] {
    QMessageBox::about(this, tr("About Moat Console"),
                       tr("<b>moat-console</b><br>The admin console of Moat, a multi-session "
                          "terminal server.<br>GPL-3.0-or-later."));
  });
}

void MainWindow::UpdateActions() {
  bool has_session = !sessions_->CurrentSession().isEmpty();
  bool connected = client_->state() == BrokerClient::State::kConnected;
  bool operate = connected && client_->CanOperate();
  for (auto it = session_actions_.begin(); it != session_actions_.end(); ++it) {
    bool allowed = it.key() == QLatin1String("details")  ? true
                   : it.key() == QLatin1String("launch") ? connected && client_->IsAdmin()
                                                         : operate;
    it.value()->setEnabled(has_session && allowed);
  }
  if (disconnect_action_ != nullptr) disconnect_action_->setEnabled(connected);
  hosts_->SetCanDrain(connected && client_->IsAdmin());
  for (const auto& detail : details_) {
    if (detail) detail->SetCanOperate(operate, connected && client_->IsAdmin());
  }
}

void MainWindow::OnStateChanged(BrokerClient::State state, const QString& text) {
  QString role = client_->role().isEmpty() ? QString() : tr(" · role %1").arg(client_->role());
  QString first_line = text.isEmpty() ? tr("Not connected") : text.section(QLatin1Char('\n'), 0, 0);
  connection_->setText(first_line + (state == BrokerClient::State::kConnected ? role : QString()));
  if (state == BrokerClient::State::kRefused) {
    auto* box = new QMessageBox(QMessageBox::Critical, tr("Connection Refused"), text,
                                QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  }
  UpdateActions();
}

QString MainWindow::Describe(const QString& id) const {
  const SessionRow* row = live_->sessions().Find(id);
  return row ? tr("%1's session %2 on %3").arg(row->user, id, row->host) : tr("session %1").arg(id);
}

BrokerClient::Done MainWindow::Report(const QString& what) {
  QPointer<MainWindow> self(this);
  return [self, what](const BrokerClient::Reply& reply) {
    if (!self) return;
    if (reply.ok()) {
      QJsonObject body = reply.body.toObject();
      // A session answer updates the table at once; the stream confirms it a moment later.
      if (body.contains(QLatin1String("state")) && body.contains(QLatin1String("id"))) {
        self->live_->ApplySession(body);
      }
      if (body.contains(QLatin1String("effective_limits"))) {
        if (auto detail = self->details_.value(body.value(QLatin1String("id")).toString())) {
          detail->SetEffectiveLimits(body.value(QLatin1String("effective_limits")).toObject());
        }
      }
      self->statusBar()->showMessage(tr("%1: done").arg(what), 8000);
      return;
    }
    QString text = tr("%1 failed: %2").arg(what, reply.error);
    self->statusBar()->showMessage(text, 15000);
    auto* box =
        new QMessageBox(QMessageBox::Warning, tr("Action Failed"), text, QMessageBox::Ok, self);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  };
}

void MainWindow::RunAction(const QString& action, const QString& id) {
  QString who = Describe(id);
  if (action == QLatin1String("details")) {
    OpenDetail(id);
  } else if (action == QLatin1String("limits")) {
    EditLimits(id);
  } else if (action == QLatin1String("suspend")) {
    if (confirm_(tr("Suspend Session"), tr("Suspend %1? All its programs are frozen until it is "
                                           "resumed.")
                                            .arg(who))) {
      client_->Suspend(id, Report(tr("Suspend %1").arg(who)));
    }
  } else if (action == QLatin1String("resume")) {
    client_->Resume(id, Report(tr("Resume %1").arg(who)));
  } else if (action == QLatin1String("disconnect")) {
    if (confirm_(tr("Disconnect User"), tr("Disconnect the user of %1? The desktop keeps running "
                                           "and they can reconnect.")
                                            .arg(who))) {
      client_->DisconnectSession(id, Report(tr("Disconnect %1").arg(who)));
    }
  } else if (action == QLatin1String("end")) {
    if (confirm_(tr("End Session"), tr("End %1? Every program in it is killed and unsaved work "
                                       "is lost.")
                                        .arg(who))) {
      client_->End(id, Report(tr("End %1").arg(who)));
    }
  } else if (action == QLatin1String("logoff")) {
    if (confirm_(tr("Log Off User"), tr("Log off the user of %1? Their programs are asked to "
                                        "close, and stopped after 5 seconds.")
                                         .arg(who))) {
      client_->LogOff(id, Report(tr("Log off %1").arg(who)));
    }
  } else if (action == QLatin1String("message")) {
    bool ok = false;
    QString text = QInputDialog::getMultiLineText(
        this, tr("Send Message"), tr("Message to show on the desktop of %1:").arg(who), QString(),
        &ok);
    if (ok && !text.trimmed().isEmpty()) {
      client_->SendMessage(id, text, Report(tr("Message to %1").arg(who)));
    }
  } else if (action == QLatin1String("launch")) {
    LaunchApp(id);
  }
}

void MainWindow::EditLimits(const QString& id) {
  const SessionRow* row = live_->sessions().Find(id);
  LimitsDialog dialog(tr("Limits of %1").arg(Describe(id)), row ? row->limits : QJsonObject(),
                      this);
  if (dialog.exec() != QDialog::Accepted) return;
  QJsonObject changes = dialog.Limits();
  if (changes.isEmpty()) {
    statusBar()->showMessage(tr("Limits of %1: nothing changed").arg(Describe(id)), 8000);
    return;
  }
  client_->SetLimits(id, changes, Report(tr("Limits of %1").arg(Describe(id))));
}

void MainWindow::LaunchApp(const QString& id) {
  bool ok = false;
  QString command = QInputDialog::getText(this, tr("Launch Application"),
                                          tr("Command line to start in %1:").arg(Describe(id)),
                                          QLineEdit::Normal, QString(), &ok);
  if (!ok || command.trimmed().isEmpty()) return;
  client_->LaunchApp(id, QProcess::splitCommand(command), Report(tr("Launch '%1'").arg(command)));
}

void MainWindow::KillProcess(const QString& id, qint64 pid, const QString& command) {
  if (!confirm_(tr("Kill Process"),
                tr("Kill process %1 ('%2') in %3?").arg(pid).arg(command, Describe(id)))) {
    return;
  }
  QPointer<MainWindow> self(this);
  auto report = Report(tr("Kill process %1").arg(pid));
  client_->KillProcess(id, pid, 15, [self, id, report](const BrokerClient::Reply& reply) {
    report(reply);
    if (self && reply.ok()) self->LoadProcesses(id);
  });
}

void MainWindow::LoadProcesses(const QString& id) {
  QPointer<MainWindow> self(this);
  client_->Processes(id, [self, id](const BrokerClient::Reply& reply) {
    if (!self) return;
    auto detail = self->details_.value(id);
    if (!detail) return;
    if (reply.ok()) {
      detail->SetProcesses(reply.body.toObject().value(QLatin1String("processes")).toArray());
    } else {
      self->statusBar()->showMessage(tr("Processes of %1: %2").arg(id, reply.error), 8000);
    }
  });
  LoadEffectiveLimits(id);
}

void MainWindow::LoadEffectiveLimits(const QString& id) {
  QPointer<MainWindow> self(this);
  client_->Limits(id, [self, id](const BrokerClient::Reply& reply) {
    if (!self || !reply.ok()) return;
    if (auto detail = self->details_.value(id)) {
      detail->SetEffectiveLimits(
          reply.body.toObject().value(QLatin1String("effective_limits")).toObject());
    }
  });
}

SessionDetail* MainWindow::OpenDetail(const QString& id) {
  if (auto existing = details_.value(id)) {
    existing->raise();
    existing->activateWindow();
    return existing;
  }
  auto* detail = new SessionDetail(id, live_, this);
  detail->setAttribute(Qt::WA_DeleteOnClose);
  details_.insert(id, detail);
  connect(detail, &SessionDetail::actionRequested, this, &MainWindow::RunAction);
  connect(detail, &SessionDetail::processesRequested, this, &MainWindow::LoadProcesses);
  connect(detail, &SessionDetail::killRequested, this, &MainWindow::KillProcess);
  UpdateActions();
  detail->show();
  if (client_->state() == BrokerClient::State::kConnected) LoadProcesses(id);
  return detail;
}

void MainWindow::SetDrained(const QString& host, bool drained) {
  if (drained && !confirm_(tr("Drain Host"), tr("Drain %1? No new sessions are placed on it; "
                                                "running sessions stay.")
                                                 .arg(host))) {
    return;
  }
  QPointer<MainWindow> self(this);
  auto report = Report(drained ? tr("Drain %1").arg(host) : tr("Undrain %1").arg(host));
  client_->SetDrained(host, drained, [self, report](const BrokerClient::Reply& reply) {
    report(reply);
    if (self && reply.ok()) self->live_->hosts().Upsert(reply.body.toObject());
  });
}

void MainWindow::ShowConnectDialog() {
  ConnectDialog dialog(this);
  dialog.Prefill(default_server_, default_user_);
  if (dialog.exec() != QDialog::Accepted) return;
  dialog.Remember();
  client_->Connect(dialog.server(), dialog.user(), dialog.password());
}

void MainWindow::RestoreLayout() {
  QSettings settings;
  if (!restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray())) {
    resize(1200, 720);
  }
  restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
  sessions_->table()->horizontalHeader()->restoreState(
      settings.value(QStringLiteral("window/sessions_header")).toByteArray());
  tabs_->setCurrentIndex(settings.value(QStringLiteral("window/tab"), 0).toInt());
}

void MainWindow::closeEvent(QCloseEvent* event) {
  QSettings settings;
  settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
  settings.setValue(QStringLiteral("window/state"), saveState());
  settings.setValue(QStringLiteral("window/sessions_header"),
                    sessions_->table()->horizontalHeader()->saveState());
  settings.setValue(QStringLiteral("window/tab"), tabs_->currentIndex());
  QMainWindow::closeEvent(event);
}

}  // namespace moat::console
