// SPDX-License-Identifier: GPL-3.0-or-later
// One live line chart of a session's usage (CPU % or memory) over the history window.
#pragma once

#include <QChartView>
#include <deque>

#include "models/usagehistory.h"

class QDateTimeAxis;
class QLineSeries;
class QValueAxis;

namespace moat::console {

class UsageChart : public QChartView {
  Q_OBJECT
 public:
  enum class Metric { kCpuPercent, kMemoryMiB };
  UsageChart(Metric metric, QWidget* parent = nullptr);
  void SetPoints(const std::deque<UsagePoint>& points, qint64 window_ms, qint64 now_ms);
  int point_count() const;

 private:
  Metric metric_;
  QLineSeries* series_;
  QDateTimeAxis* time_axis_;
  QValueAxis* value_axis_;
};

}  // namespace moat::console
