// The broker, the agent and the sessions fail independently: kill -9 either one and no
// session and no row is lost or half-made.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <set>
#include <thread>

#include "broker_harness.h"
#include "test_support.h"

namespace moat::e2e {
namespace {

std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr);
  std::string result;
  while (stmt && sqlite3_step(stmt) == SQLITE_ROW) {
    result += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

// Every session is either recorded live and running on the host, or recorded as ended/failed
// (or not at all) and not running.
::testing::AssertionResult Consistent(BrokerProcess& broker, Api& admin) {
  Reply all = admin.Call("GET", "/api/v1/sessions?limit=1000");
  std::set<std::string> walls;
  for (const auto& id : WallsIn(broker.run_dir())) walls.insert(id);
  std::set<std::string> live;
  for (const auto& s : all.body["sessions"]) {
    std::string id = s["id"], state = s["state"];
    bool runs = walls.count(id) > 0;
    if (state == "active") {
      live.insert(id);
      if (!runs) return ::testing::AssertionFailure() << id << " is active but has no wall";
    } else if (state == "ended" || state == "failed") {
      if (runs) return ::testing::AssertionFailure() << id << " is " << state << " but runs";
    } else {
      return ::testing::AssertionFailure() << id << " is still " << state;
    }
  }
  for (const auto& id : walls) {
    if (!live.count(id))
      return ::testing::AssertionFailure() << "wall " << id << " is not recorded live";
  }
  return ::testing::AssertionSuccess() << live.size() << " live sessions";
}

TEST(Faults, BrokerKilledDuringFiftyConcurrentCreations) {
  BrokerProcess broker({.extra_args = {"--local_agent.capacity", "200"}});
  broker.Start();
  Api admin = AdminApi(broker);
  ASSERT_EQ(admin
                .Call("PUT", "/api/v1/policies",
                      {{"scope", "global"}, {"key", "sessions_per_user"}, {"value", 100}})
                .status,
            204);
  Api user = MakeUser(broker, "moat-e2e-many", "user");
  std::string token = user.token();
  std::vector<std::unique_ptr<Api>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(std::make_unique<Api>(broker, token));
    clients.back()->set_quiet(true);
  }
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (auto& client : clients) {
    threads.emplace_back([&, c = client.get()] {
      Reply reply = c->Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
      if (reply.status == 201) created.fetch_add(1);
    });
  }
  // Kill it mid-way: some sessions made, some not.
  WaitFor([&] { return created.load() >= 5; }, 60);
  broker.Kill();
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(IntegrityCheck(broker.database()), "ok");

  broker.Start();
  Api after = AdminApi(broker);
  ::testing::AssertionResult consistent = ::testing::AssertionFailure();
  WaitFor([&] { return bool(consistent = Consistent(broker, after)); }, 60);
  EXPECT_TRUE(consistent) << broker.log();
  EXPECT_EQ(IntegrityCheck(broker.database()), "ok");
  std::cout << "created before the kill: " << created.load() << "; " << consistent.message()
            << "\n";
}

TEST(Faults, AgentKilledSessionsKeepRunningAndAreReadopted) {
  BrokerProcess broker;
  broker.Start();
  Api user = MakeUser(broker, "moat-e2e-dave", "user");
  Reply created = user.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  ASSERT_EQ(created.status, 201) << created.raw;
  std::string id = created.body["id"];
  Reply app =
      user.Call("POST", "/api/v1/sessions/" + id + "/apps", {{"argv", {"/bin/sleep", "600"}}});
  ASSERT_EQ(app.status, 201) << app.raw;

  pid_t agent = LocalAgentPid(broker);
  ASSERT_GT(agent, 0);
  ASSERT_EQ(::kill(agent, SIGKILL), 0);
  // The wall and its application live on without the agent.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(WallsIn(broker.run_dir()), std::vector<std::string>{id});
  // The broker restarts the agent, which re-adopts the session.
  Api admin = AdminApi(broker);
  EXPECT_TRUE(AwaitAgentRestarted(broker, admin, agent, 40)) << broker.log();
  Reply shown = user.Call("GET", "/api/v1/sessions/" + id);
  EXPECT_EQ(shown.body["state"], "active") << shown.raw;
  Reply ps = user.Call("GET", "/api/v1/sessions/" + id + "/processes");
  ASSERT_EQ(ps.status, 200) << ps.raw;
  EXPECT_NE(ps.raw.find("sleep 600"), std::string::npos) << ps.raw;
  EXPECT_EQ(user.Call("POST", "/api/v1/sessions/" + id + "/end").status, 200);
  EXPECT_TRUE(WallsIn(broker.run_dir()).empty());
}

// The agent takes longer than the broker waits: the create is answered 504 and its row is
// failed, but the agent finishes the wall after all. The broker must end that wall (its first
// usage sample shows it), or it would run on with nobody knowing of it until the next hello.
TEST(Faults, AWallThatComesUpAfterItsCreateTimedOutIsEnded) {
  const std::string name = "moat-e2e-tardy";
  test::EnsureUser(name);
  // A window manager that takes 4 s to start makes the desktop's create outlast a 1 s wait.
  std::string wm = test::HomeOf(name) + "/slow-wm";
  ASSERT_EQ(test::RunCommand({"runuser", "-u", name, "--", "sh", "-c",
                              "printf '#!/bin/sh\\nsleep 4\\nexec openbox \"$@\"\\n' > " + wm +
                                  " && chmod +x " + wm})
                .exit_code,
            0);
  BrokerProcess broker(BrokerOptions{
      .extra_args = {"--agents.request_timeout_s", "1", "--local_agent.window_manager", wm}});
  broker.Start();
  Api user = MakeUser(broker, name, "user");
  Reply created = user.Call("POST", "/api/v1/sessions", Json::object({{"desktop", true}}));
  ASSERT_EQ(created.status, 504) << created.raw;
  // The agent is still at it: its wall exists, then goes once it reports usage.
  EXPECT_TRUE(WaitFor([&] { return !WallsIn(broker.run_dir()).empty(); }, 10)) << broker.log();
  EXPECT_TRUE(WaitFor([&] { return WallsIn(broker.run_dir()).empty(); }, 20))
      << "the late wall was left running\n"
      << broker.log();
  // Ended by the broker, not gone by itself.
  EXPECT_NE(broker.log().find("ending the wall of a create that timed out"), std::string::npos)
      << broker.log();
  ::unlink(wm.c_str());
}

TEST(Faults, SessionsOutliveTheBroker) {
  BrokerProcess broker;
  broker.Start();
  Api user = MakeUser(broker, "moat-e2e-erin", "user");
  Reply created = user.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  ASSERT_EQ(created.status, 201) << created.raw;
  std::string id = created.body["id"];
  broker.Kill();
  // No broker, no agent (it died with the broker): the session still runs.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(LocalAgentPid(broker), 0);
  EXPECT_EQ(WallsIn(broker.run_dir()), std::vector<std::string>{id});
  broker.Start();
  // The killed broker left its host 'online' in the database; the new one takes it offline at
  // start-up and back online at its agent's hello, never trusting the old state.
  Reply states = AdminApi(broker).Call("GET", "/api/v1/audit?kind=host.state&limit=2");
  ASSERT_EQ(states.status, 200) << states.raw;
  ASSERT_EQ(states.body["events"].size(), 2u) << states.raw;
  EXPECT_EQ(states.body["events"][0]["new_value"], "online") << states.raw;  // newest first
  EXPECT_EQ(states.body["events"][1]["old_value"], "online") << states.raw;
  EXPECT_EQ(states.body["events"][1]["new_value"], "offline") << states.raw;
  EXPECT_NE(states.body["events"][1].dump().find("broker start"), std::string::npos) << states.raw;
  Api again(broker, Login(broker, "moat-e2e-erin", "pw-moat-e2e-erin-secret"));
  Reply shown = again.Call("GET", "/api/v1/sessions/" + id);
  EXPECT_EQ(shown.body["state"], "active") << shown.raw;
  EXPECT_EQ(again.Call("POST", "/api/v1/sessions/" + id + "/end").status, 200);
  EXPECT_TRUE(WallsIn(broker.run_dir()).empty());
}

}  // namespace
}  // namespace moat::e2e
