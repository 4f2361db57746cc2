// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/auditview.h"

#include <QHeaderView>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include "models/auditmodel.h"

namespace moat::console {

AuditView::AuditView(AuditModel* audit, QWidget* parent)
    : QWidget(parent), filter_(new QSortFilterProxyModel(this)) {
  filter_->setSourceModel(audit);
  filter_->setFilterKeyColumn(-1);  // any column
  filter_->setFilterCaseSensitivity(Qt::CaseInsensitive);
  filter_->setSortRole(AuditModel::kSortRole);
  auto* search = new QLineEdit;
  search->setPlaceholderText(tr("Filter by who, what, session…"));
  search->setClearButtonEnabled(true);
  auto* table = new QTableView;
  table->setModel(filter_);
  table->setSortingEnabled(true);
  table->sortByColumn(AuditModel::kTime, Qt::DescendingOrder);
  table->setSelectionBehavior(QAbstractItemView::SelectRows);
  table->verticalHeader()->hide();
  table->horizontalHeader()->setStretchLastSection(true);
  table->setColumnWidth(AuditModel::kTime, 150);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(search);
  layout->addWidget(table, 1);
  connect(search, &QLineEdit::textChanged, filter_, &QSortFilterProxyModel::setFilterFixedString);
}

}  // namespace moat::console
