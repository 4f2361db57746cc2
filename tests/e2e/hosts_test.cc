// Two agents on one machine as two hosts (separate run directories and cgroup roots):
// enrolment with a one-time token, placement by load, drain.
#include <gtest/gtest.h>

#include "broker_harness.h"

namespace moat::e2e {
namespace {

std::string HostOf(Api& api) {
  Reply created = api.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  EXPECT_EQ(created.status, 201) << created.raw;
  return created.body.value("host", "");
}

TEST(Hosts, TwoAgentsEnrolPlaceAndDrain) {
  BrokerProcess broker;
  broker.Start();
  Api admin = AdminApi(broker);
  Reply token = admin.Call("POST", "/api/v1/hosts/tokens", Json::object({{"ttl_s", 600}}));
  ASSERT_EQ(token.status, 201) << token.raw;
  std::string agent_token = token.body["agent_token"];

  ExtraAgent second(broker, "e2e-second", agent_token);
  ASSERT_TRUE(WaitFor(
      [&] {
        Reply hosts = admin.Call("GET", "/api/v1/hosts");
        int connected = 0;
        for (const auto& host : hosts.body["hosts"]) connected += host["connected"] == true;
        return connected == 2;
      },
      30))
      << second.log() << broker.log();

  // A token works once.
  ExtraAgent replay(broker, "e2e-replay", agent_token);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(admin.Call("GET", "/api/v1/hosts").body["hosts"].size(), 2u);
  replay.Kill();

  // Least loaded first: two users' sessions land on the two hosts.
  Api u1 = MakeUser(broker, "moat-e2e-p1", "user");
  Api u2 = MakeUser(broker, "moat-e2e-p2", "user");
  Api u3 = MakeUser(broker, "moat-e2e-p3", "user");
  std::string first = HostOf(u1), second_host = HostOf(u2);
  EXPECT_NE(first, second_host);
  EXPECT_EQ(WallsIn(broker.run_dir()).size() + WallsIn(second.run_dir()).size(), 2u);

  // A drained host takes no new sessions.
  ASSERT_EQ(admin.Call("POST", "/api/v1/hosts/e2e-local/drain").status, 200);
  EXPECT_EQ(HostOf(u3), "e2e-second");
  ASSERT_EQ(admin.Call("POST", "/api/v1/hosts/e2e-second/drain").status, 200);
  Reply none = u3.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  EXPECT_EQ(none.status, 503) << none.raw;
  EXPECT_EQ(none.body["error"], "unavailable");
  ASSERT_EQ(admin.Call("POST", "/api/v1/hosts/e2e-local/undrain").status, 200);
  ASSERT_EQ(admin.Call("POST", "/api/v1/hosts/e2e-second/undrain").status, 200);

  // The audit trail has the drains with their old and new values.
  Reply audit = admin.Call("GET", "/api/v1/audit?kind=host.drained");
  EXPECT_GE(audit.body["events"].size(), 4u) << audit.raw;

  // The broker restarts; the second host's agent reconnects by itself (backoff) and reports
  // its running session, which stays active.
  std::string on_second;
  Reply before = admin.Call("GET", "/api/v1/sessions?live=1");
  for (const auto& s : before.body["sessions"]) {
    if (s.value("host", "") == "e2e-second") on_second = s["id"].get<std::string>();
  }
  ASSERT_FALSE(on_second.empty()) << before.raw;
  broker.Terminate();
  broker.Start();
  admin = AdminApi(broker);
  EXPECT_TRUE(WaitFor(
      [&] {
        Reply hosts = admin.Call("GET", "/api/v1/hosts");
        int connected = 0;
        for (const auto& host : hosts.body["hosts"]) connected += host["connected"] == true;
        return connected == 2;
      },
      40))
      << second.log();
  EXPECT_EQ(admin.Call("GET", "/api/v1/sessions/" + on_second).body["state"], "active");
  EXPECT_EQ(WallsIn(second.run_dir()).size(), 2u);

  // Sessions on the second host end through its agent.
  Reply live = admin.Call("GET", "/api/v1/sessions?live=1");
  for (const auto& s : live.body["sessions"]) {
    EXPECT_EQ(admin.Call("POST", "/api/v1/sessions/" + s["id"].get<std::string>() + "/end").status,
              200);
  }
  EXPECT_TRUE(WallsIn(second.run_dir()).empty());
}

}  // namespace
}  // namespace moat::e2e
