// The control socket between a session's moat-init and the host (moat-sandbox, the agent):
// one JSON object per SOCK_SEQPACKET message, with file descriptors passed as SCM_RIGHTS.
// The VM backend carries the same objects over virtio-serial.
#pragma once

#include <nlohmann/json.hpp>
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

}  // namespace moat::sandbox
