// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/limitsdialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>
#include <cmath>

namespace moat::console {

LimitsDialog::LimitsDialog(const QString& title, const QJsonObject& limits, QWidget* parent)
    : QDialog(parent) {
  setWindowTitle(title);
  auto* layout = new QVBoxLayout(this);
  auto* hint =
      new QLabel(tr("Unticked: no limit. Changes apply at once, in the kernel, and are "
                    "read back."));
  hint->setWordWrap(true);
  layout->addWidget(hint);
  setMinimumWidth(420);
  layout->addLayout(new QFormLayout);
  AddField(QStringLiteral("cpu_percent"), tr("CPU cap"), tr(" % of a core"), 1, 100000, 1, 0,
           limits);
  AddField(QStringLiteral("cpu_weight"), tr("CPU weight"), QString(), 1, 10000, 1, 0, limits);
  AddField(QStringLiteral("memory_max"), tr("Memory max"), tr(" MiB"), 16, 1 << 24, 1 << 20, 0,
           limits);
  AddField(QStringLiteral("memory_high"), tr("Memory high"), tr(" MiB"), 16, 1 << 24, 1 << 20, 0,
           limits);
  AddField(QStringLiteral("pids_max"), tr("Pids max"), QString(), 1, 1 << 22, 1, 0, limits);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Apply Limits"));
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  layout->addWidget(buttons);
}

void LimitsDialog::AddField(const QString& key, const QString& label, const QString& suffix,
                            double min, double max, double scale, int decimals,
                            const QJsonObject& limits) {
  auto* form = static_cast<QFormLayout*>(layout()->itemAt(1)->layout());
  auto* row = new QHBoxLayout;
  auto* enabled = new QCheckBox;
  auto* value = new QDoubleSpinBox;
  value->setRange(min, max);
  value->setDecimals(decimals);
  value->setSuffix(suffix);
  QJsonValue current = limits.value(key);
  bool limited = current.isDouble();
  enabled->setChecked(limited);
  value->setEnabled(limited);
  value->setValue(limited ? current.toDouble() / scale : min);
  connect(enabled, &QCheckBox::toggled, value, &QWidget::setEnabled);
  row->addWidget(enabled);
  row->addWidget(value, 1);
  form->addRow(label, row);
  fields_.push_back({key, enabled, value, scale});
}

QJsonObject LimitsDialog::Limits() const {
  QJsonObject limits;
  for (const auto& field : fields_) {
    if (!field.enabled->isChecked()) {
      limits.insert(field.key, QStringLiteral("max"));
    } else {
      limits.insert(field.key,
                    static_cast<qint64>(std::llround(field.value->value() * field.scale)));
    }
  }
  return limits;
}

void LimitsDialog::SetCpuPercent(double percent) {
  fields_[0].enabled->setChecked(true);
  fields_[0].value->setValue(percent);
}

void LimitsDialog::SetPidsMax(int pids) {
  fields_[4].enabled->setChecked(true);
  fields_[4].value->setValue(pids);
}

}  // namespace moat::console
