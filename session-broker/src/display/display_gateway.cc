#include "display/display_gateway.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "display/display_relay.h"
#include "display/vencrypt_server.h"
#include "moat/common/log.h"

namespace moat::broker::display {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// The whole native handshake (TLS, credentials, perhaps a session start) must fit in this.
constexpr auto kHandshakeDeadline = std::chrono::seconds(45);
constexpr auto kStopGrace = std::chrono::seconds(5);

// "alice" (her session: reconnect, or a new one), "alice/SESSION" (that one of hers) or
// "admin/shadow/SESSION" (watch someone's, read-only): the VNC username picks the target.
Result<DisplayRequest> ParseVncUser(const std::string& login) {
  DisplayRequest request;
  size_t slash = login.find('/');
  request.user = login.substr(0, slash);
  if (slash == std::string::npos) return request;
  std::string rest = login.substr(slash + 1);
  if (rest.rfind("shadow/", 0) == 0) {
    request.shadow = true;
    rest = rest.substr(7);
  }
  if (rest.empty() || rest.find('/') != std::string::npos) {
    return Fail(InvalidArgument("VNC username must be USER, USER/SESSION or USER/shadow/SESSION"));
  }
  request.session_id = rest;
  return request;
}

}  // namespace

class DisplayGateway::Impl : public RelayRegistry {
 public:
  Impl(DisplayGatewayOptions options, DisplayBackend& backend)
      : options_(std::move(options)),
        backend_(backend),
        tls_(options_.ssl_ctx.release()),
        acceptor_(io_),
        workers_(static_cast<size_t>(std::max(1, options_.workers))),
        records_(net::make_strand(workers_)) {}

  Status Listen() {
    if (!options_.vnc_enabled) return {};
    boost::system::error_code ec;
    auto address = net::ip::make_address(options_.bind_address, ec);
    if (ec)
      return Fail(
          InvalidArgument("display address '" + options_.bind_address + "': " + ec.message()));
    net::ip::tcp::endpoint endpoint(address, options_.vnc_port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Fail(Error(ec, "listen for VNC clients on " + options_.bind_address + ":" +
                                std::to_string(options_.vnc_port) + ": " + ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(io_, AcceptLoop(), net::detached);
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
    return {};
  }

  uint16_t port() const { return port_; }

  void AttachWeb(std::unique_ptr<http::ByteStream> stream, DisplayTarget target,
                 ConnectionInfo client) {
    auto executor = stream->executor();
    auto relay = std::make_shared<DisplayRelay>(std::move(stream), std::move(target),
                                                std::move(client), *this);
    if (!Track(relay)) {
      relay->Kick(kCloseBrokerStopping, "the broker is stopping");
      return;
    }
    // The lambda's copy of `relay` keeps it alive through the handshake.
    net::co_spawn(
        executor, [relay]() -> net::awaitable<void> { co_await relay->RunWeb(); }, net::detached);
  }

  void EndClients(const std::string& session_id, bool owners_only, int code,
                  const std::string& reason) {
    std::vector<std::shared_ptr<DisplayRelay>> ending;
    {
      std::lock_guard lock(mutex_);
      auto found = sessions_.find(session_id);
      if (found == sessions_.end()) return;
      if (auto owner = found->second.owner.lock()) ending.push_back(std::move(owner));
      if (!owners_only) {
        for (const auto& [raw, weak] : found->second.viewers) {
          if (auto viewer = weak.lock()) ending.push_back(std::move(viewer));
        }
      }
    }
    for (auto& relay : ending) relay->Kick(code, reason);
  }

  size_t connection_count() const {
    std::lock_guard lock(mutex_);
    return live_.size();
  }

  void Stop() {
    std::vector<std::shared_ptr<DisplayRelay>> live;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
      for (const auto& [raw, weak] : live_) {
        if (auto relay = weak.lock()) live.push_back(std::move(relay));
      }
    }
    net::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
    });
    for (auto& relay : live) relay->Kick(kCloseBrokerStopping, "the broker is stopping");
    live.clear();
    {
      std::unique_lock lock(mutex_);
      all_gone_.wait_for(lock, kStopGrace, [this] { return live_.empty(); });
    }
    io_.stop();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
    workers_.join();  // the records of the connections that ended
  }

  Status CheckAdmission(const DisplayTarget& target) const {
    std::lock_guard lock(mutex_);
    return CheckAdmissionLocked(target);
  }

