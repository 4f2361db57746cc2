#include "broker/desktop_tunnels.h"

#include "auth/crypto.h"

namespace moat::broker {

Result<std::string> DesktopTunnels::NewTicket(std::int64_t host_id) {
  MOAT_TRY(std::string bytes, auth::RandomBytes(32));
  std::string ticket = auth::HexEncode(bytes);
  std::lock_guard lock(mutex_);
  slots_[ticket] = Slot{host_id, nullptr};
  return ticket;
}

bool DesktopTunnels::Expects(const std::string& ticket, std::int64_t host_id) const {
  std::lock_guard lock(mutex_);
  auto found = slots_.find(ticket);
  return found != slots_.end() && found->second.host_id == host_id && !found->second.stream;
}

bool DesktopTunnels::Deliver(const std::string& ticket, std::int64_t host_id,
                             std::unique_ptr<http::ByteStream> stream) {
  std::lock_guard lock(mutex_);
  auto found = slots_.find(ticket);
  if (found == slots_.end() || found->second.host_id != host_id || found->second.stream) {
    return false;
  }
  found->second.stream = std::move(stream);
  delivered_.notify_all();
  return true;
}

Result<std::unique_ptr<http::ByteStream>> DesktopTunnels::Await(const std::string& ticket,
                                                                std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  delivered_.wait_for(lock, wait, [&] {
    auto found = slots_.find(ticket);
    return found == slots_.end() || found->second.stream != nullptr;
  });
  auto found = slots_.find(ticket);
  std::unique_ptr<http::ByteStream> stream;
  if (found != slots_.end()) {
    stream = std::move(found->second.stream);
    slots_.erase(found);
  }
  if (!stream) {
    return Fail(Error(std::make_error_code(std::errc::timed_out),
                      "the session's host did not open its desktop tunnel within " +
                          std::to_string(wait.count()) + " ms"));
  }
  return stream;
}

}  // namespace moat::broker
