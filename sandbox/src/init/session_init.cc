#include "session_init.h"

#include <unistd.h>

#include "../setup_config.h"
#include "moat/sandbox/control_protocol.h"
#include "setup.h"
#include "supervisor.h"

namespace moat::sandbox::init {

int RunSessionInit() {
  auto first = ReceiveControlMessage(kSetupSocketFd);
  if (!first) return 3;
  auto config = SetupConfigFromJson(first->body);
  if (!config) {
    (void)SendControlMessage(
        kSetupSocketFd,
        {{"phase", "failed"}, {"errno", EINVAL}, {"message", config.error().message()}});
    return 3;
  }
  auto outcome = RunSetup(*config, kSetupSocketFd, kSeccompProgramFd);
  if (!outcome) {
    (void)SendControlMessage(kSetupSocketFd, {{"phase", "failed"},
                                              {"errno", outcome.error().code().value()},
                                              {"message", outcome.error().message()}});
    return 4;
  }
  (void)SendControlMessage(kSetupSocketFd, {{"phase", "ready"}});
  ::close(kSetupSocketFd);
  Supervisor supervisor(std::move(*config), std::move(outcome->control_listener),
                        std::move(outcome->cgroup_dirs));
  return supervisor.Run();
}

}  // namespace moat::sandbox::init
