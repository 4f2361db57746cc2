#include "moatctl/exit_code.h"

namespace moat::ctl {
namespace {

class Category : public std::error_category {
 public:
  const char* name() const noexcept override { return "moatctl"; }
  std::string message(int value) const override {
    switch (static_cast<Exit>(value)) {
      case Exit::kOk:
        return "ok";
      case Exit::kRefused:
        return "refused by the broker";
      case Exit::kUsage:
        return "usage error";
      case Exit::kAuth:
        return "not logged in or token rejected";
      case Exit::kForbidden:
        return "forbidden";
      case Exit::kNotFound:
        return "not found";
      case Exit::kUnreachable:
        return "cannot reach the broker";
    }
    return "exit " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& ExitCategory() {
  static const Category category;
  return category;
}

int ExitStatusOf(const Error& error) {
  if (error.code().category() == ExitCategory() && error.code().value() != 0) {
    return error.code().value();
  }
  return static_cast<int>(Exit::kRefused);
}

Exit ExitForHttpStatus(int status) {
  if (status >= 200 && status < 300) return Exit::kOk;
  if (status == 401) return Exit::kAuth;
  if (status == 403) return Exit::kForbidden;
  if (status == 404) return Exit::kNotFound;
  if (status >= 500) return Exit::kUnreachable;
  return Exit::kRefused;
}

}  // namespace moat::ctl
