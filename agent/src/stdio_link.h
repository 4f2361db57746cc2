// A stand-in for the broker link until the WSS/mutual-TLS transport exists: newline-delimited
// envelopes on stdin (requests) and stdout (host.hello first, replies, a usage.batch every
// second). One thread; a request is handled to the end before the next is read.
#pragma once

#include "backend.h"
#include "message_handler.h"
#include "usage_collector.h"

namespace moat::agent {

// Runs until stdin closes (0) or stdout fails (1).
int RunStdioLink(Backend& backend, MessageHandler& handler, UsageCollector& collector);

// Cleans up sessions that ended by themselves: reaps exited moat-init children of this process
// and ends (removes the traces of) every listed session that no longer runs.
void ReapEndedSessions(Backend& backend);

}  // namespace moat::agent