  // RelayRegistry, called on relays' executors.
  Status Admit(const std::shared_ptr<DisplayRelay>& relay) override {
    const DisplayTarget& target = relay->target();
    std::shared_ptr<DisplayRelay> previous;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return Fail(Error({}, "the broker is stopping"));
      MOAT_TRY_VOID(CheckAdmissionLocked(target));
      Session& session = sessions_[target.session_id];
      if (target.shadow) {
        session.viewers[relay.get()] = relay;
      } else {
        previous = session.owner.lock();
        session.owner = relay;
      }
    }
    if (previous) {
      previous->Kick(kCloseTakenOver, "taken over by a login from " + relay->info().peer);
      Record([this, target, old_info = previous->info(), new_info = relay->info()] {
        backend_.TakenOver(target, old_info, new_info);
      });
    }
    Record([this, target, info = relay->info()] { backend_.Connected(target, info); });
    return {};
  }

  void Finished(DisplayRelay& relay, const std::string& reason) override {
    const DisplayTarget& target = relay.target();
    bool last = false;
    {
      std::lock_guard lock(mutex_);
      auto found = sessions_.find(target.session_id);
      if (found != sessions_.end()) {
        Session& session = found->second;
        if (target.shadow) {
          session.viewers.erase(&relay);
        } else if (auto owner = session.owner.lock(); !owner || owner.get() == &relay) {
          session.owner.reset();
          last = true;
        }
        if (session.owner.expired() && session.viewers.empty()) sessions_.erase(found);
      }
    }
    Record([this, target, info = relay.info(), reason, last] {
      // Records run later, in order: by now the owner may have logged in again (a quick
      // reconnect). Then the session was never left, and marking it disconnected would make the
      // broker drop that new login.
      backend_.Disconnected(target, info, reason, last && !HasOwner(target.session_id));
    });
    Forget(relay);
  }

  // The login started its session, but the viewer gave up before its desktop was relayed: the
  // session has no client, and must be disconnected for its timeout to apply (or for the next
  // login to count as a reconnect), as if the viewer had left a moment later.
  void LeftBeforeShown(const DisplayTarget& target, const std::string& peer) {
    if (!target.started || target.shadow) return;
    Record([this, target, info = ConnectionInfo{Via::kVnc, peer}] {
      backend_.LeftBeforeShown(target, info, !HasOwner(target.session_id));
    });
  }

  bool HasOwner(const std::string& session_id) {
    std::lock_guard lock(mutex_);
    auto found = sessions_.find(session_id);
    return found != sessions_.end() && !found->second.owner.expired();
  }

  void Abandoned(DisplayRelay& relay) override { Forget(relay); }

  void InputSeen(const std::string& session_id) override {
    Record([this, session_id] { backend_.Input(session_id); });
  }

 private:
  struct Session {
    std::weak_ptr<DisplayRelay> owner;
    std::map<const DisplayRelay*, std::weak_ptr<DisplayRelay>> viewers;
  };

  Status CheckAdmissionLocked(const DisplayTarget& target) const {
    auto found = sessions_.find(target.session_id);
    if (found == sessions_.end()) return {};
    if (target.shadow) {
      // A watcher leaves a port to the owner: the owner's next login must never wait.
      size_t watching = found->second.viewers.size();
      if (target.max_watchers <= 0 || watching < static_cast<size_t>(target.max_watchers)) {
        return {};
      }
      return Fail(Error(std::make_error_code(std::errc::operation_not_permitted),
                        "session '" + target.session_id + "': " + std::to_string(watching) +
                            " viewers already watch, as many as its desktop takes"));
    }
    if (options_.takeover && target.takeover) return {};
    auto owner = found->second.owner.lock();
    if (!owner) return {};
    return Fail(Error(std::make_error_code(std::errc::operation_not_permitted),
                      "session '" + target.session_id + "' is already connected from " +
                          owner->info().peer + ", and the policy forbids taking it over"));
  }

  bool Track(const std::shared_ptr<DisplayRelay>& relay) {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    live_[relay.get()] = relay;
    return true;
  }

  void Forget(DisplayRelay& relay) {
    std::lock_guard lock(mutex_);
    live_.erase(&relay);
    if (live_.empty()) all_gone_.notify_all();
  }

  // The backend's records go one at a time, in the order they happened.
  void Record(std::function<void()> record) {
    net::post(records_, [record = std::move(record)] {
      try {
        record();
      } catch (const std::exception& e) {
        log::Warning("display record failed", {{"error", e.what()}});
      }
    });
  }

  net::awaitable<void> AcceptLoop() {
    while (true) {
      net::ip::tcp::socket socket(net::make_strand(io_));
      auto [ec] = co_await acceptor_.async_accept(socket, kTuple);
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
      if (ec) continue;  // e.g. EMFILE: the next accept may succeed
      auto executor = socket.get_executor();
      // The lambda owns the stream until ServeVnc hands it to a relay.
      net::co_spawn(
          executor,
          [this, stream = std::make_unique<VencryptStream>(std::move(socket), tls_)]() mutable
          -> net::awaitable<void> { co_await ServeVnc(stream); },
          net::detached);
    }
  }

  net::awaitable<void> ServeVnc(std::unique_ptr<VencryptStream>& stream) {
    VencryptStream* raw = stream.get();
    std::string peer = raw->peer();
    net::steady_timer deadline(raw->executor());
    deadline.expires_after(kHandshakeDeadline);
    deadline.async_wait([raw](boost::system::error_code ec) {
      if (!ec) raw->Abort();
    });

    auto credentials = co_await raw->Handshake();
    if (!credentials) {
      log::Info("VNC handshake failed", {{"peer", peer}, {"error", credentials.error().message()}});
      raw->Abort();
      co_return;
    }
    std::string address = peer.substr(0, peer.rfind(':'));
    // On the workers (the checks block on the database, maybe on a session start), resuming
    // here after. Only references cross: see co_try.h.
    Result<DisplayTarget> target = Fail(Error({}, "not opened"));
    auto open = [&]() -> net::awaitable<void> {
      target = OpenFor(*credentials, address);
      co_return;
    };
    co_await net::co_spawn(workers_, open, net::use_awaitable);
    Status verdict = target ? Status{} : Status(Fail(target.error()));
    credentials->password.clear();
    auto sent = co_await raw->SendSecurityResult(verdict);
    if (!target || !sent) {
      log::Info(
          "VNC login refused",
          {{"peer", peer}, {"error", target ? sent.error().message() : target.error().message()}});
      if (target) LeftBeforeShown(*target, peer);
      raw->Abort();
      co_return;
    }
    auto init = co_await raw->ReadClientInit();
    if (!init) {
      LeftBeforeShown(*target, peer);
      raw->Abort();
      co_return;
    }
    deadline.cancel();
    auto relay = std::make_shared<DisplayRelay>(std::move(stream), std::move(*target),
                                                ConnectionInfo{Via::kVnc, peer}, *this);
    if (!Track(relay)) co_return;
    co_await relay->Run();
  }

  Result<DisplayTarget> OpenFor(const PlainCredentials& credentials, const std::string& address) {
    MOAT_TRY(DisplayRequest request, ParseVncUser(credentials.user));
    MOAT_TRY(request.user, backend_.CheckPassword(request.user, credentials.password, address));
    MOAT_TRY(DisplayTarget target, backend_.Open(request));
    MOAT_TRY_VOID(CheckAdmission(target));
    return target;
  }

  DisplayGatewayOptions options_;
  DisplayBackend& backend_;
  net::ssl::context tls_;
  net::io_context io_;
  net::ip::tcp::acceptor acceptor_;
  net::thread_pool workers_;
  net::strand<net::thread_pool::executor_type> records_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable all_gone_;
  bool stopping_ = false;
  std::map<const DisplayRelay*, std::weak_ptr<DisplayRelay>> live_;
  std::map<std::string, Session> sessions_;
};

