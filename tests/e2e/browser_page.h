// Runs the web login page in Debian's Chromium: tests/e2e/browser/login_page.mjs
// (playwright-core) against a real broker. Shared by the sandbox and the VM browser tests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "broker_harness.h"

namespace moat::e2e {

// Why the browser cannot be driven here, or "" when it can.
std::string MissingBrowserTools();

#define SKIP_WITHOUT_BROWSER()                                                      \
  do {                                                                              \
    if (std::string why = MissingBrowserTools(); !why.empty()) GTEST_SKIP() << why; \
  } while (0)

struct PageRun {
  int exit_code = -1;
  std::string output;
  std::string shots;
  Json result;  // login_page.mjs's result.json: {"session", "steps"}
  bool Shot(const std::string& name) const {
    return std::filesystem::exists(shots + "/" + name + ".png");
  }
};

// Runs the page's `steps` (see login_page.mjs) as `user` against `broker`; `env` adds
// MOAT_*=… settings. Screenshots in web-shots/<test name>, or web-shots/<test name>/<label>
// for a test's second browser run.
PageRun RunLoginPage(const BrokerProcess& broker, const std::string& user,
                     const std::string& password, const std::string& steps,
                     const std::vector<std::string>& env = {}, const std::string& label = "");

// The checks of a full run of the page's steps (new desktop to log off): every step's
// screenshot is there, and the command typed into the desktop's xterm wrote `marker` as
// `user`. Returns the session's id ("" after a fatal failure).
std::string ExpectFullDesktopRun(const PageRun& run, const std::string& marker,
                                 const std::string& user);

}  // namespace moat::e2e
