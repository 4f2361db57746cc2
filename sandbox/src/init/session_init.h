// A sandbox session's PID 1 from its first message to its end: what moat-init runs when
// libmoat-sandbox starts it, and what moat-sandbox's foreground run calls in the cloned
// child instead of exec'ing moat-init (ManagerOptions::in_process_init).
#pragma once

namespace moat::sandbox::init {

// Reads the setup config from fd 3, builds the wall, reports ready and supervises the
// session until it ends. Returns moat-init's exit status.
int RunSessionInit();

}  // namespace moat::sandbox::init
