#include "db/policy_store.h"

#include <gtest/gtest.h>

#include <vector>

#include "db/test_support.h"

namespace moat::broker::db {
namespace {

class PolicyStoreTest : public testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    admin_ = InsertUser("root", "admin");
    store_ = std::make_unique<PolicyStore>(*db_, TestClock());
  }
  Status Set(PolicyScope scope, const std::string& subject, const std::string& key,
             const std::string& value) {
    return store_->Set(scope, subject, key, value, Actor::User(admin_));
  }
  std::int64_t admin_ = 0;
  std::unique_ptr<PolicyStore> store_;
};

TEST_F(PolicyStoreTest, DefaultsApplyWhenNothingIsSet) {
  auto policy = store_->Effective("alice", {});
  ASSERT_TRUE(policy) << policy.error().message();
  EXPECT_EQ(policy->sessions_per_user, 2);
  EXPECT_EQ(policy->backend, "sandbox");
  EXPECT_EQ(policy->sources.at("backend"), "default");
}

TEST_F(PolicyStoreTest, UserOverGroupOverGlobal) {
  ASSERT_TRUE(Set(PolicyScope::kGlobal, "", "sessions_per_user", "3"));
  ASSERT_TRUE(Set(PolicyScope::kGlobal, "", "idle_timeout_s", "600"));
  ASSERT_TRUE(Set(PolicyScope::kGlobal, "", "default_limits",
                  R"({"cpu_percent": 100, "memory_max": 1000000000})"));
  ASSERT_TRUE(Set(PolicyScope::kGroup, "devs", "sessions_per_user", "5"));
  ASSERT_TRUE(Set(PolicyScope::kGroup, "devs", "backend", R"("vm")"));
  ASSERT_TRUE(Set(PolicyScope::kGroup, "staff", "backend", R"("sandbox")"));
  ASSERT_TRUE(Set(PolicyScope::kGroup, "devs", "default_limits", R"({"memory_max": 2000000000})"));
  ASSERT_TRUE(Set(PolicyScope::kUser, "alice", "sessions_per_user", "1"));
  ASSERT_TRUE(Set(PolicyScope::kUser, "alice", "default_limits", R"({"pids_max": 64})"));

  std::vector<std::string> groups{"devs", "staff"};
  auto alice = store_->Effective("alice", groups);
  ASSERT_TRUE(alice) << alice.error().message();
  EXPECT_EQ(alice->sessions_per_user, 1);
  EXPECT_EQ(alice->sources.at("sessions_per_user"), "user:alice");
  EXPECT_EQ(alice->idle_timeout_s, 600);
  EXPECT_EQ(alice->sources.at("idle_timeout_s"), "global");
  EXPECT_EQ(alice->backend, "vm");  // the earlier group wins
  EXPECT_EQ(alice->sources.at("backend"), "group:devs");
  EXPECT_EQ(alice->default_limits, R"({"cpu_percent":100,"memory_max":2000000000,"pids_max":64})");

  auto bob = store_->Effective("bob", std::vector<std::string>{"staff"});
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->sessions_per_user, 3);
  EXPECT_EQ(bob->backend, "sandbox");
  EXPECT_EQ(bob->default_limits, R"({"cpu_percent":100,"memory_max":1000000000})");
}

TEST_F(PolicyStoreTest, BadKeysAndValuesAreRefusedAndChangeNothing) {
  EXPECT_FALSE(Set(PolicyScope::kGlobal, "", "colour", "1"));
  EXPECT_FALSE(Set(PolicyScope::kGlobal, "", "sessions_per_user", "0"));
  EXPECT_FALSE(Set(PolicyScope::kGlobal, "", "sessions_per_user", "\"two\""));
  EXPECT_FALSE(Set(PolicyScope::kGlobal, "", "idle_timeout_s", "-5"));
  EXPECT_FALSE(Set(PolicyScope::kGlobal, "", "backend", "\"docker\""));
  EXPECT_FALSE(Set(PolicyScope::kGlobal, "", "backend", "vm"));  // not JSON
  EXPECT_FALSE(Set(PolicyScope::kGlobal, "", "default_limits", R"({"gpu": 1})"));
  EXPECT_FALSE(Set(PolicyScope::kGlobal, "", "default_limits", R"({"memory_max": -1})"));
  EXPECT_FALSE(Set(PolicyScope::kGlobal, "x", "backend", "\"vm\""));
  EXPECT_FALSE(Set(PolicyScope::kUser, "", "backend", "\"vm\""));
  auto error = Set(PolicyScope::kGlobal, "", "colour", "1");
  EXPECT_NE(error.error().message().find("unknown policy key 'colour'"), std::string::npos);
  EXPECT_EQ(CountRows("SELECT count(*) FROM policies"), 0);
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events"), 0);
}

// The ranges of a create request's limits: a default every create would refuse is refused.
TEST_F(PolicyStoreTest, DefaultLimitsOutsideWhatACreateAcceptsAreRefused) {
  for (const char* bad :
       {R"({"cpu_weight": 0})", R"({"cpu_weight": 10001})", R"({"cpu_percent": 0.5})",
        R"({"memory_max": 1000})", R"({"pids_max": 0})", R"({"io_weight": 0})",
        R"({"io_weight": "max"})", R"({"pids_max": 1.5})", R"({"io_devices": [{"read_bps": 1}]})",
        R"({"io_devices": [{"device": "8:0", "read_bps": 0}]})"}) {
    SCOPED_TRACE(bad);
    auto refused = Set(PolicyScope::kGlobal, "", "default_limits", bad);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), std::errc::invalid_argument);
    EXPECT_NE(refused.error().message().find("default_limits"), std::string::npos)
        << refused.error().message();
  }
  EXPECT_EQ(CountRows("SELECT count(*) FROM policies"), 0);
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events"), 0);
  EXPECT_TRUE(Set(PolicyScope::kGlobal, "", "default_limits",
                  R"({"cpu_percent": "max", "cpu_weight": 1, "memory_max": 4194304,
                      "pids_max": "max", "io_devices": [{"device": "8:0", "read_bps": 1}]})"));
}

TEST_F(PolicyStoreTest, ChangesAreAuditedWithOldAndNewValues) {
  ASSERT_TRUE(Set(PolicyScope::kUser, "alice", "max_lifetime_s", "3600"));
  Advance(10);
  ASSERT_TRUE(Set(PolicyScope::kUser, "alice", "max_lifetime_s", "7200"));
  ASSERT_TRUE(store_->Remove(PolicyScope::kUser, "alice", "max_lifetime_s", Actor::User(admin_)));
  EXPECT_FALSE(store_->Remove(PolicyScope::kUser, "alice", "max_lifetime_s", Actor::User(admin_)));
  auto events = ListEvents(*db_, {});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[2].kind, "policy.set");
  EXPECT_EQ((*events)[2].old_value, std::nullopt);
  EXPECT_EQ((*events)[2].new_value, "3600");
  EXPECT_EQ((*events)[1].old_value, "3600");
  EXPECT_EQ((*events)[1].new_value, "7200");
  EXPECT_EQ((*events)[1].actor, "root");
  EXPECT_EQ((*events)[1].at, Now());
  EXPECT_EQ((*events)[0].kind, "policy.remove");
  EXPECT_EQ((*events)[0].old_value, "7200");
  EXPECT_EQ((*events)[0].new_value, std::nullopt);
  EXPECT_NE((*events)[0].detail.find("\"subject\":\"alice\""), std::string::npos);
}

}  // namespace
}  // namespace moat::broker::db
