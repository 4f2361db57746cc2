// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/auditmodel.h"

#include <QDateTime>
#include <QJsonDocument>

#include "models/format.h"

namespace moat::console {
namespace {

QString Text(const QJsonValue& value) {
  if (value.isNull() || value.isUndefined()) return {};
  if (value.isString()) return value.toString();
  if (value.isObject()) {
    return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact));
  }
  return value.toVariant().toString();
}

}  // namespace

AuditModel::AuditModel(QObject* parent) : QAbstractTableModel(parent) {}

int AuditModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}
int AuditModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kColumnCount;
}

QVariant AuditModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case kTime:
      return tr("Time");
    case kActor:
      return tr("Who");
    case kKind:
      return tr("What");
    case kSession:
      return tr("Session");
    case kChange:
      return tr("Change");
    case kDetail:
      return tr("Detail");
    default:
      return {};
  }
}

QVariant AuditModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
    return {};
  }
  const QJsonObject& event = rows_[static_cast<size_t>(index.row())];
  if (role == kSortRole && index.column() == kTime) {
    return event.value(QLatin1String("at")).toInteger();
  }
  if (role != Qt::DisplayRole && role != Qt::ToolTipRole && role != kSortRole) return {};
  switch (index.column()) {
    case kTime:
      return QDateTime::fromSecsSinceEpoch(ToSeconds(event.value(QLatin1String("at")).toInteger()))
          .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
    case kActor:
      return Text(event.value(QLatin1String("actor")));
    case kKind:
      return Text(event.value(QLatin1String("kind")));
    case kSession:
      return Text(event.value(QLatin1String("session_id")));
    case kChange: {
      QString old_value = Text(event.value(QLatin1String("old_value")));
      QString new_value = Text(event.value(QLatin1String("new_value")));
      if (old_value.isEmpty()) return new_value;
      return old_value + QStringLiteral(" → ") + new_value;
    }
    case kDetail:
      return Text(event.value(QLatin1String("detail")));
    default:
      return {};
  }
}

void AuditModel::Reset(const QJsonArray& events) {
  beginResetModel();
  rows_.clear();
  ids_.clear();
  for (const auto& value : events) {
    QJsonObject event = value.toObject();
    qint64 id = event.value(QLatin1String("id")).toInteger();
    if (ids_.contains(id) || static_cast<int>(rows_.size()) >= kMaxRows) continue;
    ids_.insert(id);
    rows_.push_back(event);
  }
  endResetModel();
}

void AuditModel::Prepend(const std::vector<QJsonObject>& events) {
  std::vector<const QJsonObject*> fresh;
  for (const auto& event : events) {
    qint64 id = event.value(QLatin1String("id")).toInteger();
    if (ids_.contains(id)) continue;
    ids_.insert(id);
    fresh.push_back(&event);
  }
  if (fresh.empty()) return;
  beginInsertRows({}, 0, static_cast<int>(fresh.size()) - 1);
  for (const QJsonObject* event : fresh) rows_.push_front(*event);  // the newest ends up first
  endInsertRows();
  if (static_cast<int>(rows_.size()) > kMaxRows) {
    beginRemoveRows({}, kMaxRows, static_cast<int>(rows_.size()) - 1);
    while (static_cast<int>(rows_.size()) > kMaxRows) {
      ids_.remove(rows_.back().value(QLatin1String("id")).toInteger());
      rows_.pop_back();
    }
    endRemoveRows();
  }
}

}  // namespace moat::console
