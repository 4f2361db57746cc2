#include "broker_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "moat/common/tls/context.h"
#include "test_support.h"

namespace moat::e2e {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

BrokerProcess::BrokerProcess(BrokerOptions options) : options_(std::move(options)) {
  std::string id = test::UniqueId("e2e");
  state_dir_ = "/tmp/moat-" + id;
  run_dir_ = "/run/moat-" + id;
  cgroup_parent_ = "moat-" + id;
  api_port_ = FreePort();
  agent_port_ = FreePort();
  display_port_ = FreePort();
}

namespace {

// The test's cgroup parent in every hierarchy, once its walls are gone: only empty groups are
// removed (rmdir), deepest first, so a group something still uses stays.
void RemoveCgroupParent(const std::string& parent) {
  std::vector<std::filesystem::path> roots = {"/sys/fs/cgroup"};
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    if (entry.is_directory(ec)) roots.push_back(entry.path());
  }
  for (const auto& root : roots) {
    std::filesystem::path top = root / parent;
    if (!std::filesystem::is_directory(top, ec)) continue;
    std::vector<std::filesystem::path> groups;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(top, ec)) {
      if (entry.is_directory(ec)) groups.push_back(entry.path());
    }
    std::sort(groups.rbegin(), groups.rend());  // children before their parents
    for (const auto& group : groups) ::rmdir(group.c_str());
    ::rmdir(top.c_str());
  }
}

}  // namespace

BrokerProcess::~BrokerProcess() {
  if (running()) {
    // Sessions outlive the broker by design; a test must not leave its own behind.
    Api api = AdminApi(*this);
    Reply live = api.Call("GET", "/api/v1/sessions?live=1&limit=1000");
    for (const auto& session : live.body.value("sessions", Json::array())) {
      api.Call("POST", "/api/v1/sessions/" + session["id"].get<std::string>() + "/end");
    }
    Terminate();
  }
  // Whatever still runs in this test's run directory goes with it.
  StopWalls(run_dir_, cgroup_parent_);
  RemoveCgroupParent(cgroup_parent_);
  std::error_code ec;
  std::filesystem::remove_all(state_dir_, ec);
  std::filesystem::remove_all(run_dir_, ec);
}

std::string BrokerProcess::ca_pem() const { return Slurp(state_dir_ + "/ca/ca.crt"); }
std::string BrokerProcess::log() const { return Slurp(state_dir_ + "/broker.log"); }

void BrokerProcess::Start() {
  ASSERT_FALSE(running());
  std::filesystem::create_directories(state_dir_);
  std::vector<std::string> args = {MOAT_BROKER_BIN,
                                   "--state.dir",
                                   state_dir_,
                                   "--listen.address",
                                   "127.0.0.1",
                                   "--listen.port",
                                   std::to_string(api_port_),
                                   "--agents.address",
                                   "127.0.0.1",
                                   "--agents.port",
                                   std::to_string(agent_port_),
                                   "--auth.pam",
                                   "false",
                                   "--local_agent.enabled",
                                   options_.local_agent ? "true" : "false",
                                   "--local_agent.host_name",
                                   options_.host_name,
                                   "--local_agent.run_dir",
                                   run_dir_,
                                   "--local_agent.cgroup_parent",
                                   cgroup_parent_,
                                   "--local_agent.binary",
                                   MOAT_AGENT_BIN,
                                   "--display.address",
                                   "127.0.0.1",
                                   "--display.port",
                                   std::to_string(display_port_)};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::string log_path = state_dir_ + "/broker.log";
  std::string banner_path = state_dir_ + "/banner." + std::to_string(++starts_);
  pid_ = test::SpawnLogged(args, banner_path, log_path);
  ASSERT_GE(pid_, 0);
  bool ready =
      WaitFor([&] { return Slurp(banner_path).find("moatctl --broker") != std::string::npos; }, 30);
  ASSERT_TRUE(ready) << "moat-broker did not start:\n" << log();
  std::string banner = Slurp(banner_path);
  if (auto at = banner.find("password "); at != std::string::npos) {
    admin_password_ = banner.substr(at + 9, banner.find('\n', at) - at - 9);
  }
  ASSERT_FALSE(admin_password_.empty()) << banner;
  if (options_.local_agent) {
    Api admin = AdminApi(*this);
    bool online = WaitFor([&] {
      Reply hosts = admin.Call("GET", "/api/v1/hosts");
      for (const auto& host : hosts.body.value("hosts", Json::array())) {
        if (host["name"] == options_.host_name && host["connected"] == true) return true;
      }
      return false;
    });
    ASSERT_TRUE(online) << "the local agent did not connect:\n" << log();
  }
}

void BrokerProcess::Terminate() {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = 0;
}

void BrokerProcess::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = 0;
}

Api::Api(const BrokerProcess& broker, std::string token) : token_(std::move(token)) {
  auto ctx = tls::MakeClientContext({.ca_pem = broker.ca_pem(), .verify_hostname = "127.0.0.1"});
  EXPECT_TRUE(ctx) << ctx.error().message();
  auto client = net::HttpsClient::Connect(broker.url(), std::move(*ctx), std::chrono::seconds(120));
  EXPECT_TRUE(client) << client.error().message();
  if (client) client_ = std::move(*client);
}

