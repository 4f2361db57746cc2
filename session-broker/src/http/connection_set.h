// The live connections of one HttpServer, so that Stop can end them all. Internal to
// http_server.cc and websocket_session.cc. Like chat-multi's shared_state: weak pointers copied
// under the lock, acted on outside it.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace moat::broker::http::internal {

class Connection {
 public:
  virtual ~Connection() = default;
  // From any thread: end the connection gracefully on its own strand.
  virtual void Close() = 0;
  // After the server's threads are joined and before its io_context goes: refuse further work
  // posted from outside (e.g. EventHub::Publish) so nothing reaches a dead io_context.
  virtual void Detach() {}
};

class ConnectionSet {
 public:
  // False once CloseAll ran: the caller must close the connection itself.
  bool Add(const std::shared_ptr<Connection>& connection) {
    std::lock_guard lock(mutex_);
    if (closing_) return false;
    connections_[connection.get()] = connection;
    return true;
  }
  void Remove(const Connection* connection) {
    std::lock_guard lock(mutex_);
    connections_.erase(connection);
  }
  void CloseAll() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    for (const auto& connection : Snapshot()) connection->Close();
  }
  void DetachAll() {
    for (const auto& connection : Snapshot()) connection->Detach();
  }

 private:
  std::vector<std::shared_ptr<Connection>> Snapshot() {
    std::vector<std::shared_ptr<Connection>> live;
    std::lock_guard lock(mutex_);
    live.reserve(connections_.size());
    for (const auto& [key, weak] : connections_) {
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
    return live;
  }

  std::mutex mutex_;
  bool closing_ = false;
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections_;
};

}  // namespace moat::broker::http::internal
