// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/hostmodel.h"

#include "models/format.h"

namespace moat::console {
namespace {

QString YesNo(bool value) { return value ? QObject::tr("yes") : QObject::tr("no"); }

}  // namespace

HostModel::HostModel(QObject* parent) : QAbstractTableModel(parent) {}

int HostModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}
int HostModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kColumnCount;
}

QVariant HostModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case kName:
      return tr("Host");
    case kState:
      return tr("State");
    case kConnected:
      return tr("Connected");
    case kDrained:
      return tr("Drained");
    case kEnabled:
      return tr("Enabled");
    case kSessions:
      return tr("Sessions");
    case kCapacity:
      return tr("Capacity");
    case kCpu:
      return tr("CPU %");
    case kMemory:
      return tr("Memory");
    default:
      return {};
  }
}

QVariant HostModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
    return {};
  }
  const Row& row = rows_[static_cast<size_t>(index.row())];
  const QJsonObject& host = row.host;
  if (role == kNameRole) return host.value(QLatin1String("name")).toString();
  if (role == kSortRole) {
    switch (index.column()) {
      case kSessions:
        return row.load.sessions;
      case kCapacity:
        return host.value(QLatin1String("capacity")).toInteger();
      case kCpu:
        return row.load.cpu_percent;
      case kMemory:
        return row.load.memory;
      default:
        role = Qt::DisplayRole;
    }
  }
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case kName:
      return host.value(QLatin1String("name")).toString();
    case kState:
      return host.value(QLatin1String("state")).toString();
    case kConnected:
      return YesNo(host.value(QLatin1String("connected")).toBool());
    case kDrained:
      return YesNo(host.value(QLatin1String("drained")).toBool());
    case kEnabled:
      return YesNo(host.value(QLatin1String("enabled")).toBool(true));
    case kSessions:
      return row.load.sessions;
    case kCapacity:
      return host.value(QLatin1String("capacity")).toInteger();
    case kCpu:
      return QString::number(row.load.cpu_percent, 'f', 1);
    case kMemory:
      return FormatBytes(row.load.memory);
    default:
      return {};
  }
}

void HostModel::Reset(const QJsonArray& hosts) {
  beginResetModel();
  rows_.clear();
  index_.clear();
  for (const auto& value : hosts) {
    QJsonObject host = value.toObject();
    QString name = host.value(QLatin1String("name")).toString();
    if (name.isEmpty() || index_.contains(name)) continue;
    index_.insert(name, static_cast<int>(rows_.size()));
    rows_.push_back(Row{host, {}});
  }
  endResetModel();
}

void HostModel::Upsert(const QJsonObject& host) {
  QString name = host.value(QLatin1String("name")).toString();
  if (name.isEmpty()) return;
  if (auto it = index_.find(name); it != index_.end()) {
    QJsonObject& current = rows_[static_cast<size_t>(*it)].host;
    for (auto key = host.begin(); key != host.end(); ++key) current.insert(key.key(), key.value());
    emit dataChanged(index(*it, 0), index(*it, kColumnCount - 1));
    return;
  }
  int row = static_cast<int>(rows_.size());
  beginInsertRows({}, row, row);
  index_.insert(name, row);
  rows_.push_back(Row{host, {}});
  endInsertRows();
}

void HostModel::SetLoad(const QHash<QString, HostLoad>& load) {
  if (rows_.empty()) return;
  for (auto& row : rows_) {
    row.load = load.value(row.host.value(QLatin1String("name")).toString());
  }
  emit dataChanged(index(0, kSessions), index(rowCount() - 1, kMemory));
}

const QJsonObject* HostModel::Find(const QString& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &rows_[static_cast<size_t>(*it)].host;
}

}  // namespace moat::console
