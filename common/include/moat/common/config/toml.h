// TOML config files: load, read typed values, reject unknown keys. Every error names the file,
// the line and the column ("/etc/moat/broker.toml:12:9: 'listen.port' must be an integer, not
// a string") so an operator can go straight to it. Nothing here knows any part's options.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moat/common/error.h"

namespace moat::config {

Result<toml::table> LoadTomlFile(const std::filesystem::path& path);
// `source_name` stands in for the file name in positions.
Result<toml::table> ParseToml(std::string_view text, std::string_view source_name);

// Typed getters take a dotted key path ("listen.port", "hosts[0].name"). An absent key yields
// std::nullopt; a value of another type is an error naming the key path and its position.
Result<std::optional<std::string>> GetString(const toml::table& table, std::string_view path);
Result<std::optional<int64_t>> GetInteger(const toml::table& table, std::string_view path);
// Integers are accepted as floats ("cpu = 2" for "cpu = 2.0").
Result<std::optional<double>> GetFloat(const toml::table& table, std::string_view path);
Result<std::optional<bool>> GetBool(const toml::table& table, std::string_view path);
Result<std::optional<std::vector<std::string>>> GetStringArray(const toml::table& table,
                                                               std::string_view path);
// A sub-table; an absent one is std::nullopt, a non-table an error.
Result<std::optional<const toml::table*>> GetTable(const toml::table& table, std::string_view path);

// An integer in [min, max], e.g. a port in [1, 65535]. The error says the range.
Result<std::optional<int64_t>> GetIntegerInRange(const toml::table& table, std::string_view path,
                                                 int64_t min, int64_t max);

// The first key of `table` not in `known`, as an error with its position; `prefix` is the
// table's own key path ("" for the root, "listen" for [listen]) so the error names the full
// path. Typos in config files then fail loudly instead of silently keeping a default.
Status RejectUnknownKeys(const toml::table& table, std::span<const std::string_view> known,
                         std::string_view prefix = {});

// "FILE:LINE:COLUMN" of a node or key, or "<unknown position>".
std::string Position(const toml::source_region& source);

}  // namespace moat::config
