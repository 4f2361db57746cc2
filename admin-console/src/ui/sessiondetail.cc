// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/sessiondetail.h"

#include <QDateTime>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "models/format.h"
#include "models/liveupdates.h"
#include "ui/usagechart.h"

namespace moat::console {
namespace {

QString LimitsText(const QJsonObject& limits) {
  if (limits.isEmpty()) return QObject::tr("policy defaults");
  QStringList parts;
  for (auto it = limits.begin(); it != limits.end(); ++it) {
    parts << QStringLiteral("%1: %2").arg(it.key(), FormatLimit(it.key(), it.value()));
  }
  return parts.join(QStringLiteral(" · "));
}

}  // namespace

SessionDetail::SessionDetail(const QString& id, LiveUpdates* live, QWidget* parent)
    : QWidget(parent, Qt::Window),
      id_(id),
      live_(live),
      title_(new QLabel),
      facts_(new QLabel),
      limits_(new QLabel),
      effective_(new QLabel),
      cpu_(new UsageChart(UsageChart::Metric::kCpuPercent)),
      memory_(new UsageChart(UsageChart::Metric::kMemoryMiB)),
      processes_(new QTableWidget(0, 7)),
      kill_(new QPushButton(tr("&Kill Process…"))) {
  setWindowTitle(tr("Session %1").arg(id));
  QFont big = title_->font();
  big.setPointSizeF(big.pointSizeF() * 1.4);
  big.setBold(true);
  title_->setFont(big);
  limits_->setWordWrap(true);
  effective_->setWordWrap(true);

  auto* actions = new QHBoxLayout;
  AddAction(tr("&Limits…"), QStringLiteral("limits"));
  AddAction(tr("&Suspend"), QStringLiteral("suspend"));
  AddAction(tr("&Resume"), QStringLiteral("resume"));
  AddAction(tr("&Disconnect"), QStringLiteral("disconnect"));
  AddAction(tr("&End…"), QStringLiteral("end"));
  AddAction(tr("Launch &App…"), QStringLiteral("launch"));
  for (auto* button : actions_) actions->addWidget(button);
  actions->addStretch(1);

  auto* charts = new QHBoxLayout;
  charts->addWidget(cpu_);
  charts->addWidget(memory_);

  processes_->setHorizontalHeaderLabels(
      {tr("PID"), tr("PPID"), tr("App"), tr("Command"), tr("State"), tr("RSS"), tr("CPU time")});
  processes_->verticalHeader()->hide();
  processes_->horizontalHeader()->setStretchLastSection(true);
  processes_->setSelectionBehavior(QAbstractItemView::SelectRows);
  processes_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  processes_->setSortingEnabled(true);
  processes_->sortByColumn(0, Qt::AscendingOrder);
  processes_->setWordWrap(false);
  processes_->verticalHeader()->setDefaultSectionSize(22);
  processes_->setColumnWidth(3, 260);
  auto* refresh = new QPushButton(tr("Re&fresh"));
  auto* process_buttons = new QHBoxLayout;
  process_buttons->addWidget(refresh);
  process_buttons->addWidget(kill_);
  process_buttons->addStretch(1);
  auto* process_box = new QGroupBox(tr("Processes"));
  auto* process_layout = new QVBoxLayout(process_box);
  process_layout->addWidget(processes_);
  process_layout->addLayout(process_buttons);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(title_);
  layout->addWidget(facts_);
  layout->addWidget(limits_);
  layout->addWidget(effective_);
  layout->addLayout(actions);
  layout->addLayout(charts, 3);
  layout->addWidget(process_box, 2);

  connect(refresh, &QPushButton::clicked, this, [this] { emit processesRequested(id_); });
  connect(kill_, &QPushButton::clicked, this, [this] {
    int row = processes_->currentRow();
    if (row < 0) return;
    emit killRequested(id_, processes_->item(row, 0)->data(Qt::DisplayRole).toLongLong(),
                       processes_->item(row, 3)->text());
  });
  connect(live_, &LiveUpdates::flushed, this, &SessionDetail::Refresh);
  connect(&live_->sessions(), &SessionModel::sessionGone, this,
          [this](const QString& gone, const QString& state) {
            if (gone != id_) return;
            gone_ = true;
            title_->setText(
                tr("%1 — %2").arg(title_->text().section(QStringLiteral(" — "), 0, 0), state));
            SetCanOperate(can_operate_, is_admin_);
          });
  resize(960, 760);
  Refresh();
}

QPushButton* SessionDetail::AddAction(const QString& text, const QString& action) {
  auto* button = new QPushButton(text);
  button->setProperty("action", action);
  connect(button, &QPushButton::clicked, this,
          [this, action] { emit actionRequested(action, id_); });
  actions_.push_back(button);
  return button;
}

void SessionDetail::Refresh() {
  const SessionRow* row = live_->sessions().Find(id_);
  if (row != nullptr) {
    title_->setText(tr("%1 — %2").arg(row->user, row->state));
    facts_->setText(tr("Session %1 on %2 (%3), started %4 · CPU %5 % · memory %6 · %7 pids")
                        .arg(row->id, row->host, row->backend,
                             QDateTime::fromSecsSinceEpoch(row->created_at)
                                 .toString(QStringLiteral("yyyy-MM-dd HH:mm")))
                        .arg(row->cpu_percent, 0, 'f', 1)
                        .arg(FormatBytes(row->memory))
                        .arg(row->pids));
    limits_->setText(tr("Limits: %1").arg(LimitsText(row->limits)));
  }
  const auto& points = live_->history().Points(id_);
  qint64 now = QDateTime::currentMSecsSinceEpoch();
  if (!points.empty()) now = std::max(now, points.back().at_ms);
  cpu_->SetPoints(points, live_->history().window_ms(), now);
  memory_->SetPoints(points, live_->history().window_ms(), now);
}

void SessionDetail::SetProcesses(const QJsonArray& processes) {
  processes_->setSortingEnabled(false);
  processes_->setRowCount(static_cast<int>(processes.size()));
  int row = 0;
  for (const auto& value : processes) {
    QJsonObject process = value.toObject();
    auto set = [&](int column, const QVariant& data) {
      auto* item = new QTableWidgetItem;
      item->setData(Qt::DisplayRole, data);
      processes_->setItem(row, column, item);
    };
    set(0, process.value(QLatin1String("pid")).toInteger());
    set(1, process.value(QLatin1String("ppid")).toInteger());
    set(2, process.value(QLatin1String("app")).toString());
    set(3, process.value(QLatin1String("command")).toString());
    set(4, process.value(QLatin1String("state")).toString());
    set(5, FormatBytes(process.value(QLatin1String("rss_bytes")).toInteger()));
    set(6, FormatDuration(process.value(QLatin1String("cpu_time_ms")).toInteger() / 1000));
    ++row;
  }
  processes_->setSortingEnabled(true);
}

void SessionDetail::SetEffectiveLimits(const QJsonObject& effective) {
  effective_->setText(tr("In the kernel: %1").arg(LimitsText(effective)));
}

QString SessionDetail::effective_text() const { return effective_->text(); }

void SessionDetail::SetCanOperate(bool can_operate, bool is_admin) {
  can_operate_ = can_operate;
  is_admin_ = is_admin;
  for (auto* button : actions_) {
    bool launch = button->property("action").toString() == QLatin1String("launch");
    button->setEnabled(!gone_ && (launch ? is_admin : can_operate));
  }
  kill_->setEnabled(!gone_ && can_operate);
}

}  // namespace moat::console
