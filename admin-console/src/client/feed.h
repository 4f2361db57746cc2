// SPDX-License-Identifier: GPL-3.0-or-later
// Hands what the client receives to the models: snapshots reset them, stream messages queue.
#pragma once

#include "client/brokerclient.h"
#include "models/liveupdates.h"

namespace moat::console {

inline void Feed(BrokerClient* client, LiveUpdates* live) {
  QObject::connect(client, &BrokerClient::sessionsRequested, live,
                   &LiveUpdates::BeginSessionsSnapshot);
  QObject::connect(client, &BrokerClient::sessionsLoaded, live, &LiveUpdates::ResetSessions);
  QObject::connect(client, &BrokerClient::hostsLoaded, live, &LiveUpdates::ResetHosts);
  QObject::connect(client, &BrokerClient::auditLoaded, live, &LiveUpdates::ResetAudit);
  QObject::connect(client, &BrokerClient::eventReceived, live,
                   qOverload<const QByteArray&>(&LiveUpdates::Enqueue));
}

}  // namespace moat::console
