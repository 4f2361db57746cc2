// The bounded queue of messages waiting to go out on one WebSocket connection, shared by the
// event stream (websocket_session.cc) and the agent link (websocket_peer.cc). Free of Beast: it
// only decides; the connection posts the writes. Producers call from any thread; the write chain
// runs on the connection's strand. `post` callbacks run under the queue's lock, so that nothing is
// posted to a connection after Detach returned (its io_context may be gone by then).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace moat::broker::http::internal {

template <typename Message>  // std::string or std::shared_ptr<const std::string>
class OutboundQueue {
 public:
  enum class Action { kStartWriting, kOverflowed };

  OutboundQueue(size_t max_messages, size_t max_bytes)
      : max_messages_(max_messages), max_bytes_(max_bytes) {}

  // Queues `message`. Calls post(kStartWriting) when a write chain must start, or
  // post(kOverflowed) when the bounds are exceeded (the queue then ends: the peer is too slow).
  // Does nothing once ended or detached.
  template <typename Post>
  void Add(Message message, Post&& post) {
    std::lock_guard lock(mutex_);
    if (ended_ || detached_) return;
    if (queue_.size() >= max_messages_ || bytes_ + SizeOf(message) > max_bytes_) {
      EndLocked();
      post(Action::kOverflowed);
      return;
    }
    bytes_ += SizeOf(message);
    queue_.push_back(std::move(message));
    if (open_ && !writing_) {
      writing_ = true;
      post(Action::kStartWriting);
    }
  }

  // The handshake is done: true if queued messages wait for a write chain to start.
  bool Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    if (queue_.empty() || writing_ || ended_) return false;
    writing_ = true;
    return true;
  }

  // The write chain's next message, or nullopt (the chain ends) when none is left.
  std::optional<Message> Next() {
    std::lock_guard lock(mutex_);
    if (queue_.empty() || ended_) {
      writing_ = false;
      return std::nullopt;
    }
    Message message = std::move(queue_.front());
    queue_.pop_front();
    bytes_ -= SizeOf(message);
    return message;
  }

  // No more messages. Returns true if a write was under way or the handshake not done yet: then
  // a graceful close would wait on a peer that is not reading.
  bool End() {
    std::lock_guard lock(mutex_);
    EndLocked();
    return writing_ || !open_;
  }

  // Runs `post` under the lock unless detached.
  template <typename Post>
  void IfAttached(Post&& post) {
    std::lock_guard lock(mutex_);
    if (!detached_) post();
  }

  void Detach() {
    std::lock_guard lock(mutex_);
    detached_ = true;
  }

 private:
  static size_t SizeOf(const std::string& message) { return message.size(); }
  static size_t SizeOf(const std::shared_ptr<const std::string>& message) {
    return message->size();
  }

  void EndLocked() {
    ended_ = true;
    queue_.clear();
    bytes_ = 0;
  }

  const size_t max_messages_;
  const size_t max_bytes_;
  std::mutex mutex_;  // never held across I/O
  std::deque<Message> queue_;
  size_t bytes_ = 0;
  bool open_ = false;     // handshake done
  bool writing_ = false;  // a write chain is running or posted
  bool ended_ = false;    // no more messages
  bool detached_ = false;
};

}  // namespace moat::broker::http::internal
