#include "broker/local_agent.h"

#include <signal.h>
#include <sys/prctl.h>

// Boost 1.81's Process v2 with std::filesystem forgets two includes of its own.
#define BOOST_PROCESS_USE_STD_FS 1
#include <boost/optional.hpp>
#include <type_traits>
// clang-format off
#include <boost/asio/io_context.hpp>
#include <boost/process/v2/process.hpp>
// clang-format on
#include <chrono>

#include "moat/common/log.h"

namespace moat::broker {
namespace {

namespace bp = boost::process::v2;

// In the child, between fork and exec: signals unblocked, and death with the broker. Returns 0
// or an errno value.
//
// broker_main blocks SIGTERM, SIGINT and SIGHUP in every thread (it takes them with sigwait),
// and a blocked mask survives exec: an agent that never sees SIGTERM never stops, and
// Broker::Stop waited for it forever. Out of line on purpose: grown inline into Boost's
// launcher, it changes GCC's inlining there and trips a false -Warray-bounds in close_all_fds.
[[gnu::noinline]] int PrepareChild() {
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) return errno;
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) return errno;
  // The broker may have died between fork and prctl: then nobody would send the signal.
  if (::getppid() == 1) return ESRCH;
  return 0;
}

struct DieWithParent {
  template <typename Launcher>
  bp::error_code on_exec_setup(Launcher&, const std::filesystem::path&, const char* const*&) {
    int err = PrepareChild();
    if (err != 0) return {err, boost::system::system_category()};
    return {};
  }
};

constexpr auto kMinBackoff = std::chrono::seconds(1);
constexpr auto kMaxBackoff = std::chrono::seconds(30);
// An agent that ran this long was healthy: its next restart starts from the smallest backoff.
constexpr auto kHealthyRun = std::chrono::seconds(60);

}  // namespace

LocalAgent::LocalAgent(LocalAgentOptions options) : options_(std::move(options)) {}

LocalAgent::~LocalAgent() { Stop(); }

Status LocalAgent::Start() {
  if (::access(options_.binary.c_str(), X_OK) != 0) {
    return Fail(ErrnoError("access", "local agent binary '" + options_.binary.string() + "'"));
  }
  thread_ = std::thread([this] { Supervise(); });
  return {};
}

void LocalAgent::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (int pid = pid_.load(); pid > 0) ::kill(pid, SIGTERM);
  if (thread_.joinable()) thread_.join();
}

void LocalAgent::Supervise() {
  auto backoff = kMinBackoff;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    auto started = std::chrono::steady_clock::now();
    boost::asio::io_context io;
    bp::error_code ec;
    std::optional<bp::process> agent;
    try {
      agent.emplace(io, options_.binary, options_.args, DieWithParent{});
    } catch (const std::exception& e) {
      log::Error("local agent: start failed", {{"error", e.what()}});
    }
    if (agent) {
      pid_.store(agent->id());
      log::Info("local agent started", {{"pid", static_cast<int64_t>(agent->id())}});
      {
        // Stop() may have run between the check above and the store: it saw no pid.
        std::lock_guard lock(mutex_);
        if (stopping_) ::kill(agent->id(), SIGTERM);
      }
      int code = agent->wait(ec);
      pid_.store(0);
      std::unique_lock lock(mutex_);
      if (stopping_) return;
      log::Warning("local agent exited; restarting",
                   {{"exit_code", static_cast<int64_t>(code)},
                    {"backoff_s", static_cast<int64_t>(backoff.count())}});
    }
    if (std::chrono::steady_clock::now() - started >= kHealthyRun) backoff = kMinBackoff;
    restarts_.fetch_add(1);
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, backoff, [this] { return stopping_; });
    backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::seconds>(kMaxBackoff));
  }
}

}  // namespace moat::broker
