// A user's session end to end over real TLS: login, create (a real wall on the real agent),
// list, throttle (the kernel's cgroup value changes), suspend (frozen), resume, apps, end (the
// wall is gone); and what the event stream and the database record of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "broker_harness.h"
#include "test_support.h"

namespace moat::e2e {
namespace {

using SessionLifecycle = SharedBrokerTest;

TEST_F(SessionLifecycle, LoginCreateListThrottleSuspendResumeEnd) {
  Api alice = MakeUser(*broker_, "moat-e2e-alice", "user");
  Api admin = AdminApi(*broker_);

  Reply created = alice.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  ASSERT_EQ(created.status, 201) << created.raw << broker_->log();
  std::string id = created.body["id"];
  EXPECT_EQ(created.body["state"], "active");
  EXPECT_EQ(created.body["user"], "moat-e2e-alice");
  EXPECT_EQ(created.body["host"], "e2e-local");
  EXPECT_TRUE(std::filesystem::exists(broker_->run_dir() + "/sessions/" + id))
      << "no wall for " << id;

  Reply listed = alice.Call("GET", "/api/v1/sessions");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body["sessions"].size(), 1u);
  EXPECT_EQ(listed.body["sessions"][0]["id"], id);

  // Throttle: the value in the kernel changes.
  Reply limited = admin.Call("POST", "/api/v1/sessions/" + id + "/limits",
                             {{"limits", {{"cpu_percent", 30}, {"pids_max", 77}}}});
  ASSERT_EQ(limited.status, 200) << limited.raw;
  EXPECT_EQ(limited.body["limits"]["cpu_percent"], 30);
  EXPECT_DOUBLE_EQ(limited.body["effective_limits"]["cpu_percent"].get<double>(), 30.0);
  EXPECT_EQ(limited.body["effective_limits"]["pids_max"], 77);
  std::string quota =
      SessionCgroupFile(broker_->cgroup_parent(), id, {"cpu.max", "cpu.cfs_quota_us"});
  ASSERT_FALSE(quota.empty());
  std::string value = test::Trim(test::ReadFile(quota));
  EXPECT_TRUE(value == "30000" || value.rfind("30000 ", 0) == 0) << quota << ": " << value;

  // Suspend: the whole session is frozen; resume thaws it.
  Reply suspended = admin.Call("POST", "/api/v1/sessions/" + id + "/suspend");
  ASSERT_EQ(suspended.status, 200) << suspended.raw;
  EXPECT_EQ(suspended.body["state"], "suspended");
  std::string freezer =
      SessionCgroupFile(broker_->cgroup_parent(), id, {"cgroup.freeze", "freezer.state"});
  ASSERT_FALSE(freezer.empty());
  std::string frozen = test::Trim(test::ReadFile(freezer));
  EXPECT_TRUE(frozen == "1" || frozen == "FROZEN") << frozen;
  Reply resumed = admin.Call("POST", "/api/v1/sessions/" + id + "/resume");
  ASSERT_EQ(resumed.status, 200) << resumed.raw;
  EXPECT_EQ(resumed.body["state"], "active");
  std::string thawed = test::Trim(test::ReadFile(freezer));
  EXPECT_TRUE(thawed == "0" || thawed == "THAWED") << thawed;

