#include "db/token_store.h"

#include <gtest/gtest.h>

#include "auth/crypto.h"
#include "db/test_support.h"

namespace moat::broker::db {
namespace {

class TokenStoreTest : public testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    user_ = InsertUser("alice", "operator");
    store_ = std::make_unique<TokenStore>(*db_, TestClock());
  }
  std::int64_t user_ = 0;
  std::unique_ptr<TokenStore> store_;
};

TEST_F(TokenStoreTest, IssuedTokenValidatesToItsUserAndRole) {
  auto token = store_->Issue(user_, 3600);
  ASSERT_TRUE(token) << token.error().message();
  EXPECT_EQ(token->token.size(), 43u);  // 32 bytes, base64url without padding
  EXPECT_EQ(token->expires_at, Now() + 3600);
  auto owner = store_->Validate(token->token);
  ASSERT_TRUE(owner) << owner.error().message();
  EXPECT_EQ(owner->user.name, "alice");
  EXPECT_EQ(owner->user.role, Role::kOperator);
  EXPECT_EQ(CountRows("SELECT last_used_at FROM auth_tokens"), Now());
}

TEST_F(TokenStoreTest, OnlyTheHashIsStored) {
  auto token = store_->Issue(user_, 3600);
  ASSERT_TRUE(token);
  auto stmt = db_->Prepare("SELECT token_hash FROM auth_tokens");
  ASSERT_TRUE(stmt);
  ASSERT_TRUE(*stmt->Step());
  std::string stored = stmt->Blob(0);
  EXPECT_NE(stored, token->token);
  EXPECT_EQ(stored, *auth::Sha256(token->token));
  EXPECT_EQ(CountRows("SELECT count(*) FROM auth_tokens WHERE instr(CAST(token_hash AS TEXT), '" +
                      token->token.substr(0, 10) + "') > 0"),
            0);
}

TEST_F(TokenStoreTest, ExpiredTokensAreRefused) {
  auto token = store_->Issue(user_, 60);
  ASSERT_TRUE(token);
  Advance(59);
  EXPECT_TRUE(store_->Validate(token->token));
  Advance(1);
  auto refused = store_->Validate(token->token);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), std::errc::permission_denied);
  Advance(3600);
  EXPECT_EQ(*store_->Purge(60), 1);
}

TEST_F(TokenStoreTest, RevokedAndUnknownTokensAreRefused) {
  auto a = store_->Issue(user_, 3600);
  auto b = store_->Issue(user_, 3600);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(store_->Revoke(a->token));
  EXPECT_FALSE(store_->Validate(a->token));
  EXPECT_TRUE(store_->Validate(b->token));
  EXPECT_TRUE(store_->Revoke(a->token));  // logout twice is fine
  EXPECT_FALSE(store_->Validate("not-a-token"));
  EXPECT_FALSE(store_->Validate(b->token + "x"));
  EXPECT_EQ(*store_->RevokeAll(user_), 1);
  EXPECT_FALSE(store_->Validate(b->token));
}

TEST_F(TokenStoreTest, DisabledUsersTokensAreRefusedAndBadInputIsAnError) {
  auto token = store_->Issue(user_, 3600);
  ASSERT_TRUE(token);
  ASSERT_TRUE(db_->Exec("UPDATE users SET disabled = 1"));
  EXPECT_FALSE(store_->Validate(token->token));
  EXPECT_FALSE(store_->Issue(user_, 0));
  EXPECT_FALSE(store_->Issue(9999, 60));
  EXPECT_EQ(CountRows("SELECT count(*) FROM auth_tokens"), 1);
}

}  // namespace
}  // namespace moat::broker::db
