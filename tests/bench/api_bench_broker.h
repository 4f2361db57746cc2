// The pieces of the control-plane benchmark (moat-bench-api) that are not benchmarks: a session
// database seeded before the broker starts, a real moat-broker process on it, its CPU time
// from /proc, and a fake agent that enrols and speaks the agent link like moat-agent does.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/net/client.h"
#include "moat/common/wire/messages.h"

namespace moat::bench {

struct SeedOptions {
  int sessions = 1000;
  int users = 10;
  std::string host_name = "bench-host";
};

struct SeededSession {
  std::string id;
  std::string user;
};

// Creates the database (migrated by db::Database::Open), `users` PAM users, one host and
// `sessions` sessions placed on it and moved to 'active', created a minute apart so that the
// newest-first order is the real one. One transaction.
Result<std::vector<SeededSession>> SeedDatabase(const std::filesystem::path& path,
                                                const SeedOptions& options);

// One sample per session read at `at_ms`, with values of lightly used desktop sessions; `tick`
// makes the cumulative counters grow like a real session's.
wire::UsageBatch MakeUsageBatch(const std::vector<SeededSession>& sessions, uint64_t at_ms,
                                uint64_t tick);

// User plus system CPU time, in seconds, of a process or of each of its threads.
double ProcessCpuSeconds(pid_t pid);
struct ThreadCpu {
  std::string name;
  double seconds = 0;
};
std::map<pid_t, ThreadCpu> ThreadCpuSeconds(pid_t pid);
// This process, all threads (getrusage).
double SelfCpuSeconds();

// moat-broker --local_agent.enabled false --auth.pam false on free loopback ports.
class BrokerProcess {
 public:
  static Result<std::unique_ptr<BrokerProcess>> Start(const std::filesystem::path& binary,
                                                      const std::filesystem::path& state_dir);
  ~BrokerProcess();  // SIGTERM, wait
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::string api_url() const { return "https://127.0.0.1:" + std::to_string(api_port_); }
  uint16_t agent_port() const { return agent_port_; }
  const std::string& admin_password() const { return admin_password_; }
  const std::string& ca_pem() const { return ca_pem_; }
  std::filesystem::path database() const { return state_dir_ / "moat.db"; }

  // A fresh keep-alive client that verifies the broker's certificate.
  Result<std::unique_ptr<net::HttpsClient>> Client() const;
  // POST /api/v1/login; the bearer token.
  Result<std::string> Login(const std::string& user, const std::string& password) const;

 private:
  BrokerProcess() = default;
  std::filesystem::path state_dir_;
  pid_t pid_ = 0;
  uint16_t api_port_ = 0, agent_port_ = 0;
  std::string admin_password_, ca_pem_;
};

// A host's agent without sessions of its own: enrols with a token, holds the WSS link with
// the client certificate, and sends what the test tells it to. Requests from the broker are
// answered with an error reply and counted.
class FakeAgent {
 public:
  static Result<std::unique_ptr<FakeAgent>> Enrol(const BrokerProcess& broker,
                                                  const std::string& admin_token,
                                                  const std::string& host_name);
  ~FakeAgent();

  Status SendHello(const std::vector<SeededSession>& sessions);
  // One usage.batch (MakeUsageBatch). Returns the message size.
  Result<size_t> SendUsage(const std::vector<SeededSession>& sessions, uint64_t at_ms,
                           uint64_t tick);
  int requests_received() const { return requests_.load(); }
  bool open() const { return link_ && link_->open(); }

 private:
  FakeAgent() = default;
  std::string host_name_;
  std::unique_ptr<net::WssClient> link_;
  std::atomic<int> requests_{0};
};

}  // namespace moat::bench
