#include "http/event_hub.h"

#include <utility>
#include <vector>

namespace moat::broker::http {

void EventHub::Publish(std::string json) {
  auto message = std::make_shared<const std::string>(std::move(json));
  std::lock_guard publish_lock(publish_mutex_);
  // Copy the subscribers under the lock and deliver outside it, so that a subscriber may
  // (un)subscribe from Deliver and a new client never waits for a fan-out.
  std::vector<std::shared_ptr<EventSubscriber>> targets;
  {
    std::lock_guard lock(mutex_);
    targets.reserve(subscribers_.size());
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
      if (auto subscriber = it->second.lock()) {
        targets.push_back(std::move(subscriber));
        ++it;
      } else {
        it = subscribers_.erase(it);
      }
    }
  }
  for (const auto& subscriber : targets) subscriber->Deliver(message);
}

void EventHub::Subscribe(const std::weak_ptr<EventSubscriber>& subscriber) {
  auto strong = subscriber.lock();
  if (!strong) return;
  std::lock_guard lock(mutex_);
  subscribers_[strong.get()] = subscriber;
}

void EventHub::Unsubscribe(const EventSubscriber* subscriber) {
  std::lock_guard lock(mutex_);
  subscribers_.erase(subscriber);
}

size_t EventHub::subscriber_count() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

}  // namespace moat::broker::http
