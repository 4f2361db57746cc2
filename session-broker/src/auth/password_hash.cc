#include "auth/password_hash.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <charconv>
#include <memory>
#include <optional>

#include "auth/crypto.h"

namespace moat::broker::auth {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
constexpr std::string_view kPrefix = "$scrypt$";

struct Decoded {
  ScryptParams params;
  std::string salt;
  std::string hash;
};

Result<std::string> Scrypt(std::string_view password, std::string_view salt,
                           const ScryptParams& params, std::size_t length = kHashBytes) {
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr),
                                                        &EVP_KDF_free);
  if (!kdf) return Fail(OpenSslError("EVP_KDF_fetch 'SCRYPT'"));
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf.get()),
                                                                &EVP_KDF_CTX_free);
  if (!ctx) return Fail(OpenSslError("EVP_KDF_CTX_new 'SCRYPT'"));
  std::uint64_t n = params.n;
  std::uint32_t r = params.r;
  std::uint32_t p = params.p;
  OSSL_PARAM ossl_params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, const_cast<char*>(password.data()),
                                        password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_end(),
  };
  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     ossl_params) != 1) {
    return Fail(OpenSslError("EVP_KDF_derive 'SCRYPT'"));
  }
  return out;
}

std::optional<std::uint64_t> ParseField(std::string_view& text, std::string_view name) {
  if (!text.starts_with(name)) return std::nullopt;
  text.remove_prefix(name.size());
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  if (!text.empty() && text.front() == ',') text.remove_prefix(1);
  return value;
}

Result<Decoded> Decode(std::string_view encoded) {
  auto bad = [](std::string_view why) {
    return Fail(InvalidArgument("password hash is not '$scrypt$N=…,r=…,p=…$salt$hash': " +
                                std::string(why)));
  };
  if (!encoded.starts_with(kPrefix)) return bad("unknown scheme");
  encoded.remove_prefix(kPrefix.size());
  std::size_t dollar = encoded.find('$');
  if (dollar == std::string_view::npos) return bad("no salt");
  std::string_view fields = encoded.substr(0, dollar);
  encoded.remove_prefix(dollar + 1);
  auto n = ParseField(fields, "N=");
  auto r = ParseField(fields, "r=");
  auto p = ParseField(fields, "p=");
  // Bounded so a planted hash cannot make a login take minutes or gigabytes.
  if (!n || !r || !p || !fields.empty() || *n < 2 || (*n & (*n - 1)) != 0 || *n > (1u << 20) ||
      *r < 1 || *r > 32 || *p < 1 || *p > 16) {
    return bad("parameters out of range");
  }
  dollar = encoded.find('$');
  if (dollar == std::string_view::npos) return bad("no hash");
  MOAT_TRY(std::string salt, Base64Decode(encoded.substr(0, dollar)));
  MOAT_TRY(std::string hash, Base64Decode(encoded.substr(dollar + 1)));
  if (salt.empty() || hash.size() < 16 || hash.size() > 64) return bad("salt or hash too short");
  return Decoded{{*n, static_cast<std::uint32_t>(*r), static_cast<std::uint32_t>(*p)},
                 std::move(salt),
                 std::move(hash)};
}

}  // namespace

Result<std::string> HashPassword(std::string_view password, const ScryptParams& params) {
  MOAT_TRY(std::string salt, RandomBytes(kSaltBytes));
  MOAT_TRY(std::string hash, Scrypt(password, salt, params));
  return std::string(kPrefix) + "N=" + std::to_string(params.n) + ",r=" + std::to_string(params.r) +
         ",p=" + std::to_string(params.p) + "$" + Base64Encode(salt) + "$" + Base64Encode(hash);
}

Result<bool> VerifyPassword(std::string_view password, std::string_view encoded) {
  MOAT_TRY(Decoded decoded, Decode(encoded));
  MOAT_TRY(std::string hash, Scrypt(password, decoded.salt, decoded.params, decoded.hash.size()));
  return ConstantTimeEquals(hash, decoded.hash);
}

bool NeedsRehash(std::string_view encoded, const ScryptParams& params) {
  auto decoded = Decode(encoded);
  return !decoded || decoded->params.n != params.n || decoded->params.r != params.r ||
         decoded->params.p != params.p;
}

}  // namespace moat::broker::auth
