// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/usagehistory.h"

namespace moat::console {

void UsageHistory::Append(const std::vector<UsageSample>& samples) {
  for (const auto& sample : samples) {
    std::deque<UsagePoint>& points = points_[sample.session_id];
    if (!points.empty() && sample.at_ms <= points.back().at_ms) continue;  // replayed or stale
    points.push_back({sample.at_ms, sample.cpu_percent, sample.memory_current});
    while (points.front().at_ms < sample.at_ms - window_ms_) points.pop_front();
  }
}

const std::deque<UsagePoint>& UsageHistory::Points(const QString& session_id) const {
  static const std::deque<UsagePoint> kNone;
  auto it = points_.find(session_id);
  return it == points_.end() ? kNone : *it;
}

}  // namespace moat::console
