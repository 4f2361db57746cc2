// The control socket between a session's moat-init and the host (moat-sandbox, the agent):
// one JSON object per SOCK_SEQPACKET message, with file descriptors passed as SCM_RIGHTS.
// A VM session's moat-init carries the same objects over a virtio-serial port, which is a byte
// stream without SCM_RIGHTS: one object per line there, and never any fds (see docs/vm.md).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"

namespace moat::sandbox {

inline constexpr size_t kMaxControlMessage = 64 * 1024;
inline constexpr int kMaxControlFds = 4;

struct ControlMessage {
  nlohmann::json body;
  std::vector<UniqueFd> fds;
};

Status SendControlMessage(int socket_fd, const nlohmann::json& body,
                          const std::vector<int>& fds = {});
// An orderly close by the peer is an error with code ECONNRESET.
Result<ControlMessage> ReceiveControlMessage(int socket_fd);

// The stream variant (virtio-serial): the object as one line, "\n" included. JSON text never
// holds a raw newline (dump() escapes them in strings), so a line is always one object.
Result<std::string> EncodeControlLine(const nlohmann::json& body);

// Splits a byte stream into control objects. A line over kMaxControlMessage, or one that is
// not a JSON object, is an error; the reader then skips to the next newline.
class ControlLineReader {
 public:
  void Append(const char* data, size_t size) { buffer_.append(data, size); }
  // The next complete object, or nullopt when no complete line is buffered.
  Result<std::optional<nlohmann::json>> Next();
  // Drops a partial line (the peer went away mid-message).
  void Clear() { buffer_.clear(); }

 private:
  std::string buffer_;
};

}  // namespace moat::sandbox
