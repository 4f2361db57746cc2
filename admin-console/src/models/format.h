// SPDX-License-Identifier: GPL-3.0-or-later
// How the console writes sizes, durations and limits.
#pragma once

#include <QJsonValue>
#include <QString>

namespace moat::console {

QString FormatBytes(qint64 bytes);                                 // "52.4 MiB"
QString FormatDuration(qint64 seconds);                            // "3h 05m", "42s"
QString FormatLimit(const QString& key, const QJsonValue& value);  // "max" → "no limit"
// Broker timestamps: seconds, or milliseconds when the value is that large.
qint64 ToSeconds(qint64 seconds_or_ms);

}  // namespace moat::console
