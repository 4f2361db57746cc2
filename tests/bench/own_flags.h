// A benchmark's own integer flags (--bench_NAME=N), taken out of argv before Google Benchmark
// sees it, so that its unknown-flag check still catches typos.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>

namespace moat::bench {

// `flags` maps "--bench_x=" to where its value goes; values below 1 become 1.
inline void TakeOwnFlags(int& argc, char** argv, const std::map<std::string, int*>& flags) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool taken = false;
    for (const auto& [prefix, value] : flags) {
      if (arg.rfind(prefix, 0) == 0) {
        *value = std::max(1, std::atoi(arg.c_str() + prefix.size()));
        taken = true;
      }
    }
    if (!taken) argv[out++] = argv[i];
  }
  argc = out;
}

}  // namespace moat::bench
