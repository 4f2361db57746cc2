#include "cgroup_usage_parse.h"

#include <sstream>

namespace moat::sandbox {

void AddV1BlkioTotals(std::string_view text, uint64_t& read, uint64_t& write) {
  // Lines "MAJ:MIN Read N"; sampled every second for every session, so no streams here.
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    size_t space = line.find(' ');
    if (space != std::string_view::npos) {
      std::string_view rest = line.substr(space + 1);
      uint64_t* target = rest.starts_with("Read ")    ? &read
                         : rest.starts_with("Write ") ? &write
                                                      : nullptr;
      if (target != nullptr) {
        uint64_t value = 0;
        for (char c : rest.substr(rest.find(' ') + 1)) {
          if (c < '0' || c > '9') break;
          value = value * 10 + static_cast<uint64_t>(c - '0');
        }
        *target += value;
      }
    }
    pos = end + 1;
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
