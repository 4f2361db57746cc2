// Strict readers for wire JSON: each names the full key path of a missing, unknown or
// wrongly typed value ("'body.samples[2].pids' must be a whole number >= 0").
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/wire/messages.h"

namespace moat::wire::internal {

using Json = nlohmann::json;

// "body" + "user" → "body.user"; "body.samples" + 2 → "body.samples[2]".
std::string Join(std::string_view where, std::string_view key);
std::string Index(std::string_view where, size_t index);

Status ExpectObject(const Json& value, std::string_view where);
Status RejectUnknownKeys(const Json& object, std::initializer_list<std::string_view> known,
                         std::string_view where);

// Required values: a missing key is an error.
Status Read(const Json& object, std::string_view key, std::string_view where, std::string& out);
Status Read(const Json& object, std::string_view key, std::string_view where, uint64_t& out);
Status Read(const Json& object, std::string_view key, std::string_view where, double& out);
Status Read(const Json& object, std::string_view key, std::string_view where, bool& out);
// Optional values: a missing key leaves `out` unset.
Status ReadOptional(const Json& object, std::string_view key, std::string_view where,
                    std::optional<double>& out);
Status ReadOptional(const Json& object, std::string_view key, std::string_view where,
                    std::optional<std::string>& out);
Status ReadOptional(const Json& object, std::string_view key, std::string_view where,
                    std::optional<uint64_t>& out);
// An array of strings at `key` (required).
Status Read(const Json& object, std::string_view key, std::string_view where,
            std::vector<std::string>& out);
// A limit: a whole number, or "max" for kUnlimitedValue / infinity.
Status ReadLimit(const Json& object, std::string_view key, std::string_view where,
                 std::optional<uint64_t>& out);
Status ReadLimit(const Json& object, std::string_view key, std::string_view where,
                 std::optional<double>& out);
// The array at `key` (required), for the caller to walk.
Result<const Json*> ReadArray(const Json& object, std::string_view key, std::string_view where);

// [a-z0-9][a-z0-9-]{0,31}: the sandbox's session id rule.
Status CheckSessionId(const std::string& id, std::string_view where);
Status CheckNotEmpty(const std::string& value, std::string_view where);

// "sandbox" or "vm" (defined with the session messages).
Result<Backend> ReadBackend(const Json& object, std::string_view key, std::string_view where);

}  // namespace moat::wire::internal
