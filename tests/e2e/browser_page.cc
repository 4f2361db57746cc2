#include "browser_page.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace moat::e2e {

namespace fs = std::filesystem;

namespace {
constexpr const char* kChromium = "/usr/bin/chromium";
}  // namespace

std::string MissingBrowserTools() {
  if (!fs::exists(kChromium)) {
    return "Debian's chromium is not installed (scripts/install-deps.sh installs it)";
  }
  if (!fs::exists(std::string(MOAT_BROWSER_TESTS_DIR) +
                  "/node_modules/playwright-core/package.json")) {
    return "tests/e2e/browser/node_modules is missing (scripts/install-deps.sh runs npm ci there)";
  }
  if (test::RunCommand({"node", "--version"}).exit_code != 0) return "node is not installed";
  return "";
}

PageRun RunLoginPage(const BrokerProcess& broker, const std::string& user,
                     const std::string& password, const std::string& steps,
                     const std::vector<std::string>& env, const std::string& label) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  PageRun run;
  run.shots = std::string(MOAT_WEB_SHOTS_DIR) + "/" + test->name();
  if (!label.empty()) run.shots += "/" + label;
  fs::remove_all(run.shots);
  fs::create_directories(run.shots);
  std::vector<std::string> argv = {"env",
                                   "MOAT_URL=" + broker.url(),
                                   "MOAT_USER=" + user,
                                   "MOAT_PASSWORD=" + password,
                                   "MOAT_SHOTS=" + run.shots,
                                   "MOAT_STEPS=" + steps};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back("node");
  argv.push_back(std::string(MOAT_BROWSER_TESTS_DIR) + "/login_page.mjs");
  test::CommandResult result = test::RunCommand(argv, 240);
  run.exit_code = result.exit_code;
  run.output = result.out + result.err;
  run.result = Json::parse(test::ReadFile(run.shots + "/result.json"), nullptr, false);
  return run;
}

}  // namespace moat::e2e
