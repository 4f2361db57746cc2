#include "wire/json_read.h"

#include <algorithm>
#include <limits>

namespace moat::wire::internal {
namespace {

Error WrongType(std::string_view path, std::string_view wanted) {
  return InvalidArgument("'" + std::string(path) + "' must be " + std::string(wanted));
}

Result<const Json*> Find(const Json& object, std::string_view key, std::string_view where,
                         bool required) {
  auto it = object.find(key);
  if (it == object.end()) {
    if (required) return Fail(InvalidArgument("missing '" + Join(where, key) + "'"));
    return static_cast<const Json*>(nullptr);
  }
  return &*it;
}

}  // namespace

std::string Join(std::string_view where, std::string_view key) {
  if (where.empty()) return std::string(key);
  return std::string(where) + "." + std::string(key);
}

std::string Index(std::string_view where, size_t index) {
  return std::string(where) + "[" + std::to_string(index) + "]";
}

Status ExpectObject(const Json& value, std::string_view where) {
  if (!value.is_object()) return Fail(WrongType(where, "an object"));
  return {};
}

Status RejectUnknownKeys(const Json& object, std::initializer_list<std::string_view> known,
                         std::string_view where) {
  for (const auto& [key, value] : object.items()) {
    (void)value;
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Fail(InvalidArgument("unknown key '" + Join(where, key) + "'"));
    }
  }
  return {};
}

Status Read(const Json& object, std::string_view key, std::string_view where, std::string& out) {
  MOAT_TRY(const Json* value, Find(object, key, where, true));
  if (!value->is_string()) return Fail(WrongType(Join(where, key), "a string"));
  out = value->get<std::string>();
  return {};
}

Status Read(const Json& object, std::string_view key, std::string_view where, uint64_t& out) {
  MOAT_TRY(const Json* value, Find(object, key, where, true));
  if (!value->is_number_unsigned()) return Fail(WrongType(Join(where, key), "a whole number >= 0"));
  out = value->get<uint64_t>();
  return {};
}

Status Read(const Json& object, std::string_view key, std::string_view where, double& out) {
  MOAT_TRY(const Json* value, Find(object, key, where, true));
  if (!value->is_number()) return Fail(WrongType(Join(where, key), "a number"));
  out = value->get<double>();
  return {};
}

Status Read(const Json& object, std::string_view key, std::string_view where, bool& out) {
  MOAT_TRY(const Json* value, Find(object, key, where, true));
  if (!value->is_boolean()) return Fail(WrongType(Join(where, key), "true or false"));
  out = value->get<bool>();
  return {};
}

Status ReadOptional(const Json& object, std::string_view key, std::string_view where,
                    std::optional<double>& out) {
  MOAT_TRY(const Json* value, Find(object, key, where, false));
  if (!value) return {};
  if (!value->is_number()) return Fail(WrongType(Join(where, key), "a number"));
  out = value->get<double>();
  return {};
}

Status ReadOptional(const Json& object, std::string_view key, std::string_view where,
                    std::optional<std::string>& out) {
  MOAT_TRY(const Json* value, Find(object, key, where, false));
  if (!value) return {};
  if (!value->is_string()) return Fail(WrongType(Join(where, key), "a string"));
  out = value->get<std::string>();
  return {};
}

Status ReadOptional(const Json& object, std::string_view key, std::string_view where,
                    std::optional<uint64_t>& out) {
  MOAT_TRY(const Json* value, Find(object, key, where, false));
  if (!value) return {};
  if (!value->is_number_unsigned()) return Fail(WrongType(Join(where, key), "a whole number >= 0"));
  out = value->get<uint64_t>();
  return {};
}

Status Read(const Json& object, std::string_view key, std::string_view where,
            std::vector<std::string>& out) {
  MOAT_TRY(const Json* value, Find(object, key, where, true));
  if (!value->is_array()) return Fail(WrongType(Join(where, key), "an array of strings"));
  std::vector<std::string> items;
  items.reserve(value->size());
  for (size_t i = 0; i < value->size(); ++i) {
    const Json& item = (*value)[i];
    if (!item.is_string()) return Fail(WrongType(Index(Join(where, key), i), "a string"));
    items.push_back(item.get<std::string>());
  }
  out = std::move(items);
  return {};
}

Status ReadLimit(const Json& object, std::string_view key, std::string_view where,
                 std::optional<uint64_t>& out) {
  MOAT_TRY(const Json* value, Find(object, key, where, false));
  if (!value) return {};
  if (value->is_string() && value->get<std::string>() == "max") {
    out = std::numeric_limits<uint64_t>::max();
    return {};
  }
  if (!value->is_number_unsigned()) {
    return Fail(WrongType(Join(where, key), "a whole number >= 0 or \"max\""));
  }
  out = value->get<uint64_t>();
  return {};
}

Status ReadLimit(const Json& object, std::string_view key, std::string_view where,
                 std::optional<double>& out) {
  MOAT_TRY(const Json* value, Find(object, key, where, false));
  if (!value) return {};
  if (value->is_string() && value->get<std::string>() == "max") {
    out = std::numeric_limits<double>::infinity();
    return {};
  }
  if (!value->is_number() || value->get<double>() < 0) {
    return Fail(WrongType(Join(where, key), "a number >= 0 or \"max\""));
  }
  out = value->get<double>();
  return {};
}

Result<const Json*> ReadArray(const Json& object, std::string_view key, std::string_view where) {
  MOAT_TRY(const Json* value, Find(object, key, where, true));
  if (!value->is_array()) return Fail(WrongType(Join(where, key), "an array"));
  return value;
}

Status CheckSessionId(const std::string& id, std::string_view where) {
  bool ok = !id.empty() && id.size() <= 32 && id[0] != '-';
  for (char c : id) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok) {
    return Fail(InvalidArgument("'" + std::string(where) + "' must match [a-z0-9][a-z0-9-]{0,31}"));
  }
  return {};
}

Status CheckNotEmpty(const std::string& value, std::string_view where) {
  if (value.empty()) return Fail(InvalidArgument("'" + std::string(where) + "' must not be empty"));
  return {};
}

}  // namespace moat::wire::internal
