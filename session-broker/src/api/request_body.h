// Strict reading of API request bodies: a JSON object, only the documented keys, each of the
// documented type. Every refusal is EINVAL naming the key (400), except a body that is not JSON
// at all (EBADMSG: 400 "malformed_json").
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"
#include "moat/common/error.h"
#include "moat/common/wire/envelope.h"

namespace moat::broker::api {

class RequestBody {
 public:
  // An empty body reads as {} when `empty_ok`.
  static Result<RequestBody> Parse(const http::HttpRequest& request,
                                   std::initializer_list<std::string_view> known,
                                   bool empty_ok = false);

  Result<std::string> RequiredString(std::string_view key, std::size_t max_length = 4096) const;
  Result<std::optional<std::string>> String(std::string_view key,
                                            std::size_t max_length = 4096) const;
  Result<std::optional<std::int64_t>> Integer(std::string_view key, std::int64_t min,
                                              std::int64_t max) const;
  Result<std::optional<double>> Number(std::string_view key, double min, double max) const;
  Result<std::optional<bool>> Bool(std::string_view key) const;
  Result<std::optional<std::vector<std::string>>> StringArray(std::string_view key,
                                                              std::size_t max_items) const;
  // The raw value, for keys whose shape a lower layer checks (limits).
  const wire::Json* Get(std::string_view key) const;

 private:
  explicit RequestBody(wire::Json json) : json_(std::move(json)) {}
  wire::Json json_;
};

}  // namespace moat::broker::api
