// Roles and bad requests against a real broker: every refusal has the right status and
// {"error","message"}, and leaves the database exactly as it was.
#include <gtest/gtest.h>

#include "broker_harness.h"

namespace moat::e2e {
namespace {

class Access : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    broker_ = new BrokerProcess();
    broker_->Start();
    Api owner = MakeUser(*broker_, "moat-e2e-owner", "user");
    Reply created = owner.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
    ASSERT_EQ(created.status, 201) << created.raw;
    session_ = new std::string(created.body["id"].get<std::string>());
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete session_;
  }
  static BrokerProcess* broker_;
  static std::string* session_;
};
BrokerProcess* Access::broker_ = nullptr;
std::string* Access::session_ = nullptr;

void ExpectError(const Reply& reply, int status, const std::string& code) {
  EXPECT_EQ(reply.status, status) << reply.raw;
  ASSERT_TRUE(reply.body.is_object()) << reply.raw;
  EXPECT_EQ(reply.body.value("error", ""), code) << reply.raw;
  EXPECT_FALSE(reply.body.value("message", "").empty()) << reply.raw;
}

TEST_F(Access, RolesAreEnforced) {
  Api other = MakeUser(*broker_, "moat-e2e-other", "user");
  Api auditor = MakeUser(*broker_, "moat-e2e-auditor", "auditor");
  Api operator_ = MakeUser(*broker_, "moat-e2e-operator", "operator");
  const std::string s = "/api/v1/sessions/" + *session_;
  std::string before = DatabaseSnapshot(broker_->database());

  // A user sees only their own sessions; another's is "not found".
  EXPECT_EQ(other.Call("GET", "/api/v1/sessions").body["sessions"].size(), 0u);
  ExpectError(other.Call("GET", s), 404, "not_found");
  ExpectError(other.Call("POST", s + "/end"), 404, "not_found");
  ExpectError(other.Call("GET", "/api/v1/sessions?user=moat-e2e-owner"), 403, "forbidden");
  ExpectError(other.Call("GET", "/api/v1/hosts"), 403, "forbidden");
  ExpectError(other.Call("POST", "/api/v1/users", {{"name", "x"}, {"password", "12345678"}}), 403,
              "forbidden");
  ExpectError(other.Call("POST", "/api/v1/sessions", {{"user", "moat-e2e-owner"}}), 403,
              "forbidden");
  // Auditors read everything and change nothing.
  EXPECT_EQ(auditor.Call("GET", s).status, 200);
  EXPECT_EQ(auditor.Call("GET", "/api/v1/hosts").status, 200);
  EXPECT_EQ(auditor.Call("GET", "/api/v1/audit").status, 200);
  ExpectError(auditor.Call("POST", s + "/suspend"), 403, "forbidden");
  ExpectError(auditor.Call("POST", s + "/limits", {{"limits", {{"cpu_percent", 10}}}}), 403,
              "forbidden");
  ExpectError(auditor.Call("POST", s + "/end"), 403, "forbidden");
  ExpectError(auditor.Call("POST", "/api/v1/hosts/e2e-local/drain"), 403, "forbidden");
  ExpectError(auditor.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}})), 403,
              "forbidden");
  // Nor do they use or watch a desktop through the browser endpoint.
  std::vector<std::pair<std::string, std::string>> upgrade = {
      {"Connection", "Upgrade"},
      {"Upgrade", "websocket"},
      {"Sec-WebSocket-Version", "13"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  for (const char* mode : {"control", "shadow"}) {
    ExpectError(Api(*broker_).CallRaw("GET",
                                      "/api/v1/display?session=" + *session_ + "&mode=" + mode +
                                          "&token=" + auditor.token(),
                                      "", upgrade),
                403, "forbidden");
  }
  // Operators throttle but do not administer.
  ExpectError(operator_.Call("POST", "/api/v1/users", {{"name", "x"}, {"password", "12345678"}}),
              403, "forbidden");
  ExpectError(operator_.Call("POST", "/api/v1/hosts/e2e-local/drain"), 403, "forbidden");
  ExpectError(operator_.Call("POST", "/api/v1/sql", {{"query", "SELECT 1"}}), 403, "forbidden");
  EXPECT_EQ(DatabaseSnapshot(broker_->database()), before);

  // A user made auditor is read-only on their own session too.
  Api demoted = MakeUser(*broker_, "moat-e2e-demoted", "user");
  Reply own = demoted.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  ASSERT_EQ(own.status, 201) << own.raw;
  const std::string mine = "/api/v1/sessions/" + own.body["id"].get<std::string>();
  Api admin = AdminApi(*broker_);
  ASSERT_EQ(admin.Call("POST", "/api/v1/users/moat-e2e-demoted/role", {{"role", "auditor"}}).status,
            200);
  std::string demoted_before = DatabaseSnapshot(broker_->database());
  EXPECT_EQ(demoted.Call("GET", mine).status, 200);
  ExpectError(demoted.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}})), 403,
              "forbidden");
  ExpectError(demoted.Call("POST", mine + "/disconnect"), 403, "forbidden");
  ExpectError(demoted.Call("POST", mine + "/end"), 403, "forbidden");
  ExpectError(demoted.Call("DELETE", mine), 403, "forbidden");
  ExpectError(demoted.Call("POST", mine + "/apps", {{"argv", {"/bin/true"}}}), 403, "forbidden");
  ExpectError(demoted.Call("POST", mine + "/processes/1/kill"), 403, "forbidden");
  EXPECT_EQ(DatabaseSnapshot(broker_->database()), demoted_before);
  EXPECT_EQ(admin.Call("POST", mine + "/end").status, 200);

  Reply throttled = operator_.Call("POST", s + "/limits", {{"limits", {{"cpu_percent", 40}}}});
  EXPECT_EQ(throttled.status, 200) << throttled.raw;
  Reply audit = auditor.Call("GET", "/api/v1/audit?kind=session.limits&session=" + *session_);
  ASSERT_EQ(audit.status, 200);
  ASSERT_FALSE(audit.body["events"].empty()) << audit.raw;
  EXPECT_EQ(audit.body["events"][0]["actor"], "moat-e2e-operator");
  EXPECT_NE(audit.body["events"][0]["new_value"].get<std::string>().find("40"), std::string::npos);
}

