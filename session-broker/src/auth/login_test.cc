#include "auth/login.h"

#include <gtest/gtest.h>

#include "db/test_support.h"

namespace moat::broker::auth {
namespace {

class LoginTest : public db::testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    db::UserStore users(*db_, TestClock(), kFast);
    ASSERT_TRUE(users.Add({.name = "alice", .password = "alice-password"}, db::Actor::System()));
    ASSERT_TRUE(users.Add({.name = "pamela", .source = "pam"}, db::Actor::System()));
    PamCheck pam = [](std::string_view user, std::string_view password) -> Result<bool> {
      return user == "pamela" && password == "pam-password";
    };
    login_ = std::make_unique<Login>(*db_, TestClock(), pam, db::ThrottleConfig{}, kFast);
  }
  static constexpr ScryptParams kFast{.n = 1024};
  std::unique_ptr<Login> login_;
};

TEST_F(LoginTest, ALocalUserGetsATokenAndTheLoginIsAudited) {
  auto result = login_->Run({.user = "alice", .password = "alice-password", .address = "10.0.0.1"});
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->user.name, "alice");
  db::TokenStore tokens(*db_, TestClock());
  EXPECT_EQ(tokens.Validate(result->token.token)->user.name, "alice");
  EXPECT_EQ(CountRows("SELECT count(*) FROM v_audit WHERE kind = 'auth.login' AND actor = "
                      "'alice' AND json_extract(detail, '$.address') = '10.0.0.1'"),
            1);
  ASSERT_TRUE(login_->Logout(result->token.token));
  EXPECT_FALSE(tokens.Validate(result->token.token));
  EXPECT_FALSE(login_->Logout(result->token.token));
}

TEST_F(LoginTest, PamUsersAreCheckedByPam) {
  EXPECT_TRUE(login_->Run({.user = "pamela", .password = "pam-password", .address = "a"}));
  auto refused = login_->Run({.user = "pamela", .password = "wrong", .address = "a"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), std::errc::permission_denied);
}

TEST_F(LoginTest, RepeatedFailuresAreThrottledAndRecorded) {
  for (int i = 0; i < 5; ++i) {
    auto refused = login_->Run({.user = "alice", .password = "guess", .address = "10.0.0.9"});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), std::errc::permission_denied);
  }
  // Even the right password waits now: the check is not made while throttled.
  auto throttled = login_->Run({.user = "alice", .password = "alice-password", .address = "b"});
  ASSERT_FALSE(throttled);
  EXPECT_EQ(throttled.error().code(), std::errc::resource_unavailable_try_again);
  EXPECT_EQ(CountRows("SELECT count(*) FROM v_audit WHERE kind = 'auth.login_failed'"), 5);
  EXPECT_EQ(CountRows("SELECT count(*) FROM auth_tokens"), 0);
  Advance(1);
  EXPECT_TRUE(login_->Run({.user = "alice", .password = "alice-password", .address = "b"}));
  EXPECT_EQ(CountRows("SELECT count(*) FROM login_failures WHERE kind = 'user'"), 0);
}

TEST_F(LoginTest, UnknownUsersGetTheSameRefusal) {
  auto unknown = login_->Run({.user = "mallory", .password = "x", .address = "a"});
  auto wrong = login_->Run({.user = "alice", .password = "x", .address = "a"});
  ASSERT_FALSE(unknown);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(unknown.error().message(), wrong.error().message());
}

}  // namespace
}  // namespace moat::broker::auth
