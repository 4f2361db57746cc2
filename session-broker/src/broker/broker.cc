#include "broker/broker.h"

#include <unistd.h>

#include <optional>

#include "api/api.h"
#include "api/display_stream.h"
#include "auth/pam_auth.h"
#include "broker/agent_hub.h"
#include "broker/bootstrap.h"
#include "broker/desktop_tunnels.h"
#include "broker/display_service.h"
#include "broker/events.h"
#include "broker/housekeeping.h"
#include "broker/local_agent.h"
#include "broker/metrics.h"
#include "broker/session_service.h"
#include "broker/task_queue.h"
#include "db/connection_pool.h"
#include "db/host_store.h"
#include "display/display_gateway.h"
#include "http/byte_stream.h"
#include "http/server.h"
#include "moat/common/log.h"
#include "moat/common/tls/context.h"

namespace moat::broker {
namespace {

std::filesystem::path SelfDirectory() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(".") : self.parent_path();
}

// moat-agent beside moat-broker (installed), in the build tree's agent/ (a developer's build),
// or on the usual paths.
std::filesystem::path FindAgentBinary() {
  std::filesystem::path self = SelfDirectory();
  for (const auto& candidate : {self / "moat-agent", self / ".." / "agent" / "moat-agent",
                                std::filesystem::path("/usr/bin/moat-agent"),
                                std::filesystem::path("/usr/local/bin/moat-agent")}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.lexically_normal();
  }
  return self / "moat-agent";
}

}  // namespace

// Declared in dependency order; destroyed in reverse, after Stop().
struct Broker::Parts {
  BrokerConfig config;
  std::optional<tls::CertificateAuthority> ca;
  std::unique_ptr<db::ConnectionPool> pool;
  http::EventHub hub;
  Metrics metrics;
  std::unique_ptr<Events> events;
  std::unique_ptr<TaskQueue> tasks;
  std::unique_ptr<AgentHub> agents;
  std::unique_ptr<SessionService> sessions;
  DesktopTunnels desktop_tunnels;
  std::unique_ptr<DisplayService> display_service;
  std::unique_ptr<display::DisplayGateway> display;
  std::unique_ptr<api::ApiContext> api;
  http::Router api_router;
  http::Router agent_router;
  std::unique_ptr<http::HttpServer> api_server;
  std::unique_ptr<http::HttpServer> agent_server;
  std::unique_ptr<Housekeeping> housekeeping;
  std::unique_ptr<LocalAgent> local_agent;
  std::optional<std::string> admin_password;
  std::string host_name;
  bool stopped = false;
};

