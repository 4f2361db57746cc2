// moat-broker: Moat's control plane. See broker_config.h for the options and docs/api.md for
// the API it serves.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "moat/common/log.h"

int main(int argc, char** argv) {
  using namespace moat;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::fputs(broker::kBrokerUsage, stdout);
      return 0;
    }
  }
  log::SetFormat(log::DetectFormat());
  auto config = broker::LoadBrokerConfig(args);
  if (!config) {
    std::fprintf(stderr, "moat-broker: %s\n", config.error().message().c_str());
    return 2;
  }
  if (config->log_level == "debug") log::SetLevel(log::Level::kDebug);
  if (config->log_level == "warning") log::SetLevel(log::Level::kWarning);
  if (config->log_level == "error") log::SetLevel(log::Level::kError);

  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto broker = broker::Broker::Start(std::move(*config));
  if (!broker) {
    std::fprintf(stderr, "moat-broker: %s\n", broker.error().message().c_str());
    return 1;
  }
  std::fputs((*broker)->Banner().c_str(), stdout);
  std::fflush(stdout);
  int signal = 0;
  do {
    sigwait(&signals, &signal);
  } while (signal == SIGHUP);  // no reload yet: keep running
  log::Info("stopping", {{"signal", static_cast<int64_t>(signal)}});
  (*broker)->Stop();
  return 0;
}
