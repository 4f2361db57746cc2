// The web login page in a real browser: Debian's Chromium, driven by tests/e2e/browser/
// login_page.mjs (playwright-core), against a real broker with its real local agent and display
// gateway. Screenshots of every step land in <build>/tests/e2e/web-shots/<test name>/.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "broker_harness.h"
#include "browser_page.h"
#include "test_support.h"

namespace moat::e2e {
namespace {

namespace fs = std::filesystem;

class WebLogin : public SharedBrokerTest {
 protected:
  // A broker user (and the system account its sessions run as) with a known password.
  static Api WebUser(const std::string& name, const std::string& password) {
    test::EnsureUser(name);
    Api admin = AdminApi(*broker_);
    Reply added = admin.Call("POST", "/api/v1/users",
                             {{"name", name}, {"password", password}, {"role", "user"}});
    EXPECT_TRUE(added.status == 201 || added.status == 409) << added.raw;
    return Api(*broker_, Login(*broker_, name, password));
  }

  // Runs the page's `steps` (see login_page.mjs) as `user` against the suite's broker.
  static PageRun RunPage(const std::string& user, const std::string& password,
                         const std::string& steps, const std::vector<std::string>& env = {},
                         const std::string& label = "") {
    return RunLoginPage(*broker_, user, password, steps, env, label);
  }
};

// Without a browser: the page and noVNC come from the broker, nothing outside noVNC's directory.
TEST_F(WebLogin, ThePageAndNoVncAreServedByTheBroker) {
  Api anyone(*broker_);
  for (const char* path : {"/", "/login"}) {
    Reply page = anyone.CallRaw("GET", path, "");
    EXPECT_EQ(page.status, 200) << path;
    for (const char* id :
         {"id=\"username\"", "id=\"password\"", "id=\"login\"", "id=\"new-desktop\"",
          "id=\"disconnect\"", "id=\"clipboard\"", "id=\"status\"", "/web/moat-web.js"}) {
      EXPECT_NE(page.raw.find(id), std::string::npos) << path << " lacks " << id;
    }
  }
  EXPECT_EQ(anyone.CallRaw("GET", "/web/moat-web.js", "").status, 200);
  EXPECT_EQ(anyone.CallRaw("GET", "/web/moat-web.css", "").status, 200);
  Reply rfb = anyone.CallRaw("GET", "/novnc/core/rfb.js", "");
  ASSERT_EQ(rfb.status, 200) << rfb.raw.substr(0, 300);
  EXPECT_NE(rfb.raw.find("export default class RFB"), std::string::npos);
  for (const char* path : {"/novnc/../../etc/passwd", "/novnc/%2e%2e/%2e%2e/etc/passwd",
                           "/novnc/core%2f..%2f..%2f..%2fetc%2fpasswd", "/web/../moat.db"}) {
    Reply refused = anyone.CallRaw("GET", path, "");
    EXPECT_EQ(refused.status, 404) << path;
    EXPECT_EQ(refused.raw.find("root:"), std::string::npos) << path;
  }
}

TEST_F(WebLogin, AWrongPasswordShowsAnErrorAndNoSessionList) {
  SKIP_WITHOUT_BROWSER();
  WebUser("moat-e2e-web-wendy", "wendy-web-password");
  PageRun run = RunPage("moat-e2e-web-wendy", "wendy-web-password", "page,wrong-password");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(run.Shot("01-login-page")) << run.shots;
  EXPECT_TRUE(run.Shot("02-wrong-password")) << run.shots;
}

TEST_F(WebLogin, AGoodPasswordListsTheUsersSessions) {
  SKIP_WITHOUT_BROWSER();
  Api owner = WebUser("moat-e2e-web-olga", "olga-web-password");
  Reply created = owner.Call("POST", "/api/v1/sessions", Json::object({{"desktop", false}}));
  ASSERT_EQ(created.status, 201) << created.raw;
  std::string id = created.body["id"];

  PageRun own = RunPage("moat-e2e-web-olga", "olga-web-password", "page,login,sessions",
                        {"MOAT_EXPECT_SESSION=" + id});
  EXPECT_EQ(own.exit_code, 0) << own.output;
  EXPECT_TRUE(own.Shot("03-sessions")) << own.shots;

  // An admin sees the user's session too, to view read-only.
  PageRun admin = RunPage("admin", broker_->admin_password(), "login,sessions",
                          {"MOAT_EXPECT_SESSION=" + id, "MOAT_EXPECT_VIEW=1"}, "admin");
  EXPECT_EQ(admin.exit_code, 0) << admin.output;
  EXPECT_TRUE(admin.Shot("03-sessions")) << admin.shots;

  EXPECT_EQ(owner.Call("POST", "/api/v1/sessions/" + id + "/end").status, 200);
}

// The whole page against the display gateway: "New desktop" starts a desktop and connects to it
// over /api/v1/display; the canvas shows it; the clipboard box pastes; a command typed into the
// xterm writes a file in the user's home; closing the tab leaves the session running and a new
// login in a new tab gets the same desktop back with the file still there; an admin watches
// read-only beside the owner; Disconnect leaves the session running; a second login takes it
// over and the first page says so (4001); Log off ends it.
TEST_F(WebLogin, NewDesktopConnectsAndIsUsedInTheBrowser) {
  SKIP_WITHOUT_BROWSER();
  Api user = WebUser("moat-e2e-web-nina", "nina-web-password");
  std::string marker = test::HomeOf("moat-e2e-web-nina") + "/browser-marker";
  fs::remove(marker);
  fs::remove(marker + "-clipboard");
  PageRun run =
      RunPage("moat-e2e-web-nina", "nina-web-password",
              "page,login,sessions,new-desktop,connected,clipboard,type,reopen,shadow,"
              "disconnect,takeover,logoff",
              {"MOAT_ADMIN_USER=admin", "MOAT_ADMIN_PASSWORD=" + broker_->admin_password(),
               "MOAT_MARKER=" + marker});
  EXPECT_EQ(run.exit_code, 0) << run.output << broker_->log();
  // Every step's screenshot; the typed command ran as the user, in the session.
  std::string id = ExpectFullDesktopRun(run, marker, "moat-e2e-web-nina");
  if (HasFatalFailure()) return;

  // What the browser did is what the broker saw.
  Reply session = user.Call("GET", "/api/v1/sessions/" + id);
  ASSERT_EQ(session.status, 200) << session.raw;
  EXPECT_EQ(session.body["user"], "moat-e2e-web-nina");
  EXPECT_EQ(session.body["state"], "ended") << session.raw;
  Reply audit = AdminApi(*broker_).Call("GET", "/api/v1/audit?session=" + id + "&limit=100");
  ASSERT_EQ(audit.status, 200) << audit.raw;
  for (const char* kind : {"display.connected", "display.shadow_started", "display.disconnected"}) {
    EXPECT_NE(audit.raw.find(kind), std::string::npos) << kind << " not in " << audit.raw;
  }
}

}  // namespace
}  // namespace moat::e2e