Reply Api::CallRaw(const std::string& method, const std::string& target, const std::string& body,
                   const std::vector<std::pair<std::string, std::string>>& headers) {
  Reply reply;
  if (!client_) return reply;
  net::ClientRequest request{.method = method, .target = target, .headers = headers, .body = body};
  if (!token_.empty()) request.headers.emplace_back("Authorization", "Bearer " + token_);
  auto response = client_->Send(request);
  if (!quiet_) {
    EXPECT_TRUE(response) << method << " " << target << ": " << response.error().message();
  }
  if (!response) return reply;
  reply.status = response->status;
  reply.raw = response->body;
  reply.body = Json::parse(response->body, nullptr, false);
  return reply;
}

Reply Api::Call(const std::string& method, const std::string& target, const Json& body) {
  return CallRaw(method, target, body.is_null() ? std::string() : body.dump());
}

std::string Login(const BrokerProcess& broker, const std::string& user,
                  const std::string& password) {
  Api api(broker);
  Reply reply = api.Call("POST", "/api/v1/login", {{"user", user}, {"password", password}});
  EXPECT_EQ(reply.status, 200) << reply.raw;
  return reply.body.value("token", "");
}

Api AdminApi(const BrokerProcess& broker) {
  return Api(broker, Login(broker, "admin", broker.admin_password()));
}

Api MakeUser(const BrokerProcess& broker, const std::string& name, const std::string& role) {
  test::EnsureUser(name);
  Api admin = AdminApi(broker);
  std::string password = "pw-" + name + "-secret";
  Reply added =
      admin.Call("POST", "/api/v1/users", {{"name", name}, {"password", password}, {"role", role}});
  EXPECT_TRUE(added.status == 201 || added.status == 409) << added.raw;
  return Api(broker, Login(broker, name, password));
}

bool WaitFor(const std::function<bool()>& predicate, int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return predicate();
}

std::string SessionCgroupFile(const std::string& parent, const std::string& session,
                              const std::vector<std::string>& names) {
  for (const auto& root : {"/sys/fs/cgroup", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu",
                           "/sys/fs/cgroup/freezer"}) {
    for (const auto& name : names) {
      std::string path = std::string(root) + "/" + parent + "/" + session + "/" + name;
      if (std::filesystem::exists(path)) return path;
    }
  }
  return "";
}

std::vector<std::string> WallsIn(const std::string& run_dir) {
  return test::ListDir(run_dir + "/sessions");
}

void StopWalls(const std::string& run_dir, const std::string& cgroup_parent) {
  for (const auto& id : WallsIn(run_dir)) {
    test::RunCommand(
        {MOAT_SANDBOX_BIN, "--run-dir", run_dir, "--cgroup-parent", cgroup_parent, "stop", id});
  }
}

pid_t LocalAgentPid(const BrokerProcess& broker) {
  for (const auto& entry : test::ListDir("/proc")) {
    if (entry.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = test::ReadFile("/proc/" + entry + "/cmdline");
    std::string program = cmdline.substr(0, cmdline.find('\0'));
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    // The broker's own command line names the agent binary and the run directory too.
    if (program.ends_with("/moat-agent") &&
        cmdline.find(" " + broker.run_dir() + " ") != std::string::npos) {
      return std::stoi(entry);
    }
  }
  return 0;
}

bool AwaitAgentRestarted(const BrokerProcess& broker, Api& admin, pid_t killed, int timeout_s) {
  return WaitFor(
      [&] {
        pid_t now = LocalAgentPid(broker);
        if (now <= 0 || now == killed) return false;
        Reply hosts = admin.Call("GET", "/api/v1/hosts");
        return hosts.body["hosts"][0]["connected"] == true;
      },
      timeout_s);
}

ExtraAgent::ExtraAgent(const BrokerProcess& broker, const std::string& name,
                       const std::string& token) {
  std::string id = test::UniqueId("e2e-agent");
  cert_dir_ = "/tmp/moat-" + id;
  run_dir_ = "/run/moat-" + id;
  cgroup_parent_ = "moat-" + id;
  std::filesystem::create_directories(cert_dir_);
  std::vector<std::string> args = {MOAT_AGENT_BIN, "--broker",   broker.url(), "--token",
                                   token,          "--cert-dir", cert_dir_,    "--name",
                                   name,           "--run-dir",  run_dir_,     "--cgroup-parent",
                                   cgroup_parent_, "--capacity", "50"};
  std::string log_path = cert_dir_ + "/agent.log";
  pid_ = test::SpawnLogged(args, log_path, log_path);
}

ExtraAgent::~ExtraAgent() {
  Kill();
  StopWalls(run_dir_, cgroup_parent_);
  RemoveCgroupParent(cgroup_parent_);
  std::error_code ec;
  std::filesystem::remove_all(cert_dir_, ec);
  std::filesystem::remove_all(run_dir_, ec);
}

void ExtraAgent::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

std::string ExtraAgent::log() const { return Slurp(cert_dir_ + "/agent.log"); }

std::string DatabaseSnapshot(const std::string& path) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "cannot open " + path;
  }
  // auth_tokens and login_failures change with every login and token use; the rest must not.
  for (const char* table :
       {"users", "hosts", "sessions", "session_events", "apps", "policies", "enrolment_tokens"}) {
    std::string sql = std::string("SELECT * FROM ") + table + " ORDER BY 1";
    if (std::string(table) == "hosts") {
      sql = "SELECT id, name, capacity, enabled, drained, cert_fingerprint FROM hosts ORDER BY 1";
    }
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
    out += std::string("[") + table + "]\n";
    while (stmt && sqlite3_step(stmt) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* text = sqlite3_column_text(stmt, i);
        out += text ? reinterpret_cast<const char*>(text) : "NULL";
        out += '|';
      }
      out += '\n';
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return out;
}

}  // namespace moat::e2e
