#include "moat/common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "moat/common/unique_fd.h"

namespace moat {

Result<std::string> ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrnoError("open", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content, mode_t mode) {
  std::string temporary = path.string() + ".tmp";
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return Fail(ErrnoError("open", temporary));
  if (::fchmod(fd.get(), mode) != 0) return Fail(ErrnoError("fchmod", temporary));
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError("write", temporary));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return Fail(ErrnoError("fsync", temporary));
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return Fail(ErrnoError("rename", path.string()));
  }
  return {};
}

}  // namespace moat
