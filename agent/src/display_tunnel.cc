#include "display_tunnel.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "moat/common/log.h"
#include "moat/common/net/client.h"
#include "moat/common/tls/context.h"
#include "moat/common/unique_fd.h"
#include "moat/common/unix_connect.h"

namespace moat::agent {
namespace {

constexpr size_t kChunk = 64 << 10;

// The link URL with the display endpoint's path: wss://broker:8444/api/v1/agent/display?...
std::string TunnelUrl(const std::string& link_url, const std::string& ticket) {
  size_t scheme = link_url.find("://");
  size_t path = link_url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  std::string base = path == std::string::npos ? link_url : link_url.substr(0, path);
  return base + "/api/v1/agent/display?ticket=" + ticket;
}

Status WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("write", "desktop RFB socket");
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

struct DisplayTunnels::Tunnel {
  UniqueFd desktop;
  std::atomic<bool> ended{false};
};

DisplayTunnels::~DisplayTunnels() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    for (const auto& tunnel : tunnels_) {
      tunnel->ended = true;
      ::shutdown(tunnel->desktop.get(), SHUT_RDWR);
    }
    threads.swap(threads_);
  }
  for (auto& thread : threads) thread.join();
}

Status DisplayTunnels::Open(const std::string& rfb_socket, const std::string& ticket) {
  auto tunnel = std::make_shared<Tunnel>();
  // The socket's directory is the session user's: never follow a link they put there.
  MOAT_TRY(tunnel->desktop, ConnectUnixNoFollow(rfb_socket));
  std::lock_guard lock(mutex_);
  // Finished tunnels leave the list here, so it never grows beyond the live ones.
  std::erase_if(tunnels_, [](const auto& t) { return t->ended.load(); });
  tunnels_.push_back(tunnel);
  threads_.emplace_back([this, tunnel, ticket] { Run(tunnel, ticket); });
  return {};
}

void DisplayTunnels::Run(const std::shared_ptr<Tunnel>& tunnel, const std::string& ticket) {
  int desktop = tunnel->desktop.get();
  auto ctx = tls::MakeClientContext({.ca_pem = identity_.ca_pem,
                                     .client_cert_pem = identity_.cert_pem,
                                     .client_key_pem = identity_.key_pem});
  if (!ctx) {
    log::Warning("display tunnel: TLS setup failed", {{"error", ctx.error().message()}});
    tunnel->ended = true;
    return;
  }
  net::WssOptions options;
  options.url = TunnelUrl(identity_.link_url, ticket);
  options.ctx = std::move(*ctx);
  options.binary = true;
  options.max_message_bytes = 4 << 20;
  options.on_message = [desktop](std::string data) {
    // The desktop reads promptly; a write that fails ends the tunnel through the read side.
    if (!WriteAll(desktop, data)) ::shutdown(desktop, SHUT_RDWR);
  };
  options.on_close = [tunnel](const Error&) {
    tunnel->ended = true;
    ::shutdown(tunnel->desktop.get(), SHUT_RDWR);
  };
  auto link = net::WssClient::Connect(std::move(options));
  if (!link) {
    log::Warning("display tunnel: connect failed", {{"error", link.error().message()}});
    tunnel->ended = true;
    return;
  }
  std::string chunk(kChunk, '\0');
  while (!tunnel->ended) {
    ssize_t n = ::read(desktop, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    // A full send queue is the viewer being slow: wait for it instead of reading further.
    while (!tunnel->ended) {
      auto sent = (*link)->Send(std::string(chunk.data(), static_cast<size_t>(n)));
      if (sent) break;
      if (!(*link)->open()) {
        tunnel->ended = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  tunnel->ended = true;
  (*link)->Close();
}

}  // namespace moat::agent
