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
      new QLabel(tr("Unticked: no limit (CPU weight: the default, 100). Only what you change "
                    "is sent; it applies at once, in the kernel, and is read back."));
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
  fields_.push_back({key, enabled, value, scale, limited, value->value()});
}

QJsonObject LimitsDialog::Limits() const {
  QJsonObject limits;
  for (const auto& field : fields_) {
    const bool limited = field.enabled->isChecked();
    if (limited == field.was_limited && (!limited || field.value->value() == field.was_value)) {
      continue;  // as it was
    }
    if (limited) {
      limits.insert(field.key,
                    static_cast<qint64>(std::llround(field.value->value() * field.scale)));
    } else if (field.key == QLatin1String("cpu_weight")) {
      limits.insert(field.key, 100);  // a weight has no "max": lifted is the default share
    } else {
      limits.insert(field.key, QStringLiteral("max"));
    }
  }
  return limits;
}

void LimitsDialog::Untick(const QString& key) {
  for (auto& field : fields_) {
    if (field.key == key) field.enabled->setChecked(false);
  }
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
