// SPDX-License-Identifier: GPL-3.0-or-later
// Change a session's limits: CPU cap, CPU weight, memory max and high, pids. Only what the
// admin changed is sent: a box unticked here lifts its limit ("max"; the CPU weight goes back
// to the default 100, as a weight cannot be lifted), and a limit left as it was is not sent,
// so another admin's change meanwhile is not undone.
#pragma once

#include <QDialog>
#include <QJsonObject>

class QCheckBox;
class QDoubleSpinBox;
class QSpinBox;

namespace moat::console {

class LimitsDialog : public QDialog {
  Q_OBJECT
 public:
  LimitsDialog(const QString& title, const QJsonObject& limits, QWidget* parent = nullptr);
  // The changes; empty when nothing was changed.
  QJsonObject Limits() const;

  // For tests: set or untick a field as a user would.
  void SetCpuPercent(double percent);
  void SetPidsMax(int pids);
  void Untick(const QString& key);

 private:
  struct Field {
    QString key;
    QCheckBox* enabled;
    QDoubleSpinBox* value;
    double scale;  // shown unit → API unit (MiB → bytes)
    bool was_limited;
    double was_value;  // in the shown unit
  };
  void AddField(const QString& key, const QString& label, const QString& suffix, double min,
                double max, double scale, int decimals, const QJsonObject& limits);
  std::vector<Field> fields_;
};

}  // namespace moat::console