TEST_F(Access, BadRequestsChangeNothing) {
  Api admin = AdminApi(*broker_);
  const std::string s = "/api/v1/sessions/" + *session_;
  std::string before = DatabaseSnapshot(broker_->database());
  struct Case {
    std::string method, target, body;
    int status;
    std::string code;
  };
  std::vector<Case> cases = {
      {"POST", "/api/v1/sessions", "{not json", 400, "malformed_json"},
      {"POST", "/api/v1/sessions", "[1,2]", 400, "invalid_argument"},
      {"POST", "/api/v1/sessions", R"({"desktop":"yes"})", 400, "invalid_argument"},
      {"POST", "/api/v1/sessions", R"({"colour":"red"})", 400, "invalid_argument"},
      {"POST", "/api/v1/sessions", R"({"backend":"docker"})", 400, "invalid_argument"},
      {"POST", "/api/v1/sessions", R"({"user":"nobody-here"})", 404, "not_found"},
      {"POST", "/api/v1/sessions", R"({"limits":{"cpu_percent":-5}})", 400, "invalid_argument"},
      {"POST", "/api/v1/sessions", R"({"limits":{"memory_max":"lots"}})", 400, "invalid_argument"},
      {"POST", "/api/v1/sessions", R"({"limits":{"bogus":1}})", 400, "invalid_argument"},
      {"POST", s + "/limits", R"({"limits":{"cpu_percent":0}})", 400, "invalid_argument"},
      {"POST", s + "/limits", R"({"limits":{"pids_max":-1}})", 400, "invalid_argument"},
      {"POST", s + "/limits", R"({"limits":{"cpu_weight":0}})", 400, "invalid_argument"},
      {"POST", s + "/limits", R"({"limits":{"memory_max":1}})", 400, "invalid_argument"},
      {"POST", s + "/limits", R"({"limits":[]})", 400, "invalid_argument"},
      {"POST", s + "/limits", R"({})", 400, "invalid_argument"},
      {"POST", "/api/v1/sessions/s-nope/limits", R"({"limits":{"cpu_percent":10}})", 404,
       "not_found"},
      {"POST", "/api/v1/sessions/s-nope/suspend", "", 404, "not_found"},
      {"POST", s + "/resume", "", 409, "conflict"},
      {"POST", s + "/apps", R"({"argv":[]})", 400, "invalid_argument"},
      {"POST", s + "/apps", R"({"argv":"ls"})", 400, "invalid_argument"},
      {"POST", s + "/apps", R"({"argv":["/bin/true"],"env":["NOEQUALS"]})", 400,
       "invalid_argument"},
      {"POST", s + "/processes/abc/kill", "", 400, "invalid_argument"},
      {"POST", s + "/processes/2/kill", R"({"signal":99})", 400, "invalid_argument"},
      {"POST", s + "/processes/99999/kill", "", 404, "not_found"},
      {"POST", "/api/v1/users", R"({"name":"Bad Name","password":"12345678"})", 400,
       "invalid_argument"},
      {"POST", "/api/v1/users", R"({"name":"shortpw","password":"123"})", 400, "invalid_argument"},
      {"POST", "/api/v1/users", R"({"name":"x1","password":"12345678","role":"god"})", 400,
       "invalid_argument"},
      {"POST", "/api/v1/users", R"({"name":"admin","password":"12345678"})", 409, "conflict"},
      {"POST", "/api/v1/users/nobody/role", R"({"role":"admin"})", 404, "not_found"},
      {"PUT", "/api/v1/policies", R"({"scope":"global","key":"sessions_per_user","value":0})", 400,
       "invalid_argument"},
      {"PUT", "/api/v1/policies",
       R"({"scope":"global","key":"default_limits","value":{"cpu_weight":0}})", 400,
       "invalid_argument"},
      {"PUT", "/api/v1/policies", R"({"scope":"planet","key":"backend","value":"vm"})", 400,
       "invalid_argument"},
      {"PUT", "/api/v1/policies", R"({"scope":"global","key":"colour","value":1})", 400,
       "invalid_argument"},
      {"DELETE", "/api/v1/policies", R"({"scope":"global","key":"idle_timeout_s"})", 404,
       "not_found"},
      {"POST", "/api/v1/hosts/nohost/drain", "", 404, "not_found"},
      {"POST", "/api/v1/hosts/tokens", R"({"ttl_s":1})", 400, "invalid_argument"},
      {"POST", "/api/v1/sql", R"({"query":"UPDATE users SET role='admin'"})", 403, "forbidden"},
      {"POST", "/api/v1/sql", R"({"query":"SELECT 1; DELETE FROM users"})", 400,
       "invalid_argument"},
      {"POST", "/api/v1/sql", R"({"query":"SELEKT"})", 400, "invalid_argument"},
      {"GET", "/api/v1/nothing-here", "", 404, "not_found"},
      {"PATCH", "/api/v1/sessions", "", 405, "method_not_allowed"},
      {"GET", "/api/v1/sessions?state=sleeping", "", 400, "invalid_argument"},
      {"GET", "/api/v1/sessions?limit=0", "", 400, "invalid_argument"},
      {"POST", "/api/v1/enrol", R"({"token":"forged","name":"evil","csr":"x"})", 400,
       "invalid_argument"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.target + " " + c.body);
    ExpectError(admin.CallRaw(c.method, c.target, c.body), c.status, c.code);
  }
  // Too large a body.
  ExpectError(admin.CallRaw("POST", "/api/v1/sessions", std::string(2 << 20, ' ')), 413,
              "payload_too_large");
  EXPECT_EQ(DatabaseSnapshot(broker_->database()), before);

  // Bad, expired-looking and missing tokens.
  Api nobody(*broker_);
  ExpectError(nobody.Call("GET", "/api/v1/sessions"), 401, "unauthorized");
  nobody.set_token("not-a-real-token");
  ExpectError(nobody.Call("GET", "/api/v1/sessions"), 401, "unauthorized");
  ExpectError(nobody.CallRaw("GET", "/api/v1/sessions", "", {{"Authorization", "Basic eA=="}}), 401,
              "unauthorized");
  Reply wrong = Api(*broker_).Call("POST", "/api/v1/login",
                                   {{"user", "admin"}, {"password", "wrong-password"}});
  ExpectError(wrong, 401, "unauthorized");
  // A token stops working at logout.
  Api leaving(*broker_, Login(*broker_, "admin", broker_->admin_password()));
  EXPECT_EQ(leaving.Call("POST", "/api/v1/logout").status, 204);
  ExpectError(leaving.Call("GET", "/api/v1/sessions"), 401, "unauthorized");
}

TEST_F(Access, FailedLoginsAreSlowedDown) {
  Api client(*broker_);
  int throttled = 0;
  for (int i = 0; i < 8; ++i) {
    Reply reply =
        client.Call("POST", "/api/v1/login",
                    {{"user", "moat-e2e-victim"}, {"password", "guess-" + std::to_string(i)}});
    if (reply.status == 429) ++throttled;
  }
  EXPECT_GT(throttled, 0);
}

}  // namespace
}  // namespace moat::e2e
