// The few OpenSSL primitives the broker's stores need, as values instead of out-parameters.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "moat/common/error.h"

namespace moat::broker::auth {

// Cryptographically random bytes (RAND_bytes).
Result<std::string> RandomBytes(std::size_t count);
// SHA-256 digest, 32 raw bytes.
Result<std::string> Sha256(std::string_view data);

std::string HexEncode(std::string_view bytes);
std::string Base64Encode(std::string_view bytes);     // standard alphabet, no padding
std::string Base64UrlEncode(std::string_view bytes);  // URL alphabet, no padding
// Accepts either alphabet, with or without padding.
Result<std::string> Base64Decode(std::string_view text);

// Constant-time equality for secrets (CRYPTO_memcmp); different lengths compare unequal.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// "error:… : reason" from OpenSSL's error queue, which it empties.
Error OpenSslError(std::string_view call);

}  // namespace moat::broker::auth
