// A command's own arguments: flags (`--name VALUE`, `--name=VALUE`, switches), positionals, and
// everything after `--` untouched. Unknown flags and missing values are usage errors.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moat/common/error.h"

namespace moat::ctl {

struct FlagSpec {
  std::string name;  // without dashes: "user" for --user
  bool takes_value = false;
};

class Args {
 public:
  // `command` names the command in messages ("sessions ls").
  [[nodiscard]] static Result<Args> Parse(std::string command, const std::vector<std::string>& args,
                                          const std::vector<FlagSpec>& specs);

  bool Has(std::string_view flag) const;
  std::optional<std::string> Value(std::string_view flag) const;  // the last one given
  std::vector<std::string> Values(std::string_view flag) const;   // all, in order
  const std::vector<std::string>& positional() const { return positional_; }
  const std::vector<std::string>& after_dashes() const { return after_dashes_; }
  bool help() const { return help_; }

  // Exactly `min` to `max` positionals, else a usage error that names `what`.
  [[nodiscard]] Status ExpectPositional(size_t min, size_t max, std::string_view what) const;
  // A whole number in [low, high] from flag `flag`, if given.
  [[nodiscard]] Result<std::optional<int64_t>> Integer(std::string_view flag, int64_t low,
                                                       int64_t high) const;

 private:
  std::string command_;
  std::map<std::string, std::vector<std::string>, std::less<>> flags_;
  std::vector<std::string> positional_;
  std::vector<std::string> after_dashes_;
  bool help_ = false;
};

// A whole number in [low, high], or a usage error naming `what`.
[[nodiscard]] Result<int64_t> ParseInteger(std::string_view text, int64_t low, int64_t high,
                                           std::string_view what);

}  // namespace moat::ctl
