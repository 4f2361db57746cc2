// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/sessionmodel.h"

#include <QDateTime>
#include <algorithm>

#include "models/format.h"

namespace moat::console {

bool IsLiveState(const QString& state) {
  return state != QLatin1String("ended") && state != QLatin1String("failed");
}

SessionModel::SessionModel(QObject* parent) : QAbstractTableModel(parent) {}

int SessionModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int SessionModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kColumnCount;
}

QVariant SessionModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case kUser:
      return tr("User");
    case kHost:
      return tr("Host");
    case kBackend:
      return tr("Backend");
    case kState:
      return tr("State");
    case kCpu:
      return tr("CPU %");
    case kMemory:
      return tr("Memory");
    case kPids:
      return tr("Pids");
    case kIdle:
      return tr("Idle");
    case kStarted:
      return tr("Started");
    case kId:
      return tr("Session");
    default:
      return {};
  }
}

QVariant SessionModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
    return {};
  }
  const SessionRow& row = rows_[static_cast<size_t>(index.row())];
  qint64 idle = row.last_input_at < 0 ? -1 : std::max<qint64>(0, now_s_ - row.last_input_at);
  if (role == kIdRole) return row.id;
  if (role == Qt::TextAlignmentRole) {
    bool numeric = index.column() == kCpu || index.column() == kMemory || index.column() == kPids ||
                   index.column() == kIdle;
    return numeric ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
  }
  if (role == kSortRole) {
    switch (index.column()) {
      case kCpu:
        return row.cpu_percent;
      case kMemory:
        return row.memory;
      case kPids:
        return row.pids;
      case kIdle:
        return idle;
      case kStarted:
        return row.created_at;
      default:
        break;
    }
    role = Qt::DisplayRole;
  }
  if (role != Qt::DisplayRole && role != Qt::ToolTipRole) return {};
  switch (index.column()) {
    case kUser:
      return row.user;
    case kHost:
      return row.host;
    case kBackend:
      return row.backend;
    case kState:
      return row.state;
    case kCpu:
      return QString::number(row.cpu_percent, 'f', 1);
    case kMemory:
      return FormatBytes(row.memory);
    case kPids:
      return row.pids;
    case kIdle:
      return idle < 0 ? QStringLiteral("—") : FormatDuration(idle);
    case kStarted:
      return QDateTime::fromSecsSinceEpoch(row.created_at)
          .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
    case kId:
      return row.id;
    default:
      return {};
  }
}

SessionRow SessionModel::FromJson(const QJsonObject& session) {
  SessionRow row;
  row.id = session.value(QLatin1String("id")).toString();
  row.user = session.value(QLatin1String("user")).toString();
  row.host = session.value(QLatin1String("host")).toString();
  row.backend = session.value(QLatin1String("backend")).toString();
  row.state = session.value(QLatin1String("state")).toString();
  row.failure_reason = session.value(QLatin1String("failure_reason")).toString();
  row.limits = session.value(QLatin1String("limits")).toObject();
  row.created_at = session.value(QLatin1String("created_at")).toInteger();
  row.updated_at = session.value(QLatin1String("updated_at")).toInteger();
  QJsonValue input = session.value(QLatin1String("last_input_at"));
  row.last_input_at = input.isDouble() ? input.toInteger() : -1;
  QJsonValue usage = session.value(QLatin1String("usage"));
  if (usage.isObject()) {
    UsageSample sample = ParseUsageSample(usage.toObject());
    row.cpu_percent = sample.cpu_percent;
    row.memory = sample.memory_current;
    row.pids = sample.pids;
    row.usage_at_ms = sample.at_ms;
  }
  return row;
}

void SessionModel::Reset(const QJsonArray& sessions) {
  beginResetModel();
  rows_.clear();
  index_.clear();
  rows_.reserve(static_cast<size_t>(sessions.size()));
  for (const auto& value : sessions) {
    SessionRow row = FromJson(value.toObject());
    if (row.id.isEmpty() || !IsLiveState(row.state) || index_.contains(row.id)) continue;
    index_.insert(row.id, static_cast<int>(rows_.size()));
    rows_.push_back(std::move(row));
  }
  endResetModel();
}

