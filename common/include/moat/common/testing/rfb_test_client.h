// A minimal RFB 3.8 client for tests, with no VNC library: to a session's Unix socket
// (security None) or to the display gateway (VeNCrypt X509Plain: TLS checked against a CA,
// then username and password). ClientInit/ServerInit, 32-bit true-colour pixels in Raw
// encoding, full-screen updates, key and pointer events. Enough to prove a desktop draws and
// takes input; not a viewer.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "moat/common/error.h"

namespace moat::test {

struct Framebuffer {
  uint16_t width = 0, height = 0;
  std::vector<uint32_t> pixels;  // 0x00RRGGBB, row by row
};

struct VencryptLogin {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string ca_pem;           // the broker's CA: the gateway's certificate must chain to it
  std::string verify_hostname;  // empty: the chain only
  std::string user;
  std::string password;
  // Leave once the gateway has accepted the login, before ClientInit: a viewer that gives up.
  bool stop_before_init = false;
};

class RfbTestClient {
 public:
  class Transport;

  // Connects to a Unix socket and runs the handshake up to ServerInit.
  static Result<RfbTestClient> Connect(const std::string& socket_path,
                                       std::chrono::milliseconds timeout);
  // Through the display gateway. A refused login fails with EACCES and the gateway's reason.
  static Result<RfbTestClient> ConnectVencrypt(const VencryptLogin& login,
                                               std::chrono::milliseconds timeout);

  RfbTestClient(RfbTestClient&&) noexcept;
  RfbTestClient& operator=(RfbTestClient&&) noexcept;
  ~RfbTestClient();

  uint16_t width() const { return width_; }
  uint16_t height() const { return height_; }
  const std::string& desktop_name() const { return name_; }

  // Asks for the whole screen (non-incremental) and reads the update it gets.
  Result<Framebuffer> FullFrame();
  // Key presses and releases for each character (X keysyms; '\n' is Return).
  Status Type(const std::string& text);
  Status Pointer(uint16_t x, uint16_t y, uint8_t buttons);
  // True when the server closes the connection within `timeout` (it reads and drops what
  // comes meanwhile).
  bool ClosedWithin(std::chrono::milliseconds timeout);

 private:
  explicit RfbTestClient(std::unique_ptr<Transport> transport);
  Status ReadExact(void* data, size_t size);
  Status WriteAll(const void* data, size_t size);
  // The version exchange and the choice of `type` among the server's security types.
  Status ChooseSecurity(uint8_t type, const char* name);
  Status Handshake();  // from the version exchange (Unix) or the security result (VeNCrypt)
  Status VencryptHandshake(const VencryptLogin& login);
  Status Init();  // ClientInit, ServerInit, pixel format, encodings

  std::unique_ptr<Transport> transport_;
  uint16_t width_ = 0, height_ = 0;
  std::string name_;
};

}  // namespace moat::test
