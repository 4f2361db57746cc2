// Whole-file reads and atomic writes for the small files Moat keeps (certificates, keys, the
// admin's first password, the agent's link URL).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "moat/common/error.h"

namespace moat {

Result<std::string> ReadWholeFile(const std::filesystem::path& path);

// Writes `content` to a temporary file beside `path` with `mode`, fsyncs it and renames it over
// `path`: readers see the old file or the new one, never a part.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content, mode_t mode);

}  // namespace moat