void SessionModel::ApplySessions(const std::vector<QJsonObject>& sessions) {
  std::vector<int> changed;
  std::vector<SessionRow> added;
  QHash<QString, int> added_index;
  for (const auto& session : sessions) {
    SessionRow incoming = FromJson(session);
    if (incoming.id.isEmpty()) continue;
    if (int row = RowOf(incoming.id); row >= 0) {
      SessionRow& current = rows_[static_cast<size_t>(row)];
      if (incoming.updated_at < current.updated_at) continue;
      // A state event carries no usage: keep the live figures.
      if (!session.contains(QLatin1String("usage"))) {
        incoming.cpu_percent = current.cpu_percent;
        incoming.memory = current.memory;
        incoming.pids = current.pids;
        incoming.usage_at_ms = current.usage_at_ms;
      }
      current = std::move(incoming);
      changed.push_back(row);
    } else if (auto pending = added_index.find(incoming.id); pending != added_index.end()) {
      added[static_cast<size_t>(*pending)] = std::move(incoming);
    } else {
      added_index.insert(incoming.id, static_cast<int>(added.size()));
      added.push_back(std::move(incoming));
    }
  }
  EmitChanged(changed, 0, kColumnCount - 1);

  std::erase_if(added, [](const SessionRow& row) { return !IsLiveState(row.state); });
  if (!added.empty()) {
    int first = static_cast<int>(rows_.size());
    beginInsertRows({}, first, first + static_cast<int>(added.size()) - 1);
    for (auto& row : added) {
      index_.insert(row.id, static_cast<int>(rows_.size()));
      rows_.push_back(std::move(row));
    }
    endInsertRows();
  }

  // Rows that left the live states go last, from the bottom up so indexes stay valid.
  std::vector<int> gone;
  for (size_t row = 0; row < rows_.size(); ++row) {
    if (!IsLiveState(rows_[row].state)) gone.push_back(static_cast<int>(row));
  }
  for (auto it = gone.rbegin(); it != gone.rend(); ++it) RemoveRow(*it);
}

void SessionModel::RemoveRow(int row) {
  QString id = rows_[static_cast<size_t>(row)].id;
  QString state = rows_[static_cast<size_t>(row)].state;
  beginRemoveRows({}, row, row);
  index_.remove(id);
  rows_.erase(rows_.begin() + row);
  Reindex(row);
  endRemoveRows();
  emit sessionGone(id, state);
}

void SessionModel::Reindex(int from_row) {
  for (size_t row = static_cast<size_t>(from_row); row < rows_.size(); ++row) {
    index_[rows_[row].id] = static_cast<int>(row);
  }
}

void SessionModel::ApplyUsage(const std::vector<UsageSample>& samples) {
  std::vector<int> changed;
  changed.reserve(samples.size());
  for (const auto& sample : samples) {
    int row = RowOf(sample.session_id);
    if (row < 0) continue;
    SessionRow& current = rows_[static_cast<size_t>(row)];
    if (sample.at_ms < current.usage_at_ms) continue;
    current.cpu_percent = sample.cpu_percent;
    current.memory = sample.memory_current;
    current.pids = sample.pids;
    current.usage_at_ms = sample.at_ms;
    changed.push_back(row);
  }
  EmitChanged(changed, kCpu, kPids);
}

void SessionModel::SetLimits(const QString& id, const QJsonObject& limits) {
  int row = RowOf(id);
  if (row < 0) return;
  rows_[static_cast<size_t>(row)].limits = limits;
  emit dataChanged(index(row, 0), index(row, kColumnCount - 1));
  emit limitsChanged(id);
}

void SessionModel::SetNow(qint64 now_s) {
  if (now_s == now_s_) return;
  now_s_ = now_s;
  if (!rows_.empty()) {
    emit dataChanged(index(0, kIdle), index(rowCount() - 1, kIdle), {Qt::DisplayRole});
  }
}

const SessionRow* SessionModel::Find(const QString& id) const {
  int row = RowOf(id);
  return row < 0 ? nullptr : &rows_[static_cast<size_t>(row)];
}

void SessionModel::EmitChanged(std::vector<int>& rows, int first_column, int last_column) {
  if (rows.empty()) return;
  // Most rows changed (a usage batch does that every second): one signal for the lot is far
  // cheaper for the views than hundreds of ranges.
  if (rows.size() * 2 >= rows_.size()) {
    emit dataChanged(index(0, first_column), index(rowCount() - 1, last_column));
    return;
  }
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  size_t start = 0;
  for (size_t i = 1; i <= rows.size(); ++i) {
    if (i == rows.size() || rows[i] != rows[i - 1] + 1) {
      emit dataChanged(index(rows[start], first_column), index(rows[i - 1], last_column));
      start = i;
    }
  }
}

}  // namespace moat::console
