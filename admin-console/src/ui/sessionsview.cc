// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/sessionsview.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QTableView>
#include <QVBoxLayout>

#include "models/hostmodel.h"
#include "models/sessionfiltermodel.h"
#include "models/sessionmodel.h"

namespace moat::console {

SessionsView::SessionsView(SessionModel* sessions, HostModel* hosts, QWidget* parent)
    : QWidget(parent),
      hosts_(hosts),
      filter_(new SessionFilterModel(this)),
      search_(new QLineEdit),
      state_(new QComboBox),
      host_(new QComboBox),
      table_(new QTableView) {
  filter_->setSourceModel(sessions);
  search_->setPlaceholderText(tr("Search user, host, session…"));
  search_->setClearButtonEnabled(true);
  state_->addItem(tr("All states"), QString());
  for (const char* state : {"starting", "active", "disconnected", "suspended", "ending"}) {
    state_->addItem(QString::fromLatin1(state), QString::fromLatin1(state));
  }
  host_->addItem(tr("All hosts"), QString());
  auto* filters = new QHBoxLayout;
  filters->addWidget(search_, 1);
  filters->addWidget(new QLabel(tr("State:")));
  filters->addWidget(state_);
  filters->addWidget(new QLabel(tr("Host:")));
  filters->addWidget(host_);

  table_->setModel(filter_);
  table_->setSortingEnabled(true);
  table_->sortByColumn(SessionModel::kUser, Qt::AscendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setAlternatingRowColors(true);
  table_->verticalHeader()->hide();
  table_->verticalHeader()->setDefaultSectionSize(22);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->horizontalHeader()->setSectionsMovable(true);
  table_->setColumnWidth(SessionModel::kStarted, 150);
  table_->setObjectName(QStringLiteral("sessionsTable"));

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(filters);
  layout->addWidget(table_, 1);

  connect(search_, &QLineEdit::textChanged, filter_, &SessionFilterModel::SetSearch);
  connect(state_, &QComboBox::currentIndexChanged, this,
          [this] { filter_->SetState(state_->currentData().toString()); });
  connect(host_, &QComboBox::currentIndexChanged, this,
          [this] { filter_->SetHost(host_->currentData().toString()); });
  connect(table_, &QTableView::activated, this, [this](const QModelIndex& index) {
    emit sessionActivated(index.data(SessionModel::kIdRole).toString());
  });
  connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this] { emit currentChanged(CurrentSession()); });
  connect(hosts_, &QAbstractItemModel::modelReset, this, &SessionsView::RefreshHosts);
  connect(hosts_, &QAbstractItemModel::rowsInserted, this, &SessionsView::RefreshHosts);
}

QString SessionsView::CurrentSession() const {
  QModelIndex current = table_->selectionModel()->currentIndex();
  if (!current.isValid() || !table_->selectionModel()->isRowSelected(current.row())) return {};
  return current.data(SessionModel::kIdRole).toString();
}

void SessionsView::FocusSearch() {
  search_->setFocus();
  search_->selectAll();
}

void SessionsView::RefreshHosts() {
  QString selected = host_->currentData().toString();
  host_->blockSignals(true);
  while (host_->count() > 1) host_->removeItem(1);
  for (int row = 0; row < hosts_->rowCount(); ++row) {
    QString name = hosts_->index(row, 0).data(HostModel::kNameRole).toString();
    host_->addItem(name, name);
  }
  host_->setCurrentIndex(std::max(0, host_->findData(selected)));
  host_->blockSignals(false);
}

}  // namespace moat::console
