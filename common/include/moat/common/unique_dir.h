// An open directory stream that closes itself (closedir also closes the fd fdopendir took).
#pragma once

#include <dirent.h>

#include <memory>

namespace moat {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

}  // namespace moat