Result<std::unique_ptr<Broker>> Broker::Start(BrokerConfig config) {
  auto parts = std::make_unique<Parts>();
  Parts& p = *parts;
  p.config = std::move(config);
  const BrokerConfig& c = p.config;

  MOAT_TRY_VOID(PrepareStateDir(c.state_dir));
  MOAT_TRY_CTX(p.ca, tls::CertificateAuthority::LoadOrCreate(c.state_dir / "ca"), "broker CA");
  MOAT_TRY(tls::KeyAndCertificate server_cert, ServerCertificate(c, *p.ca));
  MOAT_TRY_CTX(p.pool, db::ConnectionPool::Open(c.DatabasePath(), c.http_threads + 4),
               "session database");
  {
    auto db = p.pool->Acquire();
    MOAT_TRY_CTX(p.admin_password, EnsureAdmin(*db, c), "first admin");
    // No agent is linked before the agent server starts below: a host left 'online' by the
    // last run is offline until its agent says hello again.
    MOAT_TRY_CTX(std::int64_t offline, db::HostStore(*db).MarkOnlineHostsOffline(), "host states");
    if (offline > 0) {
      log::Info("hosts offline until their agents say hello", {{"hosts", std::to_string(offline)}});
    }
  }

  p.events = std::make_unique<Events>(p.hub);
  p.tasks = std::make_unique<TaskQueue>();
  // The hub's handlers reach the session service, created next; both live as long as Parts.
  Parts* raw = &p;
  AgentHubHandlers handlers{
      .on_hello = [raw](std::int64_t host,
                        const wire::HostHello& hello) { raw->sessions->OnHello(host, hello); },
      .on_usage = [raw](std::int64_t host,
                        wire::UsageBatch batch) { raw->sessions->OnUsage(host, batch); },
      .on_disconnect = [raw](std::int64_t host) { raw->sessions->OnDisconnect(host); },
      .post = [raw](std::function<void()> task) { raw->tasks->Post(std::move(task)); }};
  p.agents = std::make_unique<AgentHub>(*p.pool, std::chrono::seconds(c.agent_request_timeout_s),
                                        std::move(handlers));
  p.sessions = std::make_unique<SessionService>(*p.pool, *p.agents, *p.events, p.metrics);

  auth::PamCheck pam;
  if (c.pam) pam = auth::MakePamCheck(c.pam_service);
  p.host_name = c.local_host_name.empty() ? LocalHostName() : c.local_host_name;
  p.display_service = std::make_unique<DisplayService>(
      *p.pool, *p.sessions, p.desktop_tunnels, p.metrics, pam,
      DisplayServiceOptions{.local_host_name = p.host_name, .agent_run_dir = c.agent_run_dir});
  {
    display::DisplayGatewayOptions display_options{.bind_address = c.display_address,
                                                   .vnc_port = c.display_port,
                                                   .vnc_enabled = c.display_enabled,
                                                   .ssl_ctx = nullptr,
                                                   .threads = 2,
                                                   .workers = 4,
                                                   .takeover = c.display_takeover};
    MOAT_TRY(display_options.ssl_ctx, tls::MakeServerContext({.cert_pem = server_cert.cert_pem,
                                                              .key_pem = server_cert.key_pem,
                                                              .client_ca_pem = std::nullopt,
                                                              .require_client_cert = false}));
    MOAT_TRY_CTX(p.display,
                 display::DisplayGateway::Start(std::move(display_options), *p.display_service),
                 "display gateway");
  }
  p.sessions->SetStateListener([raw](const SessionView& after, const std::string&) {
    if (after.state == "disconnected") {
      raw->display->EndClients(after.id, /*owners_only=*/true, display::kCloseRefused,
                               "the session was disconnected");
    } else if (after.state == "ending" || after.state == "ended" || after.state == "failed") {
      raw->display->EndClients(after.id, /*owners_only=*/false, display::kCloseDesktopEnded,
                               "the session " + after.state);
    }
  });

  p.api = std::unique_ptr<api::ApiContext>(new api::ApiContext{
      *p.pool, *p.sessions, *p.agents, p.hub, p.metrics, *p.ca, c, std::move(pam)});
  MOAT_TRY_VOID(api::AddAllRoutes(p.api_router, *p.api));

  http::HttpServerOptions api_options;
  api_options.bind_address = c.listen_address;
  api_options.port = c.listen_port;
  api_options.threads = c.http_threads;
  MOAT_TRY(api_options.ssl_ctx, tls::MakeServerContext({.cert_pem = server_cert.cert_pem,
                                                        .key_pem = server_cert.key_pem,
                                                        .client_ca_pem = std::nullopt,
                                                        .require_client_cert = false}));
  api_options.authorize_events = [raw](const http::HttpRequest& request) {
    return api::AuthorizeEventStream(*raw->api, request);
  };
  api_options.stream_endpoints.push_back(
      {.path = "/api/v1/display", .accept = [raw](const http::HttpRequest& request) {
         return AcceptDisplayStream(*raw->api, *raw->display_service, *raw->display, request);
       }});
  MOAT_TRY_CTX(p.api_server, http::HttpServer::Start(std::move(api_options), p.api_router, p.hub),
               "API server");

  http::HttpServerOptions agent_options;
  agent_options.bind_address = c.agent_address;
  agent_options.port = c.agent_port;
  agent_options.threads = 1;
  MOAT_TRY(agent_options.ssl_ctx, tls::MakeServerContext({.cert_pem = server_cert.cert_pem,
                                                          .key_pem = server_cert.key_pem,
                                                          .client_ca_pem = p.ca->certificate_pem(),
                                                          .require_client_cert = true}));
  agent_options.ws_endpoints.push_back(
      {.path = "/api/v1/agent",
       .accept = [raw](const http::HttpRequest& request) { return raw->agents->Accept(request); }});
  // Desktops of this host's sessions on other hosts come back through these tunnels.
  agent_options.stream_endpoints.push_back(
      {.path = "/api/v1/agent/display", .accept = [raw](const http::HttpRequest& request) {
         http::StreamEndpoint::Decision decision;
         auto host = raw->agents->AuthenticatedHost(request);
         std::string ticket = request.QueryParam("ticket").value_or("");
         if (!host || !raw->desktop_tunnels.Expects(ticket, host->id)) {
           decision.refusal = http::JsonError(403, "forbidden", "no desktop tunnel expected");
           return decision;
         }
         decision.take = [raw, ticket, host_id = host->id](std::unique_ptr<http::ByteStream> s) {
           raw->desktop_tunnels.Deliver(ticket, host_id, std::move(s));
         };
         return decision;
       }});
  MOAT_TRY_CTX(p.agent_server,
               http::HttpServer::Start(std::move(agent_options), p.agent_router, p.hub),
               "agent server");

  p.housekeeping = std::make_unique<Housekeeping>(*p.pool, *p.sessions, *p.events, c);
  p.housekeeping->Start();

  if (c.local_agent) {
    std::filesystem::path binary = c.agent_binary.empty() ? FindAgentBinary() : c.agent_binary;
    std::filesystem::path cert_dir;
    {
      auto db = p.pool->Acquire();
      MOAT_TRY_CTX(cert_dir, PrepareLocalHost(*db, c, *p.ca, p.host_name), "local host");
    }
    std::string link =
        "wss://127.0.0.1:" + std::to_string(p.agent_server->port()) + "/api/v1/agent";
    p.local_agent = std::make_unique<LocalAgent>(LocalAgentOptions{
        binary,
        {"--link", link, "--cert-dir", cert_dir.string(), "--name", p.host_name, "--run-dir",
         c.agent_run_dir.string(), "--cgroup-parent", c.agent_cgroup_parent, "--desktop-startup",
         c.desktop_startup, "--window-manager", c.window_manager}});
    MOAT_TRY_VOID_CTX(p.local_agent->Start(), "local agent");
  }
  return std::unique_ptr<Broker>(new Broker(std::move(parts)));
}

