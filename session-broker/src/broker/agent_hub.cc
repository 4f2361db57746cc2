#include "broker/agent_hub.h"

#include <future>

#include "db/host_store.h"
#include "moat/common/log.h"

namespace moat::broker {
namespace {

Error LinkError(std::errc code, std::string message) {
  return Error(std::make_error_code(code), std::move(message));
}

}  // namespace

// One agent's link. WsHandler calls arrive on the connection's strand; Request comes from
// broker threads and waits on a promise that OnMessage fulfils.
class AgentHub::Connection : public http::WsHandler,
                             public std::enable_shared_from_this<AgentHub::Connection> {
 public:
  Connection(AgentHub& hub, std::int64_t host_id, std::string host_name)
      : hub_(hub), host_id_(host_id), host_name_(std::move(host_name)) {}

  void OnOpen(std::shared_ptr<http::WsPeer> peer) override {
    std::lock_guard lock(mutex_);
    peer_ = peer;  // weak: the peer owns this handler, not the other way round
  }

  void OnMessage(std::string text) override {
    auto envelope = wire::DecodeEnvelope(text);
    if (!envelope) {
      log::Warning("bad message from agent",
                   {{"host", host_name_}, {"error", envelope.error().message()}});
      return;
    }
    if (envelope->re) return Complete(std::move(*envelope));
    if (!hello_seen_) {
      auto hello = wire::DecodeBody<wire::HostHello>(*envelope);
      if (!hello) {
        log::Warning("agent did not start with host.hello; closing",
                     {{"host", host_name_}, {"error", hello.error().message()}});
        return ClosePeer();
      }
      hello_seen_ = true;
      hub_.Register(host_id_, shared_from_this());
      if (hub_.handlers_.on_hello) {
        hub_.handlers_.post([handler = hub_.handlers_.on_hello, id = host_id_,
                             hello = std::move(*hello)] { handler(id, hello); });
      }
      return;
    }
    if (envelope->type == wire::UsageBatch::kType) {
      auto batch = wire::DecodeBody<wire::UsageBatch>(*envelope);
      if (batch && hub_.handlers_.on_usage) {
        hub_.handlers_.post(
            [handler = hub_.handlers_.on_usage, id = host_id_,
             batch = std::move(*batch)]() mutable { handler(id, std::move(batch)); });
      }
      return;
    }
    log::Warning("unexpected message from agent", {{"host", host_name_}, {"type", envelope->type}});
  }

  void OnClose() override {
    std::map<std::string, std::promise<Result<wire::Envelope>>> pending;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      pending.swap(pending_);
    }
    for (auto& [id, promise] : pending) {
      promise.set_value(Fail(
          LinkError(std::errc::connection_reset, "the link to host '" + host_name_ + "' dropped")));
    }
    // Replaced by a newer link of the same host: that one is the host's state now.
    if (hello_seen_ && hub_.Unregister(host_id_, this)) {
      if (hub_.handlers_.on_disconnect) {
        hub_.handlers_.post(
            [handler = hub_.handlers_.on_disconnect, id = host_id_] { handler(id); });
      }
    }
  }

  Result<wire::Envelope> Request(const wire::Envelope& request, std::chrono::milliseconds timeout) {
    std::future<Result<wire::Envelope>> reply;
    std::shared_ptr<http::WsPeer> peer;
    {
      std::lock_guard lock(mutex_);
      peer = peer_.lock();
      if (closed_ || !peer) {
        return Fail(LinkError(std::errc::connection_refused,
                              "host '" + host_name_ + "' has no agent connected"));
      }
      reply = pending_[request.id].get_future();
    }
    peer->Send(wire::EncodeEnvelope(request));
    if (reply.wait_for(timeout) != std::future_status::ready) {
      std::lock_guard lock(mutex_);
      pending_.erase(request.id);
      return Fail(LinkError(std::errc::timed_out, "host '" + host_name_ + "' did not answer '" +
                                                      request.type + "' within " +
                                                      std::to_string(timeout.count()) + " ms"));
    }
    return reply.get();
  }

