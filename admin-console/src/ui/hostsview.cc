// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/hostsview.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include "models/hostmodel.h"

namespace moat::console {

HostsView::HostsView(HostModel* hosts, QWidget* parent)
    : QWidget(parent),
      table_(new QTableView),
      drain_(new QPushButton(tr("&Drain"))),
      undrain_(new QPushButton(tr("&Undrain"))) {
  auto* proxy = new QSortFilterProxyModel(this);
  proxy->setSourceModel(hosts);
  proxy->setSortRole(HostModel::kSortRole);
  table_->setModel(proxy);
  table_->setSortingEnabled(true);
  table_->sortByColumn(HostModel::kName, Qt::AscendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setStretchLastSection(true);
  drain_->setToolTip(tr("No new sessions are placed on the host; its sessions keep running."));
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(drain_);
  buttons->addWidget(undrain_);
  buttons->addStretch(1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(table_, 1);
  layout->addLayout(buttons);
  connect(drain_, &QPushButton::clicked, this, [this] {
    if (QString host = CurrentHost(); !host.isEmpty()) emit drainRequested(host, true);
  });
  connect(undrain_, &QPushButton::clicked, this, [this] {
    if (QString host = CurrentHost(); !host.isEmpty()) emit drainRequested(host, false);
  });
}

QString HostsView::CurrentHost() const {
  QModelIndex current = table_->currentIndex();
  return current.isValid() ? current.data(HostModel::kNameRole).toString() : QString();
}

void HostsView::SetCanDrain(bool can) {
  drain_->setEnabled(can);
  undrain_->setEnabled(can);
}

}  // namespace moat::console
