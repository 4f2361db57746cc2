// The agent-link envelope. Every message on the broker–agent WSS link is one JSON object:
//
//   {"v": 1, "type": "session.create", "id": "4f1c…", "body": {…}}                  request
//   {"v": 1, "type": "session.create", "id": "9a0b…", "re": "4f1c…", "body": {…}}   reply
//   {"v": 1, "type": "session.create", "id": "9a0b…", "re": "4f1c…",
//    "error": {"code": "not_found", "message": "no session 's1'"}}                  error reply
//   {"v": 1, "type": "usage.batch", "id": "77e2…", "body": {…}}                     stream
//
// Decoding is strict: an unknown top-level key, a wrong type, a missing field or a version
// this side does not speak is an error that names the key, and nothing is half-read.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "moat/common/error.h"

namespace moat::wire {

using Json = nlohmann::json;

inline constexpr int kProtocolVersion = 1;
// Larger messages are refused before parsing; a usage batch of 1000 sessions is ~400 KiB.
inline constexpr size_t kMaxMessageBytes = 4 << 20;

struct WireError {
  std::string code;  // snake_case, machine-readable: "not_found", "invalid_argument", …
  std::string message;
  bool operator==(const WireError&) const = default;
};

struct Envelope {
  std::string type;               // [a-z][a-z0-9_.]{0,63}
  std::string id;                 // unique per sender and link; 1..128 printable ASCII
  std::optional<std::string> re;  // the request id this replies to
  Json body = Json::object();
  std::optional<WireError> error;  // only on replies; then body is usually empty
  bool operator==(const Envelope&) const = default;
};

std::string EncodeEnvelope(const Envelope& envelope);
Result<Envelope> DecodeEnvelope(std::string_view text);

// A fresh message id: 16 random hex digits.
std::string NewMessageId();

Envelope MakeReply(const Envelope& request, Json body);
Envelope MakeErrorReply(const Envelope& request, std::string code, std::string message);

}  // namespace moat::wire