  void ClosePeer() {
    std::shared_ptr<http::WsPeer> peer;
    {
      std::lock_guard lock(mutex_);
      peer = peer_.lock();
    }
    if (peer) peer->Close();
  }

 private:
  void Complete(wire::Envelope reply) {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(*reply.re);
    if (it == pending_.end()) return;  // timed out meanwhile
    it->second.set_value(std::move(reply));
    pending_.erase(it);
  }

  AgentHub& hub_;
  const std::int64_t host_id_;
  const std::string host_name_;
  bool hello_seen_ = false;  // strand only

  std::mutex mutex_;
  std::weak_ptr<http::WsPeer> peer_;
  bool closed_ = false;
  std::map<std::string, std::promise<Result<wire::Envelope>>> pending_;
};

AgentHub::AgentHub(db::ConnectionPool& pool, std::chrono::milliseconds request_timeout,
                   AgentHubHandlers handlers)
    : pool_(pool), timeout_(request_timeout), handlers_(std::move(handlers)) {}

AgentHub::~AgentHub() = default;

std::optional<db::Host> AgentHub::AuthenticatedHost(const http::HttpRequest& request) {
  if (request.peer_common_name.empty() || request.peer_cert_fingerprint.empty()) {
    return std::nullopt;
  }
  auto db = pool_.Acquire();
  auto host = db::HostStore(*db).Get(request.peer_common_name);
  if (!host) {
    log::Warning("agent of an unknown host refused", {{"host", request.peer_common_name}});
    return std::nullopt;
  }
  // A certificate replaced by re-enrolment, or a host removed, no longer gets in.
  if (!host->cert_fingerprint || *host->cert_fingerprint != request.peer_cert_fingerprint) {
    log::Warning("agent with a stale certificate refused", {{"host", host->name}});
    return std::nullopt;
  }
  return *host;
}

std::shared_ptr<http::WsHandler> AgentHub::Accept(const http::HttpRequest& request) {
  auto host = AuthenticatedHost(request);
  if (!host) return nullptr;
  return std::make_shared<Connection>(*this, host->id, host->name);
}

Result<wire::Envelope> AgentHub::Request(std::int64_t host_id, const wire::Envelope& request) {
  std::shared_ptr<Connection> connection;
  {
    std::lock_guard lock(mutex_);
    auto it = connections_.find(host_id);
    if (it != connections_.end()) connection = it->second.lock();
  }
  if (!connection) {
    return Fail(LinkError(std::errc::connection_refused,
                          "host " + std::to_string(host_id) + " has no agent connected"));
  }
  return connection->Request(request, timeout_);
}

bool AgentHub::IsConnected(std::int64_t host_id) const {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(host_id);
  return it != connections_.end() && !it->second.expired();
}

std::vector<std::int64_t> AgentHub::ConnectedHosts() const {
  std::lock_guard lock(mutex_);
  std::vector<std::int64_t> hosts;
  for (const auto& [id, weak] : connections_) {
    if (!weak.expired()) hosts.push_back(id);
  }
  return hosts;
}

void AgentHub::CloseAll() {
  std::vector<std::shared_ptr<Connection>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, weak] : connections_) {
      if (auto connection = weak.lock()) all.push_back(std::move(connection));
    }
  }
  for (auto& connection : all) connection->ClosePeer();
}

void AgentHub::Register(std::int64_t host_id, const std::shared_ptr<Connection>& connection) {
  std::shared_ptr<Connection> previous;
  {
    std::lock_guard lock(mutex_);
    auto& slot = connections_[host_id];
    previous = slot.lock();
    slot = connection;
  }
  // A host has one link: a reconnect replaces the old one (which may be half-dead).
  if (previous && previous != connection) previous->ClosePeer();
}

bool AgentHub::Unregister(std::int64_t host_id, const Connection* connection) {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(host_id);
  if (it == connections_.end()) return false;
  auto current = it->second.lock();
  if (current && current.get() != connection) return false;
  connections_.erase(it);
  return true;
}

}  // namespace moat::broker
