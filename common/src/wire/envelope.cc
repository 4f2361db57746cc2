#include "moat/common/wire/envelope.h"

#include <random>
#include <set>
#include <vector>

#include "wire/json_read.h"

namespace moat::wire {
namespace {

using internal::ExpectObject;
using internal::Read;
using internal::RejectUnknownKeys;

bool IsValidType(const std::string& type) {
  if (type.empty() || type.size() > 64 || type[0] < 'a' || type[0] > 'z') return false;
  for (char c : type) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  }
  return true;
}

bool IsValidId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

Status ReadVersion(const Json& json) {
  auto it = json.find("v");
  if (it == json.end()) return Fail(InvalidArgument("missing 'v' (protocol version)"));
  if (!it->is_number_integer()) return Fail(InvalidArgument("'v' must be an integer"));
  if (it->get<int64_t>() != kProtocolVersion) {
    return Fail(Error(std::make_error_code(std::errc::protocol_not_supported),
                      "protocol version " + it->dump() + " is not supported; this side speaks " +
                          std::to_string(kProtocolVersion)));
  }
  return {};
}

Result<WireError> ReadError(const Json& json) {
  MOAT_TRY_VOID(ExpectObject(json, "error"));
  MOAT_TRY_VOID(RejectUnknownKeys(json, {"code", "message"}, "error"));
  WireError error;
  MOAT_TRY_VOID(Read(json, "code", "error", error.code));
  MOAT_TRY_VOID(Read(json, "message", "error", error.message));
  MOAT_TRY_VOID(internal::CheckNotEmpty(error.code, "error.code"));
  return error;
}

Result<Envelope> FromJson(const Json& json) {
  MOAT_TRY_VOID(ExpectObject(json, "message"));
  // The version first: a newer peer's message may fail every other rule for good reason.
  MOAT_TRY_VOID(ReadVersion(json));
  MOAT_TRY_VOID(RejectUnknownKeys(json, {"v", "type", "id", "re", "body", "error"}, ""));
  Envelope envelope;
  MOAT_TRY_VOID(Read(json, "type", "", envelope.type));
  if (!IsValidType(envelope.type)) {
    return Fail(InvalidArgument("'type' must match [a-z][a-z0-9_.]{0,63}"));
  }
  MOAT_TRY_VOID(Read(json, "id", "", envelope.id));
  if (!IsValidId(envelope.id)) {
    return Fail(InvalidArgument("'id' must be 1 to 128 printable ASCII characters"));
  }
  if (json.contains("re")) {
    envelope.re.emplace();
    MOAT_TRY_VOID(Read(json, "re", "", *envelope.re));
    if (!IsValidId(*envelope.re)) {
      return Fail(InvalidArgument("'re' must be 1 to 128 printable ASCII characters"));
    }
  }
  if (auto it = json.find("error"); it != json.end()) {
    if (!envelope.re) return Fail(InvalidArgument("'error' is only allowed on a reply ('re')"));
    MOAT_TRY(envelope.error, ReadError(*it));
  }
  if (auto it = json.find("body"); it != json.end()) {
    MOAT_TRY_VOID(ExpectObject(*it, "body"));
    envelope.body = *it;
  } else if (!envelope.error) {
    return Fail(InvalidArgument("missing 'body'"));
  }
  return envelope;
}

}  // namespace

std::string EncodeEnvelope(const Envelope& envelope) {
  Json json = {{"v", kProtocolVersion}, {"type", envelope.type}, {"id", envelope.id}};
  if (envelope.re) json["re"] = *envelope.re;
  if (envelope.error) {
    json["error"] = {{"code", envelope.error->code}, {"message", envelope.error->message}};
    if (!envelope.body.empty()) json["body"] = envelope.body;
  } else {
    json["body"] = envelope.body.is_null() ? Json::object() : envelope.body;
  }
  // Invalid UTF-8 (a user name from a broken locale, say) is replaced, never thrown.
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<Envelope> DecodeEnvelope(std::string_view text) {
  if (text.size() > kMaxMessageBytes) {
    return Fail(Error(std::make_error_code(std::errc::message_size),
                      "message of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                          std::to_string(kMaxMessageBytes)));
  }
  // nlohmann keeps the last of duplicate keys; another parser may keep the first. Refuse
  // them, so that the broker and whatever else reads a message see the same message.
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  auto track_keys = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      keys.pop_back();
    } else if (event == Json::parse_event_t::key && duplicate.empty() &&
               !keys.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  Json json;
  try {
    json = Json::parse(text, track_keys);
  } catch (const Json::parse_error& error) {
    return Fail(
        InvalidArgument(std::string("decode agent-link message: malformed JSON: ") + error.what()));
  }
  if (!duplicate.empty()) {
    return Fail(InvalidArgument("decode agent-link message: duplicate key '" + duplicate + "'"));
  }
  MOAT_TRY_CTX(auto envelope, FromJson(json), "decode agent-link message");
  return envelope;
}

std::string NewMessageId() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t value = generator();
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) id[static_cast<size_t>(i)] = kHex[value & 0xf];
  return id;
}

Envelope MakeReply(const Envelope& request, Json body) {
  return Envelope{request.type, NewMessageId(), request.id, std::move(body), std::nullopt};
}

Envelope MakeErrorReply(const Envelope& request, std::string code, std::string message) {
  return Envelope{request.type, NewMessageId(), request.id, Json::object(),
                  WireError{std::move(code), std::move(message)}};
}

}  // namespace moat::wire
