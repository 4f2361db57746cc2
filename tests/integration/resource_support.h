// Helpers for the resource-control tests: read a session's counters through the CLI.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "test_support.h"

namespace moat::test {

// `moat-sandbox stats ID [--app N] --json`, parsed; fails the test on error.
nlohmann::json Stats(const Sandbox& sandbox, const std::string& id, const std::string& app = "");
// CPU used by the session (or app) over `seconds`, as percent of one core.
double MeasureCpuPercent(const Sandbox& sandbox, const std::string& id, double seconds,
                         const std::string& app = "");

// How long CPU measurements run: scaled up by MOAT_TEST_TIME_SCALE (e.g. 7 under TCG), so
// that slower machines get the same statistical footing; tolerances never scale.
double ScaledSeconds(double seconds);

}  // namespace moat::test
