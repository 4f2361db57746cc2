// A new host's first contact with the broker: with a one-time token from `moatctl hosts token`
// ("SECRET.CA_SHA256"), the agent fetches the broker's CA certificate, trusts it only if its
// fingerprint is the one in the token, sends a CSR for a fresh key and keeps the client
// certificate it gets back. The files live in the agent's certificate directory:
//   agent.key (0600)  agent.crt  ca.crt  link.url (where the agent link is)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "moat/common/error.h"

namespace moat::agent {

struct AgentIdentity {
  std::string key_pem, cert_pem, ca_pem;
  std::string link_url;  // wss://broker:8444/api/v1/agent
};

// The identity in `dir`, if all its files are there.
Result<AgentIdentity> LoadIdentity(const std::filesystem::path& dir);

struct EnrolmentRequest {
  std::string broker_url;  // https://broker:8443
  std::string token;       // SECRET.CA_SHA256
  std::string host_name;
  int64_t capacity = 50;
};

// Enrols and writes the identity into `dir`; nothing is written on failure.
Result<AgentIdentity> Enrol(const EnrolmentRequest& request, const std::filesystem::path& dir);

}  // namespace moat::agent
