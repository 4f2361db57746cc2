// End-to-end harness: a real moat-broker process (with its real local moat-agent building real
// walls) on fresh state, and an HTTPS client for its API. Everything goes over real TLS.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "moat/common/net/client.h"

namespace moat::e2e {

using Json = nlohmann::json;

// A free TCP port on 127.0.0.1 (bound, read back, released).
uint16_t FreePort();

struct BrokerOptions {
  bool local_agent = true;
  std::string host_name = "e2e-local";
  std::vector<std::string> extra_args;
};

class BrokerProcess {
 public:
  // Fresh state directory, run directory and cgroup parent; fixed ports for restarts.
  explicit BrokerProcess(BrokerOptions options = {});
  ~BrokerProcess();  // ends live sessions, stops the broker, removes what it made

  // Starts the broker and waits for its banner (and, with a local agent, for the host online).
  void Start();
  void Terminate();  // SIGTERM and wait
  void Kill();       // SIGKILL and wait (the local agent dies with it)
  bool running() const { return pid_ > 0; }

  std::string url() const { return "https://127.0.0.1:" + std::to_string(api_port_); }
  uint16_t api_port() const { return api_port_; }
  uint16_t agent_port() const { return agent_port_; }
  uint16_t display_port() const { return display_port_; }  // native VNC viewers
  const std::string& state_dir() const { return state_dir_; }
  const std::string& run_dir() const { return run_dir_; }
  const std::string& cgroup_parent() const { return cgroup_parent_; }
  std::string database() const { return state_dir_ + "/moat.db"; }
  std::string ca_pem() const;
  const std::string& admin_password() const { return admin_password_; }
  std::string log() const;

 private:
  BrokerOptions options_;
  std::string state_dir_, run_dir_, cgroup_parent_;
  uint16_t api_port_ = 0, agent_port_ = 0, display_port_ = 0;
  pid_t pid_ = 0;
  std::string admin_password_;
  int starts_ = 0;
};

struct Reply {
  int status = 0;
  Json body;
  std::string raw;
};

// One keep-alive HTTPS connection to the broker, with an optional bearer token.
class Api {
 public:
  explicit Api(const BrokerProcess& broker, std::string token = {});
  Reply Call(const std::string& method, const std::string& target, const Json& body = nullptr);
  Reply CallRaw(const std::string& method, const std::string& target, const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& headers = {});
  const std::string& token() const { return token_; }
  // Quiet: transport failures are returned as status 0 instead of failing the test (for calls
  // that race a broker being killed).
  void set_quiet(bool quiet) { quiet_ = quiet; }
  void set_token(std::string token) { token_ = std::move(token); }

 private:
  std::unique_ptr<net::HttpsClient> client_;
  std::string token_;
  bool quiet_ = false;
};

// Logs in; fails the test if refused.
std::string Login(const BrokerProcess& broker, const std::string& user,
                  const std::string& password);
// An admin session of the API.
Api AdminApi(const BrokerProcess& broker);
// Creates a system user and a broker user of the same name and role; returns a logged-in Api.
Api MakeUser(const BrokerProcess& broker, const std::string& name, const std::string& role);
// Polls until `predicate` holds or `timeout_s` passes.
bool WaitFor(const std::function<bool()>& predicate, int timeout_s = 20);
// A moat-agent process of a second host, enrolled with a token.
class ExtraAgent {
 public:
  ExtraAgent(const BrokerProcess& broker, const std::string& name, const std::string& token);
  ~ExtraAgent();  // kills it, stops its sessions, removes its state
  void Kill();
  const std::string& run_dir() const { return run_dir_; }
  const std::string& cgroup_parent() const { return cgroup_parent_; }
  std::string log() const;

 private:
  std::string cert_dir_, run_dir_, cgroup_parent_;
  pid_t pid_ = 0;
};

// The pid of the broker's local moat-agent, 0 if none runs.
pid_t LocalAgentPid(const BrokerProcess& broker);
// After the local agent `killed` died: waits until the broker has started another one and it
// is connected (the first host of GET /api/v1/hosts).
bool AwaitAgentRestarted(const BrokerProcess& broker, Api& admin, pid_t killed, int timeout_s);
// Session ids with a wall in `run_dir`.
std::vector<std::string> WallsIn(const std::string& run_dir);
// Stops every wall in the run directory (test clean-up).
void StopWalls(const std::string& run_dir, const std::string& cgroup_parent);

// The path of the first of `names` (e.g. "cpu.max", "cpu.cfs_quota_us") in the session's
// cgroup under `parent`, in whichever hierarchy has it (v2, or a v1 controller); "" if none.
std::string SessionCgroupFile(const std::string& parent, const std::string& session,
                              const std::vector<std::string>& names);

// One broker for all the tests of a suite (started once, stopped after the last test).
class SharedBrokerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    broker_ = new BrokerProcess();
    broker_->Start();
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }
  static inline BrokerProcess* broker_ = nullptr;
};

// Every row of the tables an API request may change, for "changed nothing" checks.
std::string DatabaseSnapshot(const std::string& path);

}  // namespace moat::e2e
