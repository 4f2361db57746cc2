// A VM desktop in the browser: the web login page in Debian's Chromium (login_page.mjs, the
// sandbox test's steps) against a real broker whose policy gives the user VM sessions. "New
// desktop" boots a QEMU guest with its desktop; noVNC reaches it through /api/v1/display; a
// command typed into the xterm writes a marker into the home; the tab closes and a new login
// gets the same desktop back with the marker there; disconnect, takeover (close code 4001) and
// log off work as for a sandbox. Screenshots in <build>/tests/e2e/web-shots/<test name>/.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "broker_harness.h"
#include "browser_page.h"
#include "test_support.h"
#include "vm_guest_fixture.h"

namespace moat::e2e {
namespace {

class VmBrowserTest : public VmGuestTest {};

TEST_F(VmBrowserTest, NewVmDesktopIsUsedAndReconnectedInTheBrowser) {
  SKIP_WITHOUT_VM_GUEST();
  SKIP_WITHOUT_BROWSER();
  BrokerProcess broker;
  broker.Start();
  const std::string name = "moat-e2e-web-vm";
  Api user = MakeUser(broker, name, "user");
  Api admin = AdminApi(broker);
  ASSERT_EQ(admin
                .Call("PUT", "/api/v1/policies",
                      {{"scope", "user"}, {"subject", name}, {"key", "backend"}, {"value", "vm"}})
                .status,
            204);
  std::string marker = test::HomeOf(name) + "/browser-vm-marker";
  std::filesystem::remove(marker);
  std::filesystem::remove(marker + "-clipboard");

  // The sandbox's steps, `shadow` (an admin's browser on a watcher's port) included. A VM
  // boots in "new-desktop", and under TCG keys reach the xterm more slowly.
  PageRun run =
      RunLoginPage(broker, name, "pw-" + name + "-secret",
                   "page,login,sessions,new-desktop,connected,clipboard,type,reopen,"
                   "shadow,disconnect,takeover,logoff",
                   {"MOAT_ADMIN_USER=admin", "MOAT_ADMIN_PASSWORD=" + broker.admin_password(),
                    "MOAT_MARKER=" + marker, "MOAT_CONNECT_TIMEOUT_MS=60000"});
  EXPECT_EQ(run.exit_code, 0) << run.output << broker.log();
  std::printf("%s", run.output.c_str());  // one line per step, with its time
  // Every step's screenshot; the typed command ran as the user, in the guest (the home over 9p).
  std::string id = ExpectFullDesktopRun(run, marker, name);
  if (HasFatalFailure()) return;

  // It was a VM, and Log off ended it: no QEMU, no socket, no wall.
  Reply session = user.Call("GET", "/api/v1/sessions/" + id);
  ASSERT_EQ(session.status, 200) << session.raw;
  EXPECT_EQ(session.body["backend"], "vm") << session.raw;
  EXPECT_EQ(session.body["state"], "ended") << session.raw;
  EXPECT_EQ(QemuPidFor(id), 0);
  EXPECT_FALSE(std::filesystem::exists(broker.run_dir() + "/sessions/" + id));
  Reply audit = admin.Call("GET", "/api/v1/audit?session=" + id + "&limit=100");
  ASSERT_EQ(audit.status, 200) << audit.raw;
  for (const char* kind : {"display.connected", "display.disconnected", "display.takeover",
                           "display.shadow_started", "display.shadow_ended"}) {
    EXPECT_NE(audit.raw.find(kind), std::string::npos) << kind << " not in " << audit.raw;
  }
  std::filesystem::remove(marker);
  std::filesystem::remove(marker + "-clipboard");
}

}  // namespace
}  // namespace moat::e2e
