// What a first start creates and every start checks: the state directory, the CA, the server
// certificate, the first admin, and the local host with its agent's client certificate.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "broker/broker_config.h"
#include "db/database.h"
#include "moat/common/files.h"
#include "moat/common/tls/ca.h"

namespace moat::broker {

// 0700, created if missing; refuses a state directory others may write.
Status PrepareStateDir(const std::filesystem::path& dir);

// The configured certificate and key, or the one issued by `ca` under <state>/tls (reissued
// when missing or when the names changed).
Result<tls::KeyAndCertificate> ServerCertificate(const BrokerConfig& config,
                                                 const tls::CertificateAuthority& ca);

// On a database without an admin: creates config.admin_user with a random password, written to
// <state>/admin-password (0600). Returns that password, or nullopt when an admin existed.
Result<std::optional<std::string>> EnsureAdmin(const db::Database& db, const BrokerConfig& config);

// Registers the local host (if new) and gives its agent a fresh client certificate under
// <state>/local-agent (agent.key, agent.crt, ca.crt). Returns that directory.
Result<std::filesystem::path> PrepareLocalHost(const db::Database& db, const BrokerConfig& config,
                                               const tls::CertificateAuthority& ca,
                                               const std::string& host_name);

std::string LocalHostName();

}  // namespace moat::broker
