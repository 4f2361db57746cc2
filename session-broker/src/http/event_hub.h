// Fan-out of live events (session state changes, audit events, usage batches) to every client
// of the /api/v1/events stream. Free of Boost: the broker publishes here; the WebSocket sessions
// of HttpServer subscribe.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace moat::broker::http {

// One receiver of events. Deliver must not block: it queues or drops.
class EventSubscriber {
 public:
  virtual ~EventSubscriber() = default;
  virtual void Deliver(const std::shared_ptr<const std::string>& message) = 0;
};

class EventHub {
 public:
  // Sends `json` to every subscriber, from any thread. Never waits for a client: each one has a
  // bounded queue and is dropped when it overflows. Subscribers see messages in Publish order
  // (for calls from one thread; concurrent calls are ordered by an internal lock).
  void Publish(std::string json);

  // Held weakly: a subscriber that goes away is skipped and forgotten.
  void Subscribe(const std::weak_ptr<EventSubscriber>& subscriber);
  void Unsubscribe(const EventSubscriber* subscriber);
  size_t subscriber_count() const;

 private:
  mutable std::mutex mutex_;
  // Serialises Publish calls so that every subscriber sees the same order.
  std::mutex publish_mutex_;
  std::unordered_map<const EventSubscriber*, std::weak_ptr<EventSubscriber>> subscribers_;
};

}  // namespace moat::broker::http
