#include "resource_support.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace moat::test {

nlohmann::json Stats(const Sandbox& sandbox, const std::string& id, const std::string& app) {
  std::vector<std::string> args = {"stats", id, "--json"};
  if (!app.empty()) args.insert(args.begin() + 2, {"--app", app});
  auto r = sandbox.Cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "stats output is not JSON: " << r.out;
    return nlohmann::json::object();
  }
}

double MeasureCpuPercent(const Sandbox& sandbox, const std::string& id, double seconds,
                         const std::string& app) {
  auto before = Stats(sandbox, id, app);
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  auto after = Stats(sandbox, id, app);
  double elapsed_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  double used = after.value("cpu_usage_us", 0.0) - before.value("cpu_usage_us", 0.0);
  return 100.0 * used / elapsed_us;
}

double ScaledSeconds(double seconds) {
  const char* scale = std::getenv("MOAT_TEST_TIME_SCALE");
  return scale ? seconds * std::strtod(scale, nullptr) : seconds;
}

}  // namespace moat::test
