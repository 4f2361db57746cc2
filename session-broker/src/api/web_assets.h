// The files of session-broker/web/ (the web login page), built into moat-broker: the build
// generates their definition (web_assets.cc in the build tree) with session-broker/web/embed.cmake.
#pragma once

#include <span>
#include <string_view>

namespace moat::broker::api {

struct WebAsset {
  std::string_view name;  // "index.html", "moat-web.js"
  std::string_view body;
};

std::span<const WebAsset> WebAssets();

}  // namespace moat::broker::api
