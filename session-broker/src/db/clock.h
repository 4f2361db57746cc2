// Time for the stores: unix seconds, injectable so tests can move it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace moat::broker::db {

using Clock = std::function<std::int64_t()>;

inline Clock SystemClock() {
  return [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

}  // namespace moat::broker::db
