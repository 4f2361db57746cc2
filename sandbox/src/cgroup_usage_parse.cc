#include "cgroup_usage_parse.h"

#include <sstream>

namespace moat::sandbox {

void AddV1BlkioTotals(const std::string& text, uint64_t& read, uint64_t& write) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string device, op;
    uint64_t value = 0;
    if (!(words >> device >> op >> value)) continue;
    if (op == "Read") read += value;
    if (op == "Write") write += value;
  }
}

IoTotals ParseV2IoStat(const std::string& text) {
  IoTotals totals;
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    auto eq = word.find('=');
    if (eq == std::string::npos) continue;
    std::string key = word.substr(0, eq);
    uint64_t value = std::strtoull(word.c_str() + eq + 1, nullptr, 10);
    if (key == "rbytes") totals.read_bytes += value;
    if (key == "wbytes") totals.write_bytes += value;
    if (key == "rios") totals.read_ops += value;
    if (key == "wios") totals.write_ops += value;
  }
  return totals;
}

std::optional<double> ParsePressureAvg10(const std::string& text, const std::string& kind) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(kind + " ", 0) != 0) continue;
    auto pos = line.find("avg10=");
    if (pos == std::string::npos) return std::nullopt;
    return std::strtod(line.c_str() + pos + 6, nullptr);
  }
  return std::nullopt;
}

}  // namespace moat::sandbox