Broker::Broker(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Broker::~Broker() { Stop(); }

void Broker::Stop() {
  Parts& p = *parts_;
  if (p.stopped) return;
  p.stopped = true;
  if (p.local_agent) p.local_agent->Stop();
  if (p.housekeeping) p.housekeeping->Stop();
  if (p.display) p.display->Stop();
  if (p.api_server) p.api_server->Stop();
  if (p.agents) p.agents->CloseAll();
  if (p.agent_server) p.agent_server->Stop();
  if (p.tasks) p.tasks->Stop();
}

uint16_t Broker::api_port() const { return parts_->api_server->port(); }
uint16_t Broker::agent_port() const { return parts_->agent_server->port(); }
uint16_t Broker::display_port() const { return parts_->display->vnc_port(); }

std::string Broker::Banner() const {
  const Parts& p = *parts_;
  std::string url = p.config.public_url;
  if (url.empty()) url = "https://" + p.host_name + ":" + std::to_string(api_port());
  std::string text =
      "moat-broker is running.\n  API and login:  " + url + "/api/v1/\n" +
      "  Web login:      " + url + "/\n" +
      (p.display->vnc_port()
           ? "  VNC viewers:    " + p.host_name + "::" + std::to_string(p.display->vnc_port()) +
                 " (VeNCrypt X509Plain: TLS, then your "
                 "username and password)\n"
           : std::string()) +
      "  Agents connect: wss://<this host>:" + std::to_string(agent_port()) +
      "/api/v1/agent (mutual TLS)\n" +
      "  CA certificate: " + (p.config.state_dir / "ca" / "ca.crt").string() + " (SHA-256 " +
      p.ca->fingerprint() + ")\n" + "  Database:       " + p.config.DatabasePath().string() + "\n";
  if (p.admin_password) {
    text += "  First start: admin user '" + p.config.admin_user + "', password " +
            *p.admin_password + "\n  (also in " + (p.config.state_dir / "admin-password").string() +
            ", mode 0600)\n";
  }
  text += "  moatctl --broker " + url + " --ca " + (p.config.state_dir / "ca" / "ca.crt").string() +
          " login " + p.config.admin_user + "\n";
  return text;
}

}  // namespace moat::broker