  // An application inside, its process listed and killed.
  Reply app =
      alice.Call("POST", "/api/v1/sessions/" + id + "/apps", {{"argv", {"/bin/sleep", "300"}}});
  ASSERT_EQ(app.status, 201) << app.raw;
  int64_t pid = app.body["pid"];
  Reply ps = alice.Call("GET", "/api/v1/sessions/" + id + "/processes");
  ASSERT_EQ(ps.status, 200) << ps.raw;
  bool listed_sleep = false;
  for (const auto& p : ps.body["processes"]) {
    if (p["pid"] == pid)
      listed_sleep = p["command"].get<std::string>().find("sleep") != std::string::npos;
  }
  EXPECT_TRUE(listed_sleep) << ps.raw;
  Reply killed =
      alice.Call("POST", "/api/v1/sessions/" + id + "/processes/" + std::to_string(pid) + "/kill",
                 {{"signal", 9}});
  EXPECT_EQ(killed.status, 200) << killed.raw;
  EXPECT_TRUE(WaitFor([&] {
    Reply now = alice.Call("GET", "/api/v1/sessions/" + id + "/processes");
    for (const auto& p : now.body["processes"]) {
      if (p["pid"] == pid) return false;
    }
    return true;
  }));
  Reply init = alice.Call("POST", "/api/v1/sessions/" + id + "/processes/1/kill");
  EXPECT_EQ(init.status, 400) << init.raw;

  // Usage arrives once a second and is listed with the session.
  EXPECT_TRUE(WaitFor([&] {
    Reply shown = alice.Call("GET", "/api/v1/sessions/" + id);
    return shown.body.contains("usage") && shown.body["usage"].is_object();
  }));

  Reply ended = alice.Call("POST", "/api/v1/sessions/" + id + "/end");
  ASSERT_EQ(ended.status, 200) << ended.raw;
  EXPECT_EQ(ended.body["state"], "ended");
  EXPECT_FALSE(std::filesystem::exists(broker_->run_dir() + "/sessions/" + id));
  EXPECT_TRUE(SessionCgroupFile(broker_->cgroup_parent(), id, {"cgroup.procs"}).empty());

  // The audit trail has every step, with the actor.
  Reply sql = admin.Call("POST", "/api/v1/sql",
                         {{"query",
                           "SELECT old_value, new_value, actor FROM v_audit WHERE "
                           "session_id = '" +
                               id +
                               "' AND kind = 'session.state' "
                               "ORDER BY id"}});
  ASSERT_EQ(sql.status, 200) << sql.raw;
  std::vector<std::string> steps;
  for (const auto& row : sql.body["rows"])
    steps.push_back(row[0].get<std::string>() + ">" + row[1].get<std::string>());
  std::vector<std::string> expected = {"starting>active", "active>suspended", "suspended>active",
                                       "active>ending", "ending>ended"};
  EXPECT_EQ(steps, expected);
  Reply write = admin.Call("POST", "/api/v1/sql", {{"query", "DELETE FROM sessions"}});
  EXPECT_EQ(write.status, 403) << write.raw;
}

TEST_F(SessionLifecycle, DisconnectedSessionIsGivenBack) {
  Api bob = MakeUser(*broker_, "moat-e2e-bob", "user");
  Reply created = bob.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  ASSERT_EQ(created.status, 201) << created.raw;
  std::string id = created.body["id"];
  Reply gone = bob.Call("POST", "/api/v1/sessions/" + id + "/disconnect");
  ASSERT_EQ(gone.status, 200) << gone.raw;
  EXPECT_EQ(gone.body["state"], "disconnected");
  Reply again = bob.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(again.body["id"], id);
  EXPECT_EQ(again.body["reconnected"], true);
  EXPECT_EQ(again.body["state"], "active");
  EXPECT_EQ(bob.Call("DELETE", "/api/v1/sessions/" + id).status, 200);
}

TEST_F(SessionLifecycle, SessionsPerUserPolicyIsEnforced) {
  Api admin = AdminApi(*broker_);
  Api carol = MakeUser(*broker_, "moat-e2e-carol", "user");
  ASSERT_EQ(admin
                .Call("PUT", "/api/v1/policies",
                      {{"scope", "user"},
                       {"subject", "moat-e2e-carol"},
                       {"key", "sessions_per_user"},
                       {"value", 1}})
                .status,
            204);
  Reply first = carol.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  ASSERT_EQ(first.status, 201) << first.raw;
  Reply second = carol.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  EXPECT_EQ(second.status, 409) << second.raw;
  EXPECT_EQ(
      carol.Call("POST", "/api/v1/sessions/" + first.body["id"].get<std::string>() + "/end").status,
      200);
}

TEST_F(SessionLifecycle, ConcurrentCreatesKeepToTheSessionLimit) {
  Api admin = AdminApi(*broker_);
  Api hank = MakeUser(*broker_, "moat-e2e-hank", "user");
  ASSERT_EQ(admin
                .Call("PUT", "/api/v1/policies",
                      {{"scope", "user"},
                       {"subject", "moat-e2e-hank"},
                       {"key", "sessions_per_user"},
                       {"value", 2}})
                .status,
            204);
  std::vector<std::unique_ptr<Api>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(std::make_unique<Api>(*broker_, hank.token()));
  std::vector<int> statuses(clients.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < clients.size(); ++i) {
    threads.emplace_back([&, i] {
      statuses[i] =
          clients[i]->Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}})).status;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201), 2);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 409), 4);
  for (const auto& s : hank.Call("GET", "/api/v1/sessions?live=1").body["sessions"]) {
    EXPECT_EQ(hank.Call("POST", "/api/v1/sessions/" + s["id"].get<std::string>() + "/end").status,
              200);
  }
}

