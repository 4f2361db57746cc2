// The agent link: WSS with mutual TLS to the broker, host.hello first on every connection, then
// requests answered in order and a usage.batch every second. A dropped link is retried with
// exponential backoff (1 s to 30 s, with jitter) for as long as the agent runs; the sessions
// keep running meanwhile.
#pragma once

#include <atomic>

#include "backend.h"
#include "enrolment.h"
#include "message_handler.h"
#include "usage_collector.h"

namespace moat::agent {

// Runs until `stop` becomes true (SIGTERM). Returns the exit code.
int RunWssLink(Backend& backend, MessageHandler& handler, UsageCollector& collector,
               const AgentIdentity& identity, const std::atomic<bool>& stop);

}  // namespace moat::agent
