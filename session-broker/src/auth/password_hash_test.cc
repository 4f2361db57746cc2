#include "auth/password_hash.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

namespace moat::broker::auth {
namespace {

// Cheap parameters for behaviour tests; the default cost is measured once below.
constexpr ScryptParams kFast{.n = 1024, .r = 8, .p = 1};

TEST(PasswordHash, VerifiesTheRightPasswordAndRefusesOthers) {
  auto hash = HashPassword("correct horse", kFast);
  ASSERT_TRUE(hash) << hash.error().message();
  EXPECT_TRUE(hash->starts_with("$scrypt$N=1024,r=8,p=1$"));
  EXPECT_EQ(VerifyPassword("correct horse", *hash), true);
  EXPECT_EQ(VerifyPassword("correct horsf", *hash), false);
  EXPECT_EQ(VerifyPassword("", *hash), false);
}

TEST(PasswordHash, SaltsAreUnique) {
  auto a = HashPassword("same password", kFast);
  auto b = HashPassword("same password", kFast);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_NE(a->substr(0, a->rfind('$')), b->substr(0, b->rfind('$')));  // salts differ
}

TEST(PasswordHash, MalformedHashesAreErrorsNotMatches) {
  for (const char* bad : {"", "plain", "$scrypt$", "$scrypt$N=1024,r=8,p=1$",
                          "$scrypt$N=1000,r=8,"
                          "p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                          "$scrypt$N=4294967296,r=8,p=1$"
                          "c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                          "$bcrypt$x$y$z"}) {
    EXPECT_FALSE(VerifyPassword("x", bad)) << bad;
  }
}

TEST(PasswordHash, NeedsRehashWhenParametersChange) {
  auto hash = HashPassword("pw", kFast);
  ASSERT_TRUE(hash);
  EXPECT_FALSE(NeedsRehash(*hash, kFast));
  EXPECT_TRUE(NeedsRehash(*hash));
}

TEST(PasswordHash, DefaultCostIsMeasured) {
  auto start = std::chrono::steady_clock::now();
  auto hash = HashPassword("a real password");
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(hash) << hash.error().message();
  EXPECT_TRUE(hash->starts_with("$scrypt$N=32768,r=8,p=1$"));
  EXPECT_EQ(VerifyPassword("a real password", *hash), true);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  RecordProperty("scrypt_default_ms", static_cast<int>(ms));
  std::printf("[ measure ] scrypt N=2^15 r=8 p=1: %lld ms\n", static_cast<long long>(ms));
}

}  // namespace
}  // namespace moat::broker::auth
