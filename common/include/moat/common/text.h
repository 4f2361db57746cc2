// Small text files (/proc, /sys, cgroup and state files, kernel command lines) read and split
// without iostreams. moat-init is linked statically and runs as every session's PID 1: <fstream>
// and <sstream> bring libstdc++'s locale machinery with them, about 1 MiB of a 2.3 MiB binary that
// a VM guest keeps in memory whole, and its start-up under TCG.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"

namespace moat::text {

// The whole file (small ones: /proc, /sys, cgroup and state files); the failing call and errno
// otherwise.
inline Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open", path);
  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read", path);
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

// The first line of a file, without its newline; "" when it cannot be read.
inline std::string ReadFirstLine(const std::string& path) {
  std::string text = ReadFile(path).value_or("");
  return text.substr(0, text.find('\n'));
}

// Pieces of `text` between `separator`s (each line, for '\n'); empty pieces are dropped.
inline std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> pieces;
  while (!text.empty()) {
    size_t end = text.find(separator);
    std::string_view piece = text.substr(0, end);
    if (!piece.empty()) pieces.push_back(piece);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return pieces;
}

// Words separated by blanks (spaces, tabs, newlines), as `in >> word` reads them.
inline std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  constexpr std::string_view kBlanks = " \t\n\r\v\f";
  for (;;) {
    size_t start = text.find_first_not_of(kBlanks);
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    size_t end = text.find_first_of(kBlanks);
    words.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end);
  }
  return words;
}

// A whole word as an unsigned decimal number; nullopt for anything else.
inline std::optional<uint64_t> ParseUnsigned(std::string_view word) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (error != std::errc() || end != word.data() + word.size()) return std::nullopt;
  return value;
}

}  // namespace moat::text