Result<std::unique_ptr<DisplayGateway>> DisplayGateway::Start(DisplayGatewayOptions options,
                                                              DisplayBackend& backend) {
  if (!options.ssl_ctx && options.vnc_enabled) {
    return Fail(InvalidArgument("display gateway needs a TLS context for VNC clients"));
  }
  auto impl = std::make_unique<Impl>(std::move(options), backend);
  MOAT_TRY_VOID(impl->Listen());
  return std::unique_ptr<DisplayGateway>(new DisplayGateway(std::move(impl)));
}

DisplayGateway::DisplayGateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DisplayGateway::~DisplayGateway() { Stop(); }
uint16_t DisplayGateway::vnc_port() const { return impl_->port(); }
void DisplayGateway::AttachWeb(std::unique_ptr<http::ByteStream> stream, DisplayTarget target,
                               ConnectionInfo client) {
  impl_->AttachWeb(std::move(stream), std::move(target), std::move(client));
}
void DisplayGateway::EndClients(const std::string& session_id, bool owners_only, int code,
                                const std::string& reason) {
  impl_->EndClients(session_id, owners_only, code, reason);
}
Status DisplayGateway::CheckAdmission(const DisplayTarget& target) const {
  return impl_->CheckAdmission(target);
}
size_t DisplayGateway::connection_count() const { return impl_->connection_count(); }
void DisplayGateway::Stop() { impl_->Stop(); }

}  // namespace moat::broker::display
