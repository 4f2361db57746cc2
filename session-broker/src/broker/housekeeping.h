// The broker's clock-driven work, on one thread: announcing new audit rows on the event stream
// (every 250 ms), policy timeouts (every 10 s), and the usage roll-up, retention, expired
// tokens and old login failures (every minute).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "broker/broker_config.h"
#include "broker/events.h"
#include "broker/session_service.h"
#include "db/connection_pool.h"

namespace moat::broker {

class Housekeeping {
 public:
  Housekeeping(db::ConnectionPool& pool, SessionService& sessions, Events& events,
               const BrokerConfig& config);
  ~Housekeeping();  // Stop()

  void Start();
  void Stop();

 private:
  void Run();
  void AnnounceAudit();
  void Minutely();

  db::ConnectionPool& pool_;
  SessionService& sessions_;
  Events& events_;
  const BrokerConfig& config_;
  std::int64_t last_audit_id_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace moat::broker
