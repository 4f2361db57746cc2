// The broker's end of the agent links: which hosts are connected, requests to them with their
// replies matched by id, and the hand-off of what agents send unasked (host.hello, usage.batch)
// to the broker's handlers. An agent proves who it is with the client certificate the broker's
// CA gave it at enrolment: its CN names the host, its fingerprint must be the enrolled one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "db/connection_pool.h"
#include "db/host_store.h"
#include "http/server.h"
#include "moat/common/wire/envelope.h"
#include "moat/common/wire/messages.h"

namespace moat::broker {

struct AgentHubHandlers {
  // The agent's first message on a new connection. Called off the I/O threads.
  std::function<void(std::int64_t host_id, const wire::HostHello& hello)> on_hello;
  std::function<void(std::int64_t host_id, wire::UsageBatch batch)> on_usage;
  std::function<void(std::int64_t host_id)> on_disconnect;
  // Runs a task off the I/O threads (the broker's TaskQueue).
  std::function<void(std::function<void()>)> post;
};

class AgentHub {
 public:
  AgentHub(db::ConnectionPool& pool, std::chrono::milliseconds request_timeout,
           AgentHubHandlers handlers);
  ~AgentHub();

  // For HttpServer's agent endpoint: a handler for a verified agent, nullptr for anyone else.
  std::shared_ptr<http::WsHandler> Accept(const http::HttpRequest& request);
  // The enrolled host whose current client certificate the request came with (its CN and
  // SHA-256), or nullopt; for the agent port's other endpoints (desktop tunnels).
  std::optional<db::Host> AuthenticatedHost(const http::HttpRequest& request);

  // Sends `request` to the host's agent and waits for the reply. ECONNREFUSED when the host
  // has no agent connected, ETIMEDOUT without a reply in time, ECONNRESET when the link drops
  // meanwhile. An error reply is returned as the reply (envelope.error set).
  Result<wire::Envelope> Request(std::int64_t host_id, const wire::Envelope& request);
  bool IsConnected(std::int64_t host_id) const;
  std::vector<std::int64_t> ConnectedHosts() const;
  // Closes every link (broker shutdown).
  void CloseAll();

  class Connection;

 private:
  friend class Connection;
  void Register(std::int64_t host_id, const std::shared_ptr<Connection>& connection);
  // False when a newer link of the host replaced this one.
  bool Unregister(std::int64_t host_id, const Connection* connection);

  db::ConnectionPool& pool_;
  std::chrono::milliseconds timeout_;
  AgentHubHandlers handlers_;
  mutable std::mutex mutex_;
  std::map<std::int64_t, std::weak_ptr<Connection>> connections_;
};

}  // namespace moat::broker
