// SPDX-License-Identifier: GPL-3.0-or-later
// Change a session's limits: CPU cap, CPU weight, memory max and high, pids. An unticked box
// lifts the limit ("max").
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
  QJsonObject Limits() const;

  // For tests: set a field as a user would.
  void SetCpuPercent(double percent);
  void SetPidsMax(int pids);

 private:
  struct Field {
    QString key;
    QCheckBox* enabled;
    QDoubleSpinBox* value;
    double scale;  // shown unit → API unit (MiB → bytes)
  };
  void AddField(const QString& key, const QString& label, const QString& suffix, double min,
                double max, double scale, int decimals, const QJsonObject& limits);
  std::vector<Field> fields_;
};

}  // namespace moat::console
