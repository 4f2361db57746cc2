// One running moat-broker: the database, the CA, the API and agent servers, the agent hub, the
// session service, housekeeping and (by default) the supervised local agent, started in that
// order and stopped in reverse.
#pragma once

#include <memory>
#include <string>

#include "broker/broker_config.h"
#include "moat/common/error.h"

namespace moat::broker {

class Broker {
 public:
  static Result<std::unique_ptr<Broker>> Start(BrokerConfig config);
  ~Broker();
  void Stop();

  uint16_t api_port() const;
  uint16_t agent_port() const;
  uint16_t display_port() const;  // native VNC clients (0 when disabled)
  // Where users and admins log in, and (first start only) the admin's password.
  std::string Banner() const;

  struct Parts;

 private:
  explicit Broker(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace moat::broker
