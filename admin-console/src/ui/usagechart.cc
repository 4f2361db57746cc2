// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/usagechart.h"

#include <QChart>
#include <QDateTime>
#include <QDateTimeAxis>
#include <QLineSeries>
#include <QValueAxis>
#include <algorithm>
#include <cmath>

namespace moat::console {

UsageChart::UsageChart(Metric metric, QWidget* parent)
    : QChartView(parent),
      metric_(metric),
      series_(new QLineSeries),
      time_axis_(new QDateTimeAxis),
      value_axis_(new QValueAxis) {
  auto* chart = new QChart;
  chart->setTitle(metric == Metric::kCpuPercent ? tr("CPU (% of one core)") : tr("Memory (MiB)"));
  chart->legend()->hide();
  chart->addSeries(series_);
  time_axis_->setFormat(QStringLiteral("HH:mm"));
  time_axis_->setTickCount(6);  // every two minutes over the ten-minute window
  value_axis_->setLabelFormat(QStringLiteral("%.0f"));
  value_axis_->setMin(0);
  chart->addAxis(time_axis_, Qt::AlignBottom);
  chart->addAxis(value_axis_, Qt::AlignLeft);
  series_->attachAxis(time_axis_);
  series_->attachAxis(value_axis_);
  setChart(chart);
  setRenderHint(QPainter::Antialiasing);
  setMinimumSize(360, 220);
}

void UsageChart::SetPoints(const std::deque<UsagePoint>& points, qint64 window_ms, qint64 now_ms) {
  QList<QPointF> line;
  line.reserve(static_cast<qsizetype>(points.size()));
  double top = metric_ == Metric::kCpuPercent ? 10.0 : 16.0;
  for (const auto& point : points) {
    double value = metric_ == Metric::kCpuPercent ? point.cpu_percent
                                                  : static_cast<double>(point.memory) / (1 << 20);
    top = std::max(top, value);
    line.append(QPointF(static_cast<double>(point.at_ms), value));
  }
  series_->replace(line);  // one repaint for the whole line
  time_axis_->setRange(QDateTime::fromMSecsSinceEpoch(now_ms - window_ms),
                       QDateTime::fromMSecsSinceEpoch(now_ms));
  value_axis_->setRange(0, std::ceil(top * 1.2));
}

int UsageChart::point_count() const { return static_cast<int>(series_->count()); }

}  // namespace moat::console
