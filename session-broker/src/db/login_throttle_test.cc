#include "db/login_throttle.h"

#include <gtest/gtest.h>

#include "db/test_support.h"

namespace moat::broker::db {
namespace {

class LoginThrottleTest : public testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    throttle_ = std::make_unique<LoginThrottle>(*db_, TestClock());
  }
  ThrottleDecision Check(const std::string& user, const std::string& address) {
    auto decision = throttle_->Check(user, address);
    EXPECT_TRUE(decision) << decision.error().message();
    return decision ? *decision : ThrottleDecision{};
  }
  std::unique_ptr<LoginThrottle> throttle_;
};

TEST_F(LoginThrottleTest, BacksOffExponentiallyAfterFiveFailures) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(throttle_->RecordFailure("alice", "10.0.0.1"));
  EXPECT_TRUE(Check("alice", "10.0.0.1").allowed);
  ASSERT_TRUE(throttle_->RecordFailure("alice", "10.0.0.1"));  // 5th
  auto decision = Check("alice", "10.0.0.2");
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.retry_after_seconds, 1);
  EXPECT_EQ(decision.reason, "user");
  std::int64_t expected = 1;
  for (int extra = 1; extra <= 4; ++extra) {
    ASSERT_TRUE(throttle_->RecordFailure("alice", "10.0.0.1"));
    expected *= 2;
    EXPECT_EQ(Check("alice", "10.0.0.3").retry_after_seconds, expected);
  }
  Advance(expected);
  EXPECT_TRUE(Check("alice", "10.0.0.3").allowed);
  // Other users are not affected by alice's failures.
  EXPECT_TRUE(Check("bob", "10.0.0.3").allowed);
}

TEST_F(LoginThrottleTest, ASuccessClearsTheUserButNotTheAddress) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(throttle_->RecordFailure("u" + std::to_string(i), "10.0.0.9"));
  }
  EXPECT_FALSE(Check("fresh", "10.0.0.9").allowed);
  EXPECT_EQ(Check("fresh", "10.0.0.9").reason, "address");
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(throttle_->RecordFailure("carol", "10.0.0.1"));
  EXPECT_FALSE(Check("carol", "10.0.0.1").allowed);
  ASSERT_TRUE(throttle_->RecordSuccess("carol"));
  EXPECT_TRUE(Check("carol", "10.0.0.1").allowed);
}

TEST_F(LoginThrottleTest, FailuresExpireWithTheWindow) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(throttle_->RecordFailure("dave", "10.0.0.1"));
  EXPECT_FALSE(Check("dave", "10.0.0.1").allowed);
  Advance(15 * 60);
  EXPECT_TRUE(Check("dave", "10.0.0.1").allowed);
  EXPECT_EQ(*throttle_->Prune(), 20);
}

TEST_F(LoginThrottleTest, DelayIsCapped) {
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(throttle_->RecordFailure("eve", "10.0.0.1"));
  EXPECT_EQ(Check("eve", "10.0.0.2").retry_after_seconds, 15 * 60);
}

}  // namespace
}  // namespace moat::broker::db
