// A minimal RFB 3.8 client for tests, with no library: version handshake, security type None,
// ClientInit/ServerInit, 32-bit true-colour pixels in Raw encoding, full-screen updates.
// Enough to prove a desktop draws; not a viewer.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"

namespace moat::agent::test {

struct Framebuffer {
  uint16_t width = 0, height = 0;
  std::vector<uint32_t> pixels;  // 0x00RRGGBB, row by row
};

class RfbTestClient {
 public:
  // Connects to a Unix socket and runs the handshake up to ServerInit.
  static Result<RfbTestClient> Connect(const std::string& socket_path,
                                       std::chrono::milliseconds timeout);

  uint16_t width() const { return width_; }
  uint16_t height() const { return height_; }
  const std::string& desktop_name() const { return name_; }

  // Asks for the whole screen (non-incremental) and reads the update it gets.
  Result<Framebuffer> FullFrame();

 private:
  explicit RfbTestClient(UniqueFd fd) : fd_(std::move(fd)) {}
  Status ReadExact(void* data, size_t size);
  Status WriteAll(const void* data, size_t size);
  Status Handshake();

  UniqueFd fd_;
  uint16_t width_ = 0, height_ = 0;
  std::string name_;
};

}  // namespace moat::agent::test
