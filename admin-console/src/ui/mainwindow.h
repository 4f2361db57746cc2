// SPDX-License-Identifier: GPL-3.0-or-later
// The console's window and its controller: tabs for sessions, hosts and audit; menus and
// shortcuts; the connection state in the status bar; actions confirmed where they destroy
// something and sent through the client; role-aware (an auditor can change nothing); the
// layout remembered across runs.
#pragma once

#include <QHash>
#include <QMainWindow>
#include <QPointer>
#include <functional>

#include "client/brokerclient.h"

class QAction;
class QLabel;
class QTabWidget;

namespace moat::console {

class AuditView;
class HostsView;
class LiveUpdates;
class SessionDetail;
class SessionsView;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  using Confirm = std::function<bool(const QString& title, const QString& text)>;

  MainWindow(BrokerClient* client, LiveUpdates* live, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Replaces the confirmation question (tests answer it themselves).
  void SetConfirm(Confirm confirm) { confirm_ = std::move(confirm); }
  SessionsView* sessions_view() const { return sessions_; }
  SessionDetail* OpenDetail(const QString& id);
  void RunAction(const QString& action, const QString& id);
  void ShowConnectDialog();
  // What --broker and --user gave: the connect dialog starts with them.
  void SetConnectDefaults(const QString& server, const QString& user) {
    default_server_ = server;
    default_user_ = user;
  }
  void UpdateActions();

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void BuildMenus();
  void OnStateChanged(BrokerClient::State state, const QString& text);
  void EditLimits(const QString& id);
  void LoadEffectiveLimits(const QString& id);
  void LaunchApp(const QString& id);
  void KillProcess(const QString& id, qint64 pid, const QString& command);
  void LoadProcesses(const QString& id);
  void SetDrained(const QString& host, bool drained);
  // Shows an action's outcome: the status bar, and a message box for a failure.
  BrokerClient::Done Report(const QString& what);
  QString Describe(const QString& id) const;
  void RestoreLayout();

  BrokerClient* client_;
  LiveUpdates* live_;
  Confirm confirm_;
  QTabWidget* tabs_;
  SessionsView* sessions_;
  HostsView* hosts_;
  AuditView* audit_;
  QLabel* connection_;
  QHash<QString, QAction*> session_actions_;
  QAction* disconnect_action_ = nullptr;
  QHash<QString, QPointer<SessionDetail>> details_;
  QString default_server_, default_user_;
};

}  // namespace moat::console
