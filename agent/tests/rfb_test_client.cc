#include "rfb_test_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace moat::agent::test {
namespace {

uint16_t U16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t U32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

Error Protocol(const std::string& what) {
  return Error(std::make_error_code(std::errc::protocol_error), "RFB: " + what);
}

}  // namespace

Result<RfbTestClient> RfbTestClient::Connect(const std::string& socket_path,
                                             std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket", "AF_UNIX");
  struct timeval tv = {static_cast<time_t>(timeout.count() / 1000),
                       static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    return FailErrno("connect", socket_path);
  }
  RfbTestClient client(std::move(fd));
  MOAT_TRY_VOID(client.Handshake());
  return client;
}

Status RfbTestClient::ReadExact(void* data, size_t size) {
  auto* out = static_cast<uint8_t*>(data);
  while (size > 0) {
    ssize_t n = ::read(fd_.get(), out, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read", "RFB socket");
    if (n == 0) return Fail(Protocol("server closed the connection"));
    out += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Status RfbTestClient::WriteAll(const void* data, size_t size) {
  const auto* in = static_cast<const uint8_t*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_.get(), in, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("write", "RFB socket");
    in += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Status RfbTestClient::Handshake() {
  char version[12];
  MOAT_TRY_VOID(ReadExact(version, sizeof(version)));
  if (std::memcmp(version, "RFB 003.008\n", 12) != 0) {
    return Fail(Protocol("greeting '" + std::string(version, 11) + "'"));
  }
  MOAT_TRY_VOID(WriteAll(version, sizeof(version)));
  uint8_t count = 0;
  MOAT_TRY_VOID(ReadExact(&count, 1));
  if (count == 0) return Fail(Protocol("server refused the connection"));
  std::vector<uint8_t> types(count);
  MOAT_TRY_VOID(ReadExact(types.data(), types.size()));
  if (std::find(types.begin(), types.end(), 1) == types.end()) {
    return Fail(Protocol("security type None (1) not offered"));
  }
  uint8_t none = 1;
  MOAT_TRY_VOID(WriteAll(&none, 1));
  uint8_t result[4];
  MOAT_TRY_VOID(ReadExact(result, 4));
  if (U32(result) != 0) return Fail(Protocol("security result " + std::to_string(U32(result))));
  uint8_t shared = 1;  // ClientInit: share the desktop with other viewers
  MOAT_TRY_VOID(WriteAll(&shared, 1));
  uint8_t init[24];  // ServerInit: width, height, pixel format (16), name length
  MOAT_TRY_VOID(ReadExact(init, sizeof(init)));
  width_ = U16(init);
  height_ = U16(init + 2);
  name_.resize(U32(init + 20));
  MOAT_TRY_VOID(ReadExact(name_.data(), name_.size()));
  // SetPixelFormat: 32 bpp, depth 24, little-endian, true colour, 8 bits per channel at
  // shifts 16/8/0, so each pixel reads as 0x00RRGGBB.
  uint8_t format[20] = {0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0};
  MOAT_TRY_VOID(WriteAll(format, sizeof(format)));
  uint8_t encodings[8] = {2, 0, 0, 1, 0, 0, 0, 0};  // SetEncodings: one, Raw (0)
  return WriteAll(encodings, sizeof(encodings));
}

Result<Framebuffer> RfbTestClient::FullFrame() {
  uint8_t request[10] = {3, 0};  // FramebufferUpdateRequest, not incremental
  Put16(request + 6, width_);
  Put16(request + 8, height_);
  MOAT_TRY_VOID(WriteAll(request, sizeof(request)));
  Framebuffer frame;
  frame.width = width_;
  frame.height = height_;
  frame.pixels.assign(static_cast<size_t>(width_) * height_, 0);
  for (;;) {
    uint8_t type = 0;
    MOAT_TRY_VOID(ReadExact(&type, 1));
    if (type == 2) continue;  // Bell
    if (type == 3) {          // ServerCutText: skip it
      uint8_t head[7];
      MOAT_TRY_VOID(ReadExact(head, sizeof(head)));
      std::string text(U32(head + 3), '\0');
      MOAT_TRY_VOID(ReadExact(text.data(), text.size()));
      continue;
    }
    if (type != 0) return Fail(Protocol("unexpected server message " + std::to_string(type)));
    uint8_t head[3];
    MOAT_TRY_VOID(ReadExact(head, sizeof(head)));
    uint16_t rects = U16(head + 1);
    for (uint16_t i = 0; i < rects; ++i) {
      uint8_t rect[12];
      MOAT_TRY_VOID(ReadExact(rect, sizeof(rect)));
      uint16_t x = U16(rect), y = U16(rect + 2), w = U16(rect + 4), h = U16(rect + 6);
      int32_t encoding = static_cast<int32_t>(U32(rect + 8));
      if (encoding != 0) return Fail(Protocol("encoding " + std::to_string(encoding)));
      if (x + w > width_ || y + h > height_) return Fail(Protocol("rectangle off the screen"));
      std::vector<uint8_t> raw(static_cast<size_t>(w) * h * 4);
      MOAT_TRY_VOID(ReadExact(raw.data(), raw.size()));
      for (uint16_t row = 0; row < h; ++row) {
        for (uint16_t col = 0; col < w; ++col) {
          const uint8_t* p = raw.data() + (static_cast<size_t>(row) * w + col) * 4;
          frame.pixels[static_cast<size_t>(y + row) * width_ + x + col] =
              static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
              static_cast<uint32_t>(p[2]) << 16;
        }
      }
    }
    return frame;
  }
}

}  // namespace moat::agent::test