// The default session is a desktop: Xvnc, openbox and the user's start-up run inside the wall
// by the time the create answers.
TEST_F(SessionLifecycle, ADesktopSessionRunsItsDesktop) {
  Api ivy = MakeUser(*broker_, "moat-e2e-ivy", "user");
  Reply created = ivy.Call("POST", "/api/v1/sessions", Json::object());
  ASSERT_EQ(created.status, 201) << created.raw << broker_->log();
  std::string id = created.body["id"];
  Reply ps = ivy.Call("GET", "/api/v1/sessions/" + id + "/processes");
  ASSERT_EQ(ps.status, 200) << ps.raw;
  for (const char* program : {"Xvnc", "openbox", "xterm"}) {
    EXPECT_NE(ps.raw.find(program), std::string::npos) << program << " not in " << ps.raw;
  }
  EXPECT_TRUE(
      std::filesystem::exists(broker_->run_dir() + "/sessions/" + id + "/display/rfb.sock"));

  // An admin's message appears on the desktop; users cannot send one.
  Api admin = AdminApi(*broker_);
  Reply sent =
      admin.Call("POST", "/api/v1/sessions/" + id + "/message", {{"text", "Maintenance at noon"}});
  ASSERT_EQ(sent.status, 200) << sent.raw;
  EXPECT_TRUE(WaitFor(
      [&] {
        return ivy.Call("GET", "/api/v1/sessions/" + id + "/processes")
                   .raw.find("Maintenance at noon") != std::string::npos;
      },
      10));
  EXPECT_EQ(ivy.Call("POST", "/api/v1/sessions/" + id + "/message", {{"text", "hi"}}).status, 403);
  EXPECT_EQ(admin.Call("POST", "/api/v1/sessions/" + id + "/message", {{"text", " "}}).status, 400);
  Reply audit = admin.Call("GET", "/api/v1/audit?kind=session.message&session=" + id);
  EXPECT_NE(audit.raw.find("Maintenance at noon"), std::string::npos) << audit.raw;

  EXPECT_EQ(ivy.Call("POST", "/api/v1/sessions/" + id + "/end").status, 200);
  EXPECT_FALSE(std::filesystem::exists(broker_->run_dir() + "/sessions/" + id));
}

TEST_F(SessionLifecycle, MetricsCountSessionsAndRequests) {
  Api anyone(*broker_);
  Reply metrics = anyone.CallRaw("GET", "/metrics", "");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.raw.find("moat_sessions{state=\"active\"}"), std::string::npos);
  EXPECT_NE(metrics.raw.find("moat_api_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(metrics.raw.find("moat_agents_connected 1"), std::string::npos) << metrics.raw;
  EXPECT_NE(metrics.raw.find("moat_usage_samples_ingested_total"), std::string::npos);
}

}  // namespace
}  // namespace moat::e2e
