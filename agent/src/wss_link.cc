#include "wss_link.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "moat/common/log.h"
#include "moat/common/net/client.h"
#include "moat/common/tls/context.h"
#include "stdio_link.h"

namespace moat::agent {
namespace {

using Clock = std::chrono::steady_clock;

// What the client's I/O thread hands to the agent's loop thread.
struct Inbox {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::string> messages;
  bool closed = false;
  std::string close_reason;
};

void Answer(MessageHandler& handler, net::WssClient& link, const std::string& text) {
  auto request = wire::DecodeEnvelope(text);
  if (!request) {
    log::Warning("dropped an undecodable message", {{"error", request.error().message()}});
    return;
  }
  auto reply = handler.Handle(*request);
  if (!reply) return;  // a reply from the broker to nothing we asked: ignore
  if (reply->error) {
    log::Info("refused a request", {{"type", request->type}, {"error", reply->error->message}});
  }
  if (auto sent = link.Send(wire::EncodeEnvelope(*reply)); !sent) {
    log::Warning("reply not sent", {{"error", sent.error().message()}});
  }
}

// One connection, from connect to close. Returns true if it got as far as the hello.
bool RunConnection(Backend& backend, MessageHandler& handler, UsageCollector& collector,
                   const AgentIdentity& identity, const std::atomic<bool>& stop) {
  auto ctx = tls::MakeClientContext({.ca_pem = identity.ca_pem,
                                     .client_cert_pem = identity.cert_pem,
                                     .client_key_pem = identity.key_pem});
  if (!ctx) {
    log::Error("agent link: TLS setup failed", {{"error", ctx.error().message()}});
    return false;
  }
  auto inbox = std::make_shared<Inbox>();
  net::WssOptions options;
  options.url = identity.link_url;
  options.ctx = std::move(*ctx);
  options.idle_timeout = std::chrono::seconds(20);
  options.max_message_bytes = wire::kMaxMessageBytes;
  options.on_message = [inbox](std::string text) {
    std::lock_guard lock(inbox->mutex);
    inbox->messages.push_back(std::move(text));
    inbox->wake.notify_one();
  };
  options.on_close = [inbox](const Error& error) {
    std::lock_guard lock(inbox->mutex);
    inbox->closed = true;
    inbox->close_reason = error.message();
    inbox->wake.notify_one();
  };
  auto link = net::WssClient::Connect(std::move(options));
  if (!link) {
    log::Warning("agent link: connect failed",
                 {{"url", identity.link_url}, {"error", link.error().message()}});
    return false;
  }
  if (auto sent = (*link)->Send(wire::EncodeEnvelope(wire::MakeMessage(handler.MakeHello())));
      !sent) {
    return false;
  }
  log::Info("agent link up", {{"url", identity.link_url}});
  Clock::time_point next_tick = Clock::now() + std::chrono::seconds(1);
  while (!stop.load()) {
    std::deque<std::string> batch;
    bool closed = false;
    std::string reason;
    {
      std::unique_lock lock(inbox->mutex);
      inbox->wake.wait_until(lock,
                             std::min(next_tick, Clock::now() + std::chrono::milliseconds(250)),
                             [&] { return !inbox->messages.empty() || inbox->closed; });
      batch.swap(inbox->messages);
      closed = inbox->closed;
      reason = inbox->close_reason;
    }
    for (const auto& text : batch) Answer(handler, **link, text);
    if (closed) {
      log::Warning("agent link down", {{"reason", reason}});
      return true;
    }
    if (Clock::now() >= next_tick) {
      ReapEndedSessions(backend);
      (void)(*link)->Send(wire::EncodeEnvelope(wire::MakeMessage(collector.Collect())));
      next_tick += std::chrono::seconds(1);
      if (next_tick < Clock::now()) next_tick = Clock::now() + std::chrono::seconds(1);
    }
  }
  (*link)->Close();
  return true;
}

}  // namespace

int RunWssLink(Backend& backend, MessageHandler& handler, UsageCollector& collector,
               const AgentIdentity& identity, const std::atomic<bool>& stop) {
  std::mt19937 random(std::random_device{}());
  auto backoff = std::chrono::milliseconds(1000);
  while (!stop.load()) {
    bool reached = RunConnection(backend, handler, collector, identity, stop);
    if (stop.load()) break;
    if (reached) backoff = std::chrono::milliseconds(1000);
    // Jitter spreads the reconnects of many agents after a broker restart.
    auto wait = backoff / 2 + std::chrono::milliseconds(random() % (backoff.count() / 2 + 1));
    // Sessions that end while the broker is away are still cleaned up.
    ReapEndedSessions(backend);
    for (auto until = Clock::now() + wait; Clock::now() < until && !stop.load();) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
  }
  log::Info("agent stopping; sessions keep running");
  return 0;
}

}  // namespace moat::agent
