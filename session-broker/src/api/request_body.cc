#include "api/request_body.h"

#include <cmath>

namespace moat::broker::api {
namespace {

Error WrongType(std::string_view key, std::string_view expected) {
  return InvalidArgument("'" + std::string(key) + "' must be " + std::string(expected));
}

}  // namespace

Result<RequestBody> RequestBody::Parse(const http::HttpRequest& request,
                                       std::initializer_list<std::string_view> known,
                                       bool empty_ok) {
  if (request.body.empty()) {
    if (empty_ok) return RequestBody(wire::Json::object());
    return Fail(InvalidArgument("this request needs a JSON object body"));
  }
  wire::Json json = wire::Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return Fail(
        Error(std::make_error_code(std::errc::bad_message), "the request body is not valid JSON"));
  }
  if (!json.is_object()) return Fail(InvalidArgument("the request body must be a JSON object"));
  for (const auto& [key, value] : json.items()) {
    bool allowed = false;
    for (auto k : known) allowed = allowed || k == key;
    if (!allowed) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return Fail(InvalidArgument("unknown field '" + key +
                                  "' (known: " + (list.empty() ? "none" : list) + ")"));
    }
  }
  return RequestBody(std::move(json));
}

const wire::Json* RequestBody::Get(std::string_view key) const {
  auto it = json_.find(key);
  return it == json_.end() ? nullptr : &*it;
}

Result<std::optional<std::string>> RequestBody::String(std::string_view key,
                                                       std::size_t max_length) const {
  const wire::Json* value = Get(key);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->is_string()) return Fail(WrongType(key, "a string"));
  std::string text = value->get<std::string>();
  if (text.size() > max_length) {
    return Fail(InvalidArgument("'" + std::string(key) + "' is longer than " +
                                std::to_string(max_length) + " bytes"));
  }
  return std::optional<std::string>(std::move(text));
}

Result<std::string> RequestBody::RequiredString(std::string_view key,
                                                std::size_t max_length) const {
  MOAT_TRY(auto value, String(key, max_length));
  if (!value) return Fail(InvalidArgument("'" + std::string(key) + "' is required"));
  return std::move(*value);
}

Result<std::optional<std::int64_t>> RequestBody::Integer(std::string_view key, std::int64_t min,
                                                         std::int64_t max) const {
  const wire::Json* value = Get(key);
  if (value == nullptr) return std::optional<std::int64_t>();
  if (!value->is_number_integer()) return Fail(WrongType(key, "a whole number"));
  // Unsigned values beyond int64 arrive as number_unsigned; compare in a wide type.
  if (value->is_number_unsigned() &&
      value->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    return Fail(InvalidArgument("'" + std::string(key) + "' must be " + std::to_string(min) +
                                " to " + std::to_string(max)));
  }
  std::int64_t number = value->get<std::int64_t>();
  if (number < min || number > max) {
    return Fail(InvalidArgument("'" + std::string(key) + "' must be " + std::to_string(min) +
                                " to " + std::to_string(max)));
  }
  return std::optional<std::int64_t>(number);
}

Result<std::optional<double>> RequestBody::Number(std::string_view key, double min,
                                                  double max) const {
  const wire::Json* value = Get(key);
  if (value == nullptr) return std::optional<double>();
  if (!value->is_number()) return Fail(WrongType(key, "a number"));
  double number = value->get<double>();
  if (!std::isfinite(number) || number < min || number > max) {
    return Fail(InvalidArgument("'" + std::string(key) + "' must be a number from " +
                                std::to_string(min) + " to " + std::to_string(max)));
  }
  return std::optional<double>(number);
}

Result<std::optional<bool>> RequestBody::Bool(std::string_view key) const {
  const wire::Json* value = Get(key);
  if (value == nullptr) return std::optional<bool>();
  if (!value->is_boolean()) return Fail(WrongType(key, "true or false"));
  return std::optional<bool>(value->get<bool>());
}

Result<std::optional<std::vector<std::string>>> RequestBody::StringArray(
    std::string_view key, std::size_t max_items) const {
  const wire::Json* value = Get(key);
  if (value == nullptr) return std::optional<std::vector<std::string>>();
  if (!value->is_array()) return Fail(WrongType(key, "an array of strings"));
  if (value->size() > max_items) {
    return Fail(InvalidArgument("'" + std::string(key) + "' has more than " +
                                std::to_string(max_items) + " items"));
  }
  std::vector<std::string> items;
  for (const auto& item : *value) {
    if (!item.is_string()) return Fail(WrongType(key, "an array of strings"));
    items.push_back(item.get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(items));
}

}  // namespace moat::broker::api
