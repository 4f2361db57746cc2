// Errors as values: every fallible call at a system boundary returns Result<T>.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>
#include <tl/expected.hpp>
#include <utility>

namespace moat {

class Error {
 public:
  Error() = default;
  Error(std::error_code code, std::string message) : code_(code), message_(std::move(message)) {}

  const std::error_code& code() const { return code_; }
  const std::string& message() const { return message_; }

  // crun-style context: "create cgroup: write 'memory.max': Device or resource busy".
  [[nodiscard]] Error Wrap(std::string_view context) const& {
    return Error(code_, std::string(context) + ": " + message_);
  }
  [[nodiscard]] Error Wrap(std::string_view context) && {
    message_.insert(0, std::string(context) + ": ");
    return std::move(*this);
  }

 private:
  std::error_code code_;
  std::string message_;
};

template <typename T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

// "open '/etc/x': No such file or directory" from the call, the object and an errno value.
inline Error ErrnoError(std::string_view call, std::string_view object, int err = errno) {
  std::string message(call);
  if (!object.empty()) {
    message += " '";
    message += object;
    message += "'";
  }
  message += ": ";
  message += std::generic_category().message(err);
  return Error(std::error_code(err, std::generic_category()), std::move(message));
}

// An error that is not an errno: bad input, a broken invariant, a protocol violation.
inline Error InvalidArgument(std::string message) {
  return Error(std::make_error_code(std::errc::invalid_argument), std::move(message));
}

inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }
inline tl::unexpected<Error> FailErrno(std::string_view call, std::string_view object,
                                       int err = errno) {
  return tl::unexpected<Error>(ErrnoError(call, object, err));
}

}  // namespace moat

#define MOAT_CONCAT_INNER(a, b) a##b
#define MOAT_CONCAT(a, b) MOAT_CONCAT_INNER(a, b)

// MOAT_TRY(auto x, Expr()) binds the value or returns the error from the enclosing function.
#define MOAT_TRY(decl, expr) MOAT_TRY_IMPL(decl, expr, MOAT_CONCAT(moat_try_, __LINE__))
#define MOAT_TRY_IMPL(decl, expr, tmp)                                      \
  auto tmp = (expr);                                                        \
  if (!tmp) return ::tl::unexpected<::moat::Error>(std::move(tmp).error()); \
  decl = std::move(*tmp)

#define MOAT_TRY_VOID(expr) MOAT_TRY_VOID_IMPL(expr, MOAT_CONCAT(moat_try_, __LINE__))
#define MOAT_TRY_VOID_IMPL(expr, tmp)                                         \
  do {                                                                        \
    auto tmp = (expr);                                                        \
    if (!tmp) return ::tl::unexpected<::moat::Error>(std::move(tmp).error()); \
  } while (0)

// Same, but prefixes context to the error on the way out.
#define MOAT_TRY_CTX(decl, expr, ctx) \
  MOAT_TRY_CTX_IMPL(decl, expr, ctx, MOAT_CONCAT(moat_try_, __LINE__))
#define MOAT_TRY_CTX_IMPL(decl, expr, ctx, tmp)                                       \
  auto tmp = (expr);                                                                  \
  if (!tmp) return ::tl::unexpected<::moat::Error>(std::move(tmp).error().Wrap(ctx)); \
  decl = std::move(*tmp)
#define MOAT_TRY_VOID_CTX(expr, ctx) \
  MOAT_TRY_VOID_CTX_IMPL(expr, ctx, MOAT_CONCAT(moat_try_, __LINE__))
#define MOAT_TRY_VOID_CTX_IMPL(expr, ctx, tmp)                                          \
  do {                                                                                  \
    auto tmp = (expr);                                                                  \
    if (!tmp) return ::tl::unexpected<::moat::Error>(std::move(tmp).error().Wrap(ctx)); \
  } while (0)
