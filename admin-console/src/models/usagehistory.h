// SPDX-License-Identifier: GPL-3.0-or-later
// The last minutes of usage of every live session, for the detail charts. Bounded per session.
#pragma once

#include <QHash>
#include <QString>
#include <deque>
#include <vector>

#include "models/event.h"

namespace moat::console {

struct UsagePoint {
  qint64 at_ms = 0;
  double cpu_percent = 0;
  qint64 memory = 0;
};

class UsageHistory {
 public:
  explicit UsageHistory(qint64 window_ms = 10 * 60 * 1000) : window_ms_(window_ms) {}

  void Append(const std::vector<UsageSample>& samples);
  void Remove(const QString& session_id) { points_.remove(session_id); }
  void Clear() { points_.clear(); }
  // Oldest first; empty for an unknown session.
  const std::deque<UsagePoint>& Points(const QString& session_id) const;
  qint64 window_ms() const { return window_ms_; }

 private:
  qint64 window_ms_;
  QHash<QString, std::deque<UsagePoint>> points_;
};

}  // namespace moat::console
