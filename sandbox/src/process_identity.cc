#include "process_identity.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace moat::sandbox {
namespace {

struct StatFields {
  char state = '?';
  uint64_t start_time = 0;
};

std::optional<StatFields> ReadStat(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;
  // comm may hold spaces and parentheses: fields resume after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  StatFields fields;
  rest >> fields.state;
  std::string skip;
  for (int field = 4; field < 22; ++field) rest >> skip;
  rest >> fields.start_time;
  return fields;
}

}  // namespace

std::optional<uint64_t> ProcessStartTime(pid_t pid) {
  auto fields = ReadStat(pid);
  if (!fields) return std::nullopt;
  return fields->start_time;
}

bool IsSameLiveProcess(pid_t pid, uint64_t start_time) {
  auto fields = ReadStat(pid);
  return fields && fields->state != 'Z' && fields->state != 'X' && fields->start_time == start_time;
}

}  // namespace moat::sandbox
