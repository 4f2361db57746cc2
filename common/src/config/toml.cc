#include "moat/common/config/toml.h"

#include <algorithm>

namespace moat::config {
namespace {

Error ConfigError(const toml::source_region& source, std::string_view reason) {
  return InvalidArgument(Position(source) + ": " + std::string(reason));
}

std::string_view TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

Error WrongType(const toml::node& node, std::string_view path, std::string_view wanted) {
  std::string reason = "'" + std::string(path) + "' must be " + std::string(wanted) + ", not " +
                       std::string(TypeName(node.type()));
  return ConfigError(node.source(), reason);
}

// The node at `path`, or null when absent.
const toml::node* Find(const toml::table& table, std::string_view path) {
  return table.at_path(path).node();
}

template <typename T>
Result<std::optional<T>> GetScalar(const toml::table& table, std::string_view path,
                                   std::string_view wanted) {
  const toml::node* node = Find(table, path);
  if (!node) return std::optional<T>();
  if (auto value = node->value_exact<T>()) return std::optional<T>(std::move(*value));
  return Fail(WrongType(*node, path, wanted));
}

}  // namespace

std::string Position(const toml::source_region& source) {
  if (!source.begin) return "<unknown position>";
  std::string out = source.path ? *source.path : std::string("<input>");
  out += ":" + std::to_string(source.begin.line) + ":" + std::to_string(source.begin.column);
  return out;
}

Result<toml::table> ParseToml(std::string_view text, std::string_view source_name) {
  try {
    return toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    return Fail(ConfigError(error.source(), error.description()));
  }
}

Result<toml::table> LoadTomlFile(const std::filesystem::path& path) {
  try {
    return toml::parse_file(path.string());
  } catch (const toml::parse_error& error) {
    // toml++ reports an unreadable file as a parse error without a position.
    if (!error.source().begin) {
      return Fail(
          Error(std::make_error_code(std::errc::io_error),
                "read config '" + path.string() + "': " + std::string(error.description())));
    }
    return Fail(ConfigError(error.source(), error.description()));
  }
}

Result<std::optional<std::string>> GetString(const toml::table& table, std::string_view path) {
  return GetScalar<std::string>(table, path, "a string");
}

Result<std::optional<int64_t>> GetInteger(const toml::table& table, std::string_view path) {
  return GetScalar<int64_t>(table, path, "an integer");
}

Result<std::optional<bool>> GetBool(const toml::table& table, std::string_view path) {
  return GetScalar<bool>(table, path, "a boolean");
}

Result<std::optional<double>> GetFloat(const toml::table& table, std::string_view path) {
  const toml::node* node = Find(table, path);
  if (!node) return std::optional<double>();
  if (auto value = node->value_exact<double>()) return std::optional<double>(*value);
  if (auto value = node->value_exact<int64_t>()) {
    return std::optional<double>(static_cast<double>(*value));
  }
  return Fail(WrongType(*node, path, "a number"));
}

Result<std::optional<int64_t>> GetIntegerInRange(const toml::table& table, std::string_view path,
                                                 int64_t min, int64_t max) {
  MOAT_TRY(auto value, GetInteger(table, path));
  if (value && (*value < min || *value > max)) {
    return Fail(ConfigError(Find(table, path)->source(),
                            "'" + std::string(path) + "' must be between " + std::to_string(min) +
                                " and " + std::to_string(max) + ", not " + std::to_string(*value)));
  }
  return value;
}

Result<std::optional<std::vector<std::string>>> GetStringArray(const toml::table& table,
                                                               std::string_view path) {
  const toml::node* node = Find(table, path);
  if (!node) return std::optional<std::vector<std::string>>();
  const toml::array* array = node->as_array();
  if (!array) return Fail(WrongType(*node, path, "an array of strings"));
  std::vector<std::string> out;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    auto value = item.value_exact<std::string>();
    if (!value) {
      return Fail(WrongType(item, std::string(path) + "[" + std::to_string(i) + "]", "a string"));
    }
    out.push_back(std::move(*value));
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::optional<const toml::table*>> GetTable(const toml::table& table,
                                                   std::string_view path) {
  const toml::node* node = Find(table, path);
  if (!node) return std::optional<const toml::table*>();
  if (const toml::table* sub = node->as_table()) return std::optional<const toml::table*>(sub);
  return Fail(WrongType(*node, path, "a table"));
}

Status RejectUnknownKeys(const toml::table& table, std::span<const std::string_view> known,
                         std::string_view prefix) {
  // Report in file order, so the first unknown key is the one nearest the top.
  const toml::key* first = nullptr;
  for (const auto& [key, value] : table) {
    (void)value;
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    if (!first || key.source().begin < first->source().begin) first = &key;
  }
  if (!first) return {};
  std::string full = prefix.empty() ? std::string(first->str())
                                    : std::string(prefix) + "." + std::string(first->str());
  std::string reason = "unknown key '" + full + "'";
  if (!known.empty()) {
    reason += " (known: ";
    for (size_t i = 0; i < known.size(); ++i) {
      if (i > 0) reason += ", ";
      reason += known[i];
    }
    reason += ")";
  }
  return Fail(ConfigError(first->source(), reason));
}

}  // namespace moat::config
