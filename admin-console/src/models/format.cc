// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/format.h"

namespace moat::console {

QString FormatBytes(qint64 bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0) return QStringLiteral("%1 B").arg(bytes);
  return QStringLiteral("%1 %2").arg(value, 0, 'f', 1).arg(QLatin1String(kUnits[unit]));
}

QString FormatDuration(qint64 seconds) {
  if (seconds < 60) return QStringLiteral("%1s").arg(seconds);
  if (seconds < 3600) {
    return QStringLiteral("%1m %2s").arg(seconds / 60).arg(seconds % 60, 2, 10, QLatin1Char('0'));
  }
  if (seconds < 86400) {
    return QStringLiteral("%1h %2m")
        .arg(seconds / 3600)
        .arg((seconds % 3600) / 60, 2, 10, QLatin1Char('0'));
  }
  return QStringLiteral("%1d %2h").arg(seconds / 86400).arg((seconds % 86400) / 3600);
}

QString FormatLimit(const QString& key, const QJsonValue& value) {
  if (value.isUndefined() || value.isNull()) return QStringLiteral("—");
  if (value.isString()) {
    return value.toString() == QLatin1String("max") ? QStringLiteral("no limit") : value.toString();
  }
  if (key.startsWith(QLatin1String("memory")) || key.startsWith(QLatin1String("swap"))) {
    return FormatBytes(value.toInteger());
  }
  if (key == QLatin1String("cpu_percent")) return QStringLiteral("%1 %").arg(value.toDouble());
  if (value.isDouble()) return QString::number(value.toDouble());
  return QStringLiteral("…");
}

qint64 ToSeconds(qint64 seconds_or_ms) {
  return seconds_or_ms > 100'000'000'000 ? seconds_or_ms / 1000 : seconds_or_ms;
}

}  // namespace moat::console
