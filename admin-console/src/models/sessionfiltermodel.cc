// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/sessionfiltermodel.h"

#include "models/sessionmodel.h"

namespace moat::console {

SessionFilterModel::SessionFilterModel(QObject* parent) : QSortFilterProxyModel(parent) {
  setSortRole(SessionModel::kSortRole);
  setDynamicSortFilter(true);
}

void SessionFilterModel::SetSearch(const QString& text) {
  search_ = text.trimmed();
  invalidateFilter();
}

void SessionFilterModel::SetState(const QString& state) {
  state_ = state;
  invalidateFilter();
}

void SessionFilterModel::SetHost(const QString& host) {
  host_ = host;
  invalidateFilter();
}

bool SessionFilterModel::filterAcceptsRow(int source_row, const QModelIndex& source_parent) const {
  if (source_parent.isValid()) return false;
  auto* model = qobject_cast<const SessionModel*>(sourceModel());
  if (model == nullptr) return true;
  const SessionRow& row = model->At(source_row);
  if (!state_.isEmpty() && row.state != state_) return false;
  if (!host_.isEmpty() && row.host != host_) return false;
  if (search_.isEmpty()) return true;
  for (const QString* field : {&row.user, &row.host, &row.id, &row.backend, &row.state}) {
    if (field->contains(search_, Qt::CaseInsensitive)) return true;
  }
  return false;
}

}  // namespace moat::console
