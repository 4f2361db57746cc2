// Password hashes for the built-in user store: scrypt through OpenSSL 3's EVP_KDF "SCRYPT", a
// random 16-byte salt per hash, encoded with its parameters so they can be raised later:
//   $scrypt$N=32768,r=8,p=1$<salt, base64>$<hash, base64>
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "moat/common/error.h"

namespace moat::broker::auth {

struct ScryptParams {
  // N=2^15, r=8, p=1 (32 MiB): about 50-100 ms per hash on the 2-core test machine, measured by
  // PasswordHash.DefaultCostIsMeasured.
  std::uint64_t n = std::uint64_t{1} << 15;
  std::uint32_t r = 8;
  std::uint32_t p = 1;
};

Result<std::string> HashPassword(std::string_view password, const ScryptParams& params = {});

// True when the password matches, false when it does not; an error for a malformed hash.
Result<bool> VerifyPassword(std::string_view password, std::string_view encoded);

// True when the hash was made with other parameters than `params` (rehash at next login).
bool NeedsRehash(std::string_view encoded, const ScryptParams& params = {});

}  // namespace moat::broker::auth
