#include "api_bench_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "db/database.h"
#include "db/host_store.h"
#include "db/session_store.h"
#include "db/user_store.h"
#include "moat/common/tls/ca.h"
#include "moat/common/tls/context.h"
#include "moat/common/unique_fd.h"
#include "moat/common/wire/envelope.h"
#include "test_support.h"

namespace moat::bench {
namespace {

namespace db = broker::db;

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A free TCP port on 127.0.0.1 (bound, read back, released).
Result<uint16_t> FreePort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket", "AF_INET");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return FailErrno("bind", "127.0.0.1:0");
  }
  socklen_t length = sizeof(address);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

// utime + stime from a /proc/…/stat line; the command name may contain spaces and ')'.
double StatCpuSeconds(const std::string& stat) {
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 0; fields >> field; ++i) {
    if (i == 11) utime = std::stoull(field);
    if (i == 12) {
      stime = std::stoull(field);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

Result<wire::Json> CallJson(net::HttpsClient& client, const std::string& method,
                            const std::string& target, const wire::Json& body,
                            const std::string& token, int expected) {
  net::ClientRequest request{.method = method,
                             .target = target,
                             .headers = {},
                             .body = body.is_null() ? std::string() : body.dump()};
  if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
  MOAT_TRY(auto reply, client.Send(request));
  if (reply.status != expected) {
    return Fail(InvalidArgument(method + " " + target + " answered " +
                                std::to_string(reply.status) + ": " + reply.body));
  }
  wire::Json json = wire::Json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Fail(InvalidArgument(method + " " + target + ": not JSON"));
  return json;
}

}  // namespace

Result<std::vector<SeededSession>> SeedDatabase(const std::filesystem::path& path,
                                                const SeedOptions& options) {
  MOAT_TRY_CTX(db::Database database, db::Database::Open(path), "seed database");
  MOAT_TRY(auto tx, db::Transaction::Begin(database));
  db::UserStore users(database);
  std::vector<db::User> added;
  for (int i = 0; i < options.users; ++i) {
    // PAM users: no password, so no scrypt hashing while seeding.
    MOAT_TRY(db::User user, users.Add({.name = "bench-user-" + std::to_string(i),
                                       .display_name = "Bench user " + std::to_string(i),
                                       .password = std::nullopt,
                                       .source = "pam",
                                       .role = db::Role::kUser},
                                      db::Actor::System()));
    added.push_back(std::move(user));
  }
  MOAT_TRY(db::Host host, db::HostStore(database).Add({.name = options.host_name,
                                                       .address = "127.0.0.1",
                                                       .capacity = 2 * options.sessions,
                                                       .cert_fingerprint = std::nullopt},
                                                      db::Actor::System()));
  // Created a minute apart, the newest a minute ago.
  std::int64_t now = db::SystemClock()();
  int index = 0;
  db::SessionStore sessions(database, [&] { return now - 60 * (options.sessions - index); });
  std::vector<SeededSession> seeded;
  for (; index < options.sessions; ++index) {
    const db::User& user = added[static_cast<size_t>(index % options.users)];
    MOAT_TRY(db::Session session,
             sessions.Create({.id = "",
                              .user_id = user.id,
                              .host_id = host.id,
                              .backend = "sandbox",
                              .limits = R"({"cpu_percent":100,"memory_max":2147483648})"},
                             db::Actor::System()));
    MOAT_TRY(db::Session active,
             sessions.Transition(session.id, db::SessionState::kActive, db::Actor::System()));
    (void)active;
    seeded.push_back({session.id, user.name});
  }
  MOAT_TRY_VOID(tx.Commit());
  return seeded;
}

wire::UsageBatch MakeUsageBatch(const std::vector<SeededSession>& sessions, uint64_t at_ms,
                                uint64_t tick) {
  wire::UsageBatch batch;
  batch.samples.reserve(sessions.size());
  for (size_t i = 0; i < sessions.size(); ++i) {
    // Values of a lightly used desktop session, different per session and second.
    uint64_t spread = (i * 7919 + tick * 104729) % 1000;
    double cpu_percent = static_cast<double>(spread % 300) / 10.0;
    uint64_t memory = (64ULL << 20) + spread * (512ULL << 10);
    batch.samples.push_back({.session_id = sessions[i].id,
                             .at = at_ms,
                             .cpu_usage_us = tick * 150000 + i * 1000,
                             .cpu_percent = cpu_percent,
                             .memory_current = memory,
                             .memory_peak = memory + (32ULL << 20),
                             .pids = 8 + spread % 40,
                             .io_read_bytes = tick * 4096 * (1 + i % 16),
                             .io_write_bytes = tick * 8192 * (1 + i % 8),
                             .io_read_ops = tick * (1 + i % 16),
                             .io_write_ops = tick * 2 * (1 + i % 8),
                             .oom_kills = 0,
                             .psi = {.cpu = cpu_percent / 20.0,
                                     .memory = 0.0,
                                     .memory_full = 0.0,
                                     .io = static_cast<double>(spread % 7) / 10.0}});
  }
  return batch;
}

double ProcessCpuSeconds(pid_t pid) {
  return StatCpuSeconds(Slurp("/proc/" + std::to_string(pid) + "/stat"));
}

std::map<pid_t, ThreadCpu> ThreadCpuSeconds(pid_t pid) {
  std::map<pid_t, ThreadCpu> threads;
  std::filesystem::path dir = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = Slurp(entry.path() / "comm");
    while (!name.empty() && name.back() == '\n') name.pop_back();
    threads[std::stoi(entry.path().filename().string())] = {
        name, StatCpuSeconds(Slurp(entry.path() / "stat"))};
  }
  return threads;
}

double SelfCpuSeconds() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

Result<std::unique_ptr<BrokerProcess>> BrokerProcess::Start(
    const std::filesystem::path& binary, const std::filesystem::path& state_dir) {
  std::unique_ptr<BrokerProcess> broker(new BrokerProcess);
  broker->state_dir_ = state_dir;
  MOAT_TRY(broker->api_port_, FreePort());
  MOAT_TRY(broker->agent_port_, FreePort());
  std::vector<std::string> args = {binary.string(),
                                   "--state.dir",
                                   state_dir.string(),
                                   "--listen.address",
                                   "127.0.0.1",
                                   "--listen.port",
                                   std::to_string(broker->api_port_),
                                   "--agents.address",
                                   "127.0.0.1",
                                   "--agents.port",
                                   std::to_string(broker->agent_port_),
                                   "--auth.pam",
                                   "false",
                                   "--local_agent.enabled",
                                   "false",
                                   "--display.enabled",
                                   "false"};
  std::string banner_path = (state_dir / "banner").string();
  std::string log_path = (state_dir / "broker.log").string();
  pid_t pid = test::SpawnLogged(args, banner_path, log_path);
  if (pid < 0) return FailErrno("fork", binary.string());
  broker->pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string banner;
  while ((banner = Slurp(banner_path)).find("moatctl --broker") == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline || ::waitpid(pid, nullptr, WNOHANG) == pid) {
      broker->pid_ = 0;
      return Fail(InvalidArgument("moat-broker did not start:\n" + Slurp(log_path)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // "  First start: admin user 'admin', password SECRET\n"
  auto at = banner.find("password ");
  if (at == std::string::npos) return Fail(InvalidArgument("no admin password in:\n" + banner));
  broker->admin_password_ = banner.substr(at + 9, banner.find('\n', at) - at - 9);
  broker->ca_pem_ = Slurp(state_dir / "ca" / "ca.crt");
  return broker;
}

BrokerProcess::~BrokerProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  ::waitpid(pid_, nullptr, 0);
}

Result<std::unique_ptr<net::HttpsClient>> BrokerProcess::Client() const {
  MOAT_TRY(auto ctx, tls::MakeClientContext({.ca_pem = ca_pem_,
                                             .client_cert_pem = std::nullopt,
                                             .client_key_pem = std::nullopt,
                                             .verify_hostname = "127.0.0.1"}));
  return net::HttpsClient::Connect(api_url(), std::move(ctx), std::chrono::seconds(60));
}

Result<std::string> BrokerProcess::Login(const std::string& user,
                                         const std::string& password) const {
  MOAT_TRY(auto client, Client());
  MOAT_TRY(wire::Json reply, CallJson(*client, "POST", "/api/v1/login",
                                      {{"user", user}, {"password", password}}, "", 200));
  return reply.value("token", "");
}

Result<std::unique_ptr<FakeAgent>> FakeAgent::Enrol(const BrokerProcess& broker,
                                                    const std::string& admin_token,
                                                    const std::string& host_name) {
  MOAT_TRY(auto client, broker.Client());
  MOAT_TRY(wire::Json issued, CallJson(*client, "POST", "/api/v1/hosts/tokens",
                                       wire::Json::object(), admin_token, 201));
  MOAT_TRY(tls::KeyAndCsr csr, tls::MakeCsr(host_name));
  MOAT_TRY(wire::Json enrolled, CallJson(*client, "POST", "/api/v1/enrol",
                                         {{"token", issued.value("token", "")},
                                          {"name", host_name},
                                          {"csr", csr.csr_pem},
                                          {"capacity", 2000}},
                                         "", 200));
  MOAT_TRY(auto ctx, tls::MakeClientContext({.ca_pem = broker.ca_pem(),
                                             .client_cert_pem = enrolled.value("certificate", ""),
                                             .client_key_pem = csr.key_pem,
                                             .verify_hostname = "127.0.0.1"}));
  std::unique_ptr<FakeAgent> agent(new FakeAgent);
  agent->host_name_ = host_name;
  FakeAgent* raw = agent.get();
  net::WssOptions options;
  options.url = "wss://127.0.0.1:" + std::to_string(broker.agent_port()) + "/api/v1/agent";
  options.ctx = std::move(ctx);
  // The broker sends this host no requests in the benchmark; answer any with an error, like an
  // agent that does not know the request would.
  options.on_message = [raw](std::string text) {
    auto envelope = wire::DecodeEnvelope(text);
    if (!envelope || envelope->re || !raw->link_) return;
    raw->requests_.fetch_add(1);
    (void)raw->link_->Send(wire::EncodeEnvelope(
        wire::MakeErrorReply(*envelope, "unsupported", "the benchmark agent runs no sessions")));
  };
  options.on_close = [](const Error&) {};
  MOAT_TRY(agent->link_, net::WssClient::Connect(std::move(options)));
  return agent;
}

FakeAgent::~FakeAgent() {
  if (link_) link_->Close();
}

Status FakeAgent::SendHello(const std::vector<SeededSession>& sessions) {
  wire::HostHello hello{.agent_version = "moat-bench-api",
                        .host_name = host_name_,
                        .capacity = {.cpus = 2, .memory_bytes = 24ULL << 30, .max_sessions = 2000},
                        .backends = {wire::Backend::kSandbox},
                        .sessions = {}};
  for (const auto& session : sessions) {
    hello.sessions.push_back({.session_id = session.id,
                              .user = session.user,
                              .backend = wire::Backend::kSandbox,
                              .state = wire::RunningState::kRunning});
  }
  return link_->Send(wire::EncodeEnvelope(wire::MakeMessage(hello)));
}

Result<size_t> FakeAgent::SendUsage(const std::vector<SeededSession>& sessions, uint64_t at_ms,
                                    uint64_t tick) {
  wire::UsageBatch batch = MakeUsageBatch(sessions, at_ms, tick);
  std::string text = wire::EncodeEnvelope(wire::MakeMessage(batch));
  size_t size = text.size();
  MOAT_TRY_VOID(link_->Send(std::move(text)));
  return size;
}

}  // namespace moat::bench
