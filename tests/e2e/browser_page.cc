#include "browser_page.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

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

namespace {

void ExpectShotsAndMarker(const PageRun& run, const std::string& marker, const std::string& user,
                          std::string* id) {
  ASSERT_TRUE(run.result.is_object()) << run.shots;
  ASSERT_TRUE(run.result["session"].is_string()) << run.result.dump();
  *id = run.result["session"];
  for (const char* shot :
       {"04-new-desktop", "05-desktop", "05b-typed", "05c-reopened-list", "05d-same-desktop",
        "06-shadow", "07-disconnected", "08-taken-over", "09-logged-off"}) {
    EXPECT_TRUE(run.Shot(shot)) << shot << " in " << run.shots;
  }
  std::ifstream typed(marker);
  std::string text;
  std::getline(typed, text);
  EXPECT_EQ(text, "typed-in-chromium") << marker;
  struct stat owner {};
  ASSERT_EQ(::stat(marker.c_str(), &owner), 0) << marker;
  EXPECT_EQ(owner.st_uid, test::UidOf(user));
}

}  // namespace

std::string ExpectFullDesktopRun(const PageRun& run, const std::string& marker,
                                 const std::string& user) {
  std::string id;
  ExpectShotsAndMarker(run, marker, user, &id);
  return id;
}

}  // namespace moat::e2e
