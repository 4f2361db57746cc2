#include "moat/common/testing/rfb_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "moat/common/tls/context.h"
#include "moat/common/tls/openssl.h"
#include "moat/common/unique_fd.h"

namespace moat::test {
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
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, static_cast<uint16_t>(v >> 16));
  Put16(p + 2, static_cast<uint16_t>(v));
}

Error Protocol(const std::string& what) {
  return Error(std::make_error_code(std::errc::protocol_error), "RFB: " + what);
}

void SetTimeouts(int fd, std::chrono::milliseconds timeout) {
  struct timeval tv = {static_cast<time_t>(timeout.count() / 1000),
                       static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

}  // namespace

// Plain socket I/O, until StartTls puts TLS over the same socket.
class RfbTestClient::Transport {
 public:
  explicit Transport(UniqueFd fd) : fd_(std::move(fd)) {}

  int fd() const { return fd_.get(); }

  Result<size_t> Read(void* data, size_t size) {
    for (;;) {
      if (ssl_) {
        int n = SSL_read(ssl_.get(), data, static_cast<int>(size));
        if (n > 0) return static_cast<size_t>(n);
        int error = SSL_get_error(ssl_.get(), n);
        if (error == SSL_ERROR_ZERO_RETURN) return size_t{0};
        if (error == SSL_ERROR_SYSCALL && errno == 0) return size_t{0};
        if (error == SSL_ERROR_SYSCALL) return FailErrno("SSL_read", "display gateway");
        return Fail(tls::OpenSslError("SSL_read", "display gateway"));
      }
      ssize_t n = ::read(fd_.get(), data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FailErrno("read", "RFB socket");
      return static_cast<size_t>(n);
    }
  }

  Status Write(const void* data, size_t size) {
    const auto* in = static_cast<const uint8_t*>(data);
    while (size > 0) {
      if (ssl_) {
        int n = SSL_write(ssl_.get(), in, static_cast<int>(size));
        if (n <= 0) return Fail(tls::OpenSslError("SSL_write", "display gateway"));
        in += n;
        size -= static_cast<size_t>(n);
        continue;
      }
      ssize_t n = ::write(fd_.get(), in, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FailErrno("write", "RFB socket");
      in += n;
      size -= static_cast<size_t>(n);
    }
    return {};
  }

  Status StartTls(const VencryptLogin& login) {
    MOAT_TRY(ctx_, tls::MakeClientContext(
                       {.ca_pem = login.ca_pem, .verify_hostname = login.verify_hostname}));
    ssl_.reset(SSL_new(ctx_.get()));
    if (!ssl_) return Fail(tls::OpenSslError("SSL_new"));
    SSL_set_fd(ssl_.get(), fd_.get());
    if (SSL_connect(ssl_.get()) != 1) {
      return Fail(tls::OpenSslError("SSL_connect", "display gateway")
                      .Wrap(tls::PeerVerifyResult(ssl_.get())));
    }
    return {};
  }

 private:
  UniqueFd fd_;
  tls::SslCtxPtr ctx_;
  tls::SslPtr ssl_;
};

RfbTestClient::RfbTestClient(std::unique_ptr<Transport> transport)
    : transport_(std::move(transport)) {}
RfbTestClient::RfbTestClient(RfbTestClient&&) noexcept = default;
RfbTestClient& RfbTestClient::operator=(RfbTestClient&&) noexcept = default;
RfbTestClient::~RfbTestClient() = default;

Result<RfbTestClient> RfbTestClient::Connect(const std::string& socket_path,
                                             std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket", "AF_UNIX");
  SetTimeouts(fd.get(), timeout);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    return FailErrno("connect", socket_path);
  }
  RfbTestClient client(std::make_unique<Transport>(std::move(fd)));
  MOAT_TRY_VOID(client.Handshake());
  MOAT_TRY_VOID(client.Init());
  return client;
}

Result<RfbTestClient> RfbTestClient::ConnectVencrypt(const VencryptLogin& login,
                                                     std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket", "AF_INET");
  SetTimeouts(fd.get(), timeout);
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  struct sockaddr_in addr {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(login.port);
  if (::inet_pton(AF_INET, login.host.c_str(), &addr.sin_addr) != 1) {
    return Fail(InvalidArgument("not an IPv4 address: " + login.host));
  }
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    return FailErrno("connect", login.host + ":" + std::to_string(login.port));
  }
  RfbTestClient client(std::make_unique<Transport>(std::move(fd)));
  MOAT_TRY_VOID(client.VencryptHandshake(login));
  if (!login.stop_before_init) MOAT_TRY_VOID(client.Init());
  return client;
}

Status RfbTestClient::ReadExact(void* data, size_t size) {
  auto* out = static_cast<uint8_t*>(data);
  while (size > 0) {
    MOAT_TRY(size_t n, transport_->Read(out, size));
    if (n == 0) return Fail(Protocol("server closed the connection"));
    out += n;
    size -= n;
  }
  return {};
}

Status RfbTestClient::WriteAll(const void* data, size_t size) {
  return transport_->Write(data, size);
}

Status RfbTestClient::ChooseSecurity(uint8_t type, const char* name) {
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
  if (std::find(types.begin(), types.end(), type) == types.end()) {
    return Fail(Protocol("security type " + std::string(name) + " (" + std::to_string(type) +
                         ") not offered"));
  }
  return WriteAll(&type, 1);
}

Status RfbTestClient::Handshake() {
  MOAT_TRY_VOID(ChooseSecurity(1, "None"));
  uint8_t result[4];
  MOAT_TRY_VOID(ReadExact(result, 4));
  if (U32(result) != 0) return Fail(Protocol("security result " + std::to_string(U32(result))));
  return {};
}

Status RfbTestClient::VencryptHandshake(const VencryptLogin& login) {
  MOAT_TRY_VOID(ChooseSecurity(19, "VeNCrypt"));
  uint8_t server_version[2];
  MOAT_TRY_VOID(ReadExact(server_version, 2));
  if (server_version[0] != 0 || server_version[1] != 2) return Fail(Protocol("VeNCrypt version"));
  MOAT_TRY_VOID(WriteAll(server_version, 2));
  uint8_t ack = 0xff, subtype_count = 0;
  MOAT_TRY_VOID(ReadExact(&ack, 1));
  if (ack != 0) return Fail(Protocol("VeNCrypt version refused"));
  MOAT_TRY_VOID(ReadExact(&subtype_count, 1));
  std::vector<uint8_t> subtypes(subtype_count * 4u);
  MOAT_TRY_VOID(ReadExact(subtypes.data(), subtypes.size()));
  bool x509plain = false;
  for (size_t i = 0; i < subtypes.size(); i += 4) x509plain |= U32(&subtypes[i]) == 262;
  if (!x509plain) return Fail(Protocol("VeNCrypt X509Plain (262) not offered"));
  uint8_t choice[4];
  Put32(choice, 262);
  MOAT_TRY_VOID(WriteAll(choice, 4));
  uint8_t accepted = 0;
  MOAT_TRY_VOID(ReadExact(&accepted, 1));
  if (accepted != 1) return Fail(Protocol("VeNCrypt subtype refused"));
  MOAT_TRY_VOID(transport_->StartTls(login));

  std::vector<uint8_t> plain(8);
  Put32(plain.data(), static_cast<uint32_t>(login.user.size()));
  Put32(plain.data() + 4, static_cast<uint32_t>(login.password.size()));
  plain.insert(plain.end(), login.user.begin(), login.user.end());
  plain.insert(plain.end(), login.password.begin(), login.password.end());
  MOAT_TRY_VOID(WriteAll(plain.data(), plain.size()));
  uint8_t result[4];
  MOAT_TRY_VOID(ReadExact(result, 4));
  if (U32(result) != 0) {
    uint8_t length[4];
    std::string reason;
    if (ReadExact(length, 4)) {
      reason.resize(std::min<uint32_t>(U32(length), 4096));
      if (!ReadExact(reason.data(), reason.size())) reason.clear();
    }
    return Fail(Error(std::make_error_code(std::errc::permission_denied),
                      "RFB: the gateway refused the login: " + reason));
  }
  return {};
}

Status RfbTestClient::Init() {
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

Status RfbTestClient::Type(const std::string& text) {
  for (char c : text) {
    uint32_t keysym = c == '\n' ? 0xff0d : static_cast<uint8_t>(c);
    for (uint8_t down : {1, 0}) {
      uint8_t event[8] = {4, down, 0, 0};
      Put32(event + 4, keysym);
      MOAT_TRY_VOID(WriteAll(event, sizeof(event)));
    }
  }
  return {};
}

Status RfbTestClient::Pointer(uint16_t x, uint16_t y, uint8_t buttons) {
  uint8_t event[6] = {5, buttons};
  Put16(event + 2, x);
  Put16(event + 4, y);
  return WriteAll(event, sizeof(event));
}

bool RfbTestClient::ClosedWithin(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<uint8_t> sink(64 << 10);
  while (std::chrono::steady_clock::now() < deadline) {
    struct pollfd pfd = {transport_->fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    auto n = transport_->Read(sink.data(), sink.size());
    if (!n || *n == 0) return true;
  }
  return false;
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

}  // namespace moat::test
