#include "broker/session_service.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>

#include "db/host_store.h"
#include "db/policy_store.h"
#include "db/session_store.h"
#include "db/test_support.h"
#include "http/event_hub.h"

namespace moat::broker {
namespace {

using db::SessionState;

// A SessionService on a real database whose hosts have no agent connected: what it decides
// before it would ask an agent.
class SessionServiceTest : public db::testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    auto pool = db::ConnectionPool::Open(DbPath(), 2);
    ASSERT_TRUE(pool) << pool.error().message();
    pool_ = std::move(*pool);
    agents_ = std::make_unique<AgentHub>(*pool_, std::chrono::seconds(1), AgentHubHandlers{});
    service_ = std::make_unique<SessionService>(*pool_, *agents_, events_, metrics_);
    auto host = db::HostStore(*db_).Add({.name = "h1", .address = "h1", .capacity = 4},
                                        db::Actor::System());
    ASSERT_TRUE(host) << host.error().message();
    host_id_ = host->id;
  }

  // A session of `user` on host h1, taken from 'starting' through `path`.
  std::string SessionOf(std::int64_t user, std::initializer_list<SessionState> path) {
    db::SessionStore store(*db_);
    auto created = store.Create({.user_id = user, .host_id = host_id_}, db::Actor::System());
    EXPECT_TRUE(created) << created.error().message();
    for (SessionState to : path) {
      auto moved = store.Transition(created->id, to, db::Actor::System());
      EXPECT_TRUE(moved) << moved.error().message();
    }
    return created->id;
  }

  std::string StateOf(const std::string& id) {
    auto session = db::SessionStore(*db_).Get(id);
    EXPECT_TRUE(session) << session.error().message();
    return session ? std::string(db::ToString(session->state)) : "";
  }

  http::EventHub hub_;
  Events events_{hub_};
  Metrics metrics_;
  std::unique_ptr<db::ConnectionPool> pool_;
  std::unique_ptr<AgentHub> agents_;
  std::unique_ptr<SessionService> service_;
  std::int64_t host_id_ = 0;
};

TEST_F(SessionServiceTest, ABadCreateLeavesADisconnectedSessionAlone) {
  std::int64_t user = InsertUser("alice");
  std::string id = SessionOf(user, {SessionState::kActive, SessionState::kDisconnected});
  std::int64_t events = CountRows("SELECT count(*) FROM session_events");

  std::vector<CreateSessionRequest> bad = {
      {.user = "alice", .geometry = "10x10"},      {.user = "alice", .depth = 8},
      {.user = "alice", .backend = "docker"},      {.user = "alice", .limits = {{"cpu_weight", 0}}},
      {.user = "alice", .limits = {{"bogus", 1}}}, {.user = "alice", .limits = wire::Json::array()},
  };
  for (const auto& request : bad) {
    wire::Json shown{{"geometry", request.geometry.value_or("")},
                     {"depth", request.depth.value_or(0)},
                     {"limits", request.limits}};
    SCOPED_TRACE(shown.dump());
    auto created = service_->Create(request, db::Actor::User(user));
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().code(), std::errc::invalid_argument) << created.error().message();
  }
  EXPECT_EQ(StateOf(id), "disconnected");
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events"), events);

  // A good request still gets the session back.
  auto again = service_->Create({.user = "alice"}, db::Actor::User(user));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(again->reconnected);
  EXPECT_EQ(again->session.id, id);
  EXPECT_EQ(StateOf(id), "active");
}

TEST_F(SessionServiceTest, AnAuditorGetsNoSession) {
  std::int64_t auditor = InsertUser("audrey", "auditor");
  std::int64_t events = CountRows("SELECT count(*) FROM session_events");
  auto created = service_->Create({.user = "audrey", .desktop = false}, db::Actor::User(auditor));
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), std::errc::operation_not_supported)
      << created.error().message();
  EXPECT_EQ(CountRows("SELECT count(*) FROM sessions"), 0);
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events"), events);
}

// The timeouts see a group's policy as a create does ("root" has a system account everywhere).
TEST_F(SessionServiceTest, TimeoutsFollowAGroupPolicy) {
  struct passwd* root = ::getpwnam("root");
  ASSERT_NE(root, nullptr);
  struct group* group = ::getgrgid(root->pw_gid);
  ASSERT_NE(group, nullptr);
  std::string id = SessionOf(InsertUser("root"), {SessionState::kActive});
  ASSERT_TRUE(db::PolicyStore(*db_).Set(db::PolicyScope::kGroup, group->gr_name, "max_lifetime_s",
                                        "60", db::Actor::System()));
  ASSERT_TRUE(db_->Exec("UPDATE sessions SET created_at = created_at - 3600"));
  auto applied = service_->ApplyTimeouts();
  ASSERT_TRUE(applied) << applied.error().message();
  // No agent answers for its host, so the end stops at 'ending' (reconciliation finishes it).
  EXPECT_EQ(StateOf(id), "ending");
}

}  // namespace
}  // namespace moat::broker
