// The single-host default: moat-broker starts a moat-agent on its own machine and restarts it
// whenever it dies (with backoff), through Boost.Process. The agent dies with the broker
// (PR_SET_PDEATHSIG), so a restarted broker never finds a stale agent of its own; the sessions
// do not die with either, and the next agent re-adopts them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "moat/common/error.h"

namespace moat::broker {

struct LocalAgentOptions {
  std::filesystem::path binary;
  std::vector<std::string> args;
};

class LocalAgent {
 public:
  explicit LocalAgent(LocalAgentOptions options);
  ~LocalAgent();  // Stop()
  LocalAgent(const LocalAgent&) = delete;
  LocalAgent& operator=(const LocalAgent&) = delete;

  // Starts the supervising thread; fails when the binary is not there.
  Status Start();
  // SIGTERM to the agent, waits for it, joins. Idempotent.
  void Stop();

  int restarts() const { return restarts_.load(); }
  int pid() const { return pid_.load(); }

 private:
  void Supervise();

  LocalAgentOptions options_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<int> pid_{0};
  std::atomic<int> restarts_{0};
};

}  // namespace moat::broker
