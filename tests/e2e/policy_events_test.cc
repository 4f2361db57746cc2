// Policies that act over time (maximum lifetime, default limits), from a user's own and their
// group's settings, and the live event stream, against a real broker.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>

#include <mutex>

#include "broker_harness.h"
#include "moat/common/tls/context.h"

namespace moat::e2e {
namespace {

TEST(Policies, DefaultLimitsAndMaximumLifetimeApply) {
  BrokerProcess broker;
  broker.Start();
  Api admin = AdminApi(broker);
  Api frank = MakeUser(broker, "moat-e2e-frank", "user");
  ASSERT_EQ(admin
                .Call("PUT", "/api/v1/policies",
                      {{"scope", "user"},
                       {"subject", "moat-e2e-frank"},
                       {"key", "default_limits"},
                       {"value", {{"pids_max", 123}}}})
                .status,
            204);
  Reply created = frank.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  ASSERT_EQ(created.status, 201) << created.raw;
  std::string id = created.body["id"];
  EXPECT_EQ(created.body["limits"]["pids_max"], 123);
  Reply limits = frank.Call("GET", "/api/v1/sessions/" + id + "/limits");
  ASSERT_EQ(limits.status, 200) << limits.raw;
  EXPECT_EQ(limits.body["effective_limits"]["pids_max"], 123) << limits.raw;

  // Set for frank's system group: the lifetime check (every 10 s) and effective_for see it as
  // a create does.
  struct passwd* account = ::getpwnam("moat-e2e-frank");
  ASSERT_NE(account, nullptr);
  struct group* primary = ::getgrgid(account->pw_gid);
  ASSERT_NE(primary, nullptr);
  std::string group = primary->gr_name;
  ASSERT_EQ(
      admin
          .Call("PUT", "/api/v1/policies",
                {{"scope", "group"}, {"subject", group}, {"key", "max_lifetime_s"}, {"value", 1}})
          .status,
      204);
  Reply effective = admin.Call("GET", "/api/v1/policies?effective_for=moat-e2e-frank");
  ASSERT_EQ(effective.status, 200) << effective.raw;
  EXPECT_EQ(effective.body["effective"]["max_lifetime_s"], 1) << effective.raw;
  EXPECT_EQ(effective.body["effective"]["sources"]["max_lifetime_s"], "group:" + group)
      << effective.raw;
  EXPECT_TRUE(WaitFor(
      [&] {
        return frank.Call("GET", "/api/v1/sessions/" + id).body.value("state", "") == "ended";
      },
      30))
      << broker.log();
  EXPECT_TRUE(WallsIn(broker.run_dir()).empty());
  Reply audit = admin.Call("GET", "/api/v1/audit?kind=session.state&session=" + id);
  EXPECT_NE(audit.raw.find("maximum lifetime"), std::string::npos) << audit.raw;
}

TEST(Events, StateChangesAndUsageArriveOnTheStream) {
  BrokerProcess broker;
  broker.Start();
  std::string token = Login(broker, "admin", broker.admin_password());
  std::mutex mutex;
  std::vector<Json> events;
  auto ctx = tls::MakeClientContext({.ca_pem = broker.ca_pem(), .verify_hostname = "127.0.0.1"});
  ASSERT_TRUE(ctx);
  net::WssOptions options;
  options.url = "wss://127.0.0.1:" + std::to_string(broker.api_port()) + "/api/v1/events";
  options.ctx = std::move(*ctx);
  options.headers = {{"Authorization", "Bearer " + token}};
  options.on_message = [&](std::string text) {
    std::lock_guard lock(mutex);
    events.push_back(Json::parse(text, nullptr, false));
  };
  options.on_close = [](const Error&) {};
  auto stream = net::WssClient::Connect(std::move(options));
  ASSERT_TRUE(stream) << stream.error().message();

  Api gina = MakeUser(broker, "moat-e2e-gina", "user");
  Reply created = gina.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  ASSERT_EQ(created.status, 201) << created.raw;
  std::string id = created.body["id"];
  auto seen = [&](const std::string& type, const std::string& needle) {
    std::lock_guard lock(mutex);
    for (const auto& e : events) {
      if (e.value("type", "") == type && e.dump().find(needle) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(WaitFor(
      [&] { return seen("session.state", "\"to\":\"active\"") && seen("session.state", id); }));
  EXPECT_TRUE(WaitFor([&] { return seen("usage", id); }, 10));
  EXPECT_TRUE(WaitFor([&] { return seen("audit", "auth.login"); }, 10));
  EXPECT_EQ(gina.Call("POST", "/api/v1/sessions/" + id + "/end").status, 200);
  EXPECT_TRUE(WaitFor([&] { return seen("session.state", "\"to\":\"ended\""); }));

  // Users may not listen in on everyone's events: their token is valid, their role is not
  // enough (403, not 401).
  auto user_ctx = tls::MakeClientContext({.ca_pem = broker.ca_pem()});
  ASSERT_TRUE(user_ctx);
  net::WssOptions denied;
  denied.url = "wss://127.0.0.1:" + std::to_string(broker.api_port()) + "/api/v1/events";
  denied.ctx = std::move(*user_ctx);
  denied.headers = {{"Authorization", "Bearer " + gina.token()}};
  denied.on_message = [](std::string) {};
  denied.on_close = [](const Error&) {};
  auto refused = net::WssClient::Connect(std::move(denied));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("403"), std::string::npos) << refused.error().message();
  (*stream)->Close();
}

}  // namespace
}  // namespace moat::e2e
