// SPDX-License-Identifier: GPL-3.0-or-later
// One session up close: who, where, state, limits, live CPU and memory charts of the last
// minutes, its processes, and the actions on it. Reads the models; asks for actions by signal.
#pragma once

#include <QJsonArray>
#include <QJsonObject>
#include <QWidget>

class QLabel;
class QPushButton;
class QTableWidget;

namespace moat::console {

class LiveUpdates;
class UsageChart;

class SessionDetail : public QWidget {
  Q_OBJECT
 public:
  SessionDetail(const QString& id, LiveUpdates* live, QWidget* parent = nullptr);
  const QString& id() const { return id_; }
  void SetProcesses(const QJsonArray& processes);
  void SetEffectiveLimits(const QJsonObject& effective);
  QString effective_text() const;  // the "In the kernel" line, for tests
  void SetCanOperate(bool can_operate, bool is_admin);
  UsageChart* cpu_chart() const { return cpu_; }
  UsageChart* memory_chart() const { return memory_; }

 signals:
  // "limits", "suspend", "resume", "disconnect", "end", "launch"
  void actionRequested(const QString& action, const QString& id);
  void processesRequested(const QString& id);
  void killRequested(const QString& id, qint64 pid, const QString& command);

 public slots:
  void Refresh();

 private:
  QPushButton* AddAction(const QString& text, const QString& action);

  QString id_;
  LiveUpdates* live_;
  QLabel* title_;
  QLabel* facts_;
  QLabel* limits_;
  QLabel* effective_;
  UsageChart* cpu_;
  UsageChart* memory_;
  QTableWidget* processes_;
  QPushButton* kill_;
  std::vector<QPushButton*> actions_;
  bool can_operate_ = false;
  bool is_admin_ = false;
  bool gone_ = false;
};

}  // namespace moat::console
