#include "moatctl/password.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "moat/common/scope_guard.h"
#include "moatctl/exit_code.h"

namespace moat::ctl {
namespace {

std::string StripLineEnd(std::string line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

Result<std::string> ReadLineFromStdin() {
  std::string line;
  if (!std::getline(std::cin, line) && line.empty()) {
    return UsageError("no password on stdin (--password-stdin reads its first line)");
  }
  return StripLineEnd(std::move(line));
}

Result<std::string> PromptNoEcho(std::string_view prompt) {
  std::fprintf(stderr, "%.*s", static_cast<int>(prompt.size()), prompt.data());
  std::fflush(stderr);
  termios saved{};
  if (::tcgetattr(STDIN_FILENO, &saved) != 0) return FailErrno("tcgetattr", "stdin");
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;
  if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) return FailErrno("tcsetattr", "stdin");
  ScopeGuard restore([&] { ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved); });
  return ReadLineFromStdin();
}

}  // namespace

Result<std::string> ReadPassword(bool from_stdin, std::string_view prompt, bool confirm) {
  if (from_stdin) {
    MOAT_TRY(std::string password, ReadLineFromStdin());
    if (password.empty()) return UsageError("the password on stdin is empty");
    return password;
  }
  if (!::isatty(STDIN_FILENO)) {
    return UsageError("stdin is not a terminal: give the password on stdin with --password-stdin");
  }
  MOAT_TRY(std::string password, PromptNoEcho(prompt));
  if (password.empty()) return UsageError("no password given");
  if (confirm) {
    MOAT_TRY(std::string again, PromptNoEcho("Again: "));
    if (again != password) return UsageError("the passwords differ");
  }
  return password;
}

}  // namespace moat::ctl
