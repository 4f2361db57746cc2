#include "display/rfb_client_filter.h"

#include <cstring>

namespace moat::broker::display {
namespace {

// Client-to-server message types (RFC 6143 7.5 and the community extensions that TigerVNC and
// noVNC send once the server has advertised them).
enum : uint8_t {
  kSetPixelFormat = 0,
  kSetEncodings = 2,
  kFramebufferUpdateRequest = 3,
  kKeyEvent = 4,
  kPointerEvent = 5,
  kClientCutText = 6,
  kEnableContinuousUpdates = 150,
  kClientFence = 248,
  kXvp = 250,
  kSetDesktopSize = 251,
  kQemu = 255,
};
constexpr uint8_t kQemuExtendedKeyEvent = 0;

uint16_t U16(std::string_view b, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(b[at]) << 8) |
                               static_cast<uint8_t>(b[at + 1]));
}

uint32_t U32(std::string_view b, size_t at) {
  return (static_cast<uint32_t>(U16(b, at)) << 16) | U16(b, at + 2);
}

bool IsInput(uint8_t type) { return type == kKeyEvent || type == kPointerEvent || type == kQemu; }

// What a viewer may not do to a desktop it only watches.
bool ChangesTheDesktop(uint8_t type) {
  return IsInput(type) || type == kClientCutText || type == kSetDesktopSize || type == kXvp;
}

}  // namespace

Result<size_t> RfbClientFilter::MessageSize(std::string_view b) {
  auto need = [&](size_t header) -> bool { return b.size() >= header; };
  uint8_t type = static_cast<uint8_t>(b[0]);
  switch (type) {
    case kSetPixelFormat:
      return 20;
    case kSetEncodings:
      return need(4) ? 4 + 4 * size_t{U16(b, 2)} : 0;
    case kFramebufferUpdateRequest:
      return 10;
    case kKeyEvent:
      return 8;
    case kPointerEvent:
      return 6;
    case kClientCutText: {
      if (!need(8)) return 0;
      // Negative lengths are the extended clipboard's (its flags and data follow).
      auto length = static_cast<int32_t>(U32(b, 4));
      uint64_t size = length < 0 ? -static_cast<int64_t>(length) : length;
      if (size > kMaxCutText) {
        return Fail(InvalidArgument("RFB ClientCutText of " + std::to_string(size) +
                                    " bytes is over the gateway's limit of " +
                                    std::to_string(kMaxCutText)));
      }
      return 8 + size;
    }
    case kEnableContinuousUpdates:
      return 10;
    case kClientFence: {
      if (!need(9)) return 0;
      size_t length = static_cast<uint8_t>(b[8]);
      if (length > 64) return Fail(InvalidArgument("RFB ClientFence payload over 64 bytes"));
      return 9 + length;
    }
    case kXvp:
      return 4;
    case kSetDesktopSize:
      return need(8) ? 8 + 16 * size_t{static_cast<uint8_t>(b[6])} : 0;
    case kQemu:
      if (!need(2)) return 0;
      if (static_cast<uint8_t>(b[1]) != kQemuExtendedKeyEvent) {
        return Fail(InvalidArgument("RFB QEMU client message subtype " +
                                    std::to_string(static_cast<uint8_t>(b[1])) +
                                    " is not one the gateway relays"));
      }
      return 12;
    default:
      return Fail(InvalidArgument("RFB client message type " + std::to_string(type) +
                                  " is not one the gateway relays"));
  }
}

Result<RfbClientFilter::Output> RfbClientFilter::Feed(std::string_view bytes) {
  Output out;
  pending_.append(bytes);
  size_t consumed = 0;
  // Whole messages are cut off the front; the rest waits for more bytes.
  while (consumed < pending_.size()) {
    std::string_view rest = std::string_view(pending_).substr(consumed);
    auto size = MessageSize(rest);
    if (!size) return Fail(size.error());
    if (*size == 0 || rest.size() < *size) break;
    auto type = static_cast<uint8_t>(rest[0]);
    // A watcher's dropped keys and pointer moves are not the owner's activity: they must not
    // keep the owner's idle timeout from firing.
    if (IsInput(type) && !read_only_) out.saw_input = true;
    if (!(read_only_ && ChangesTheDesktop(type))) out.forward.append(rest.substr(0, *size));
    consumed += *size;
  }
  pending_.erase(0, consumed);
  return out;
}

}  // namespace moat::broker::display
