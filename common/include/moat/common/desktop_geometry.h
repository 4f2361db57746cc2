// A desktop's size and colour depth as Xvnc takes them, checked the same way wherever they come
// from: the agent link, the API and the policies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "moat/common/error.h"

namespace moat {

// "WIDTHxHEIGHT" with each side 320..8192: what Xvnc takes for -geometry, and nothing else.
inline Status CheckDesktopGeometry(const std::string& geometry, std::string_view where) {
  auto bad = [&] {
    return Fail(InvalidArgument("'" + std::string(where) +
                                "' must be WIDTHxHEIGHT, each 320..8192, not '" + geometry + "'"));
  };
  size_t x = geometry.find('x');
  if (x == std::string::npos || x == 0 || x + 1 == geometry.size() || x > 4 ||
      geometry.size() - x - 1 > 4) {
    return bad();
  }
  auto side = [](std::string_view digits) -> uint64_t {
    uint64_t value = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return 0;
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    return value;
  };
  std::string_view text(geometry);
  for (uint64_t value : {side(text.substr(0, x)), side(text.substr(x + 1))}) {
    if (value < 320 || value > 8192) return bad();
  }
  return {};
}

inline Status CheckDesktopDepth(int64_t depth, std::string_view where) {
  if (depth == 16 || depth == 24) return {};
  return Fail(InvalidArgument("'" + std::string(where) + "' must be 16 or 24, not " +
                              std::to_string(depth)));
}

}  // namespace moat
