#include "stdio_link.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "moat/common/log.h"

namespace moat::agent {
namespace {

using Clock = std::chrono::steady_clock;

bool WriteLine(const std::string& text) {
  std::string line = text + "\n";
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// An undecodable line still gets an error reply when its "type" and "id" can be read, so the
// sender's request does not wait forever; otherwise it is logged and dropped.
bool AnswerUndecodable(const std::string& line, const Error& error) {
  wire::Json json = wire::Json::parse(line, nullptr, false);
  if (json.is_object() && json.contains("type") && json["type"].is_string() &&
      json.contains("id") && json["id"].is_string() && !json.contains("re")) {
    wire::Envelope request{json["type"], json["id"], std::nullopt, {}, std::nullopt};
    if (wire::DecodeEnvelope(wire::EncodeEnvelope(request))) {
      return WriteLine(
          wire::EncodeEnvelope(wire::MakeErrorReply(request, "invalid_argument", error.message())));
    }
  }
  log::Warning("dropped an undecodable message", {{"error", error.message()}});
  return true;
}

bool HandleLine(MessageHandler& handler, const std::string& line) {
  if (line.find_first_not_of(" \t\r") == std::string::npos) return true;
  auto request = wire::DecodeEnvelope(line);
  if (!request) return AnswerUndecodable(line, request.error());
  auto reply = handler.Handle(*request);
  if (!reply) {
    log::Warning("ignored a message",
                 {{"type", request->type}, {"error", reply.error().message()}});
    return true;
  }
  if (reply->error) {
    log::Info("refused a request", {{"type", request->type}, {"error", reply->error->message}});
  }
  return WriteLine(wire::EncodeEnvelope(*reply));
}

}  // namespace

void ReapEndedSessions(Backend& backend) {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  auto sessions = backend.List();
  if (!sessions) return;
  for (const auto& session : *sessions) {
    if (session.running) continue;
    auto ended = backend.End(session.session_id, std::chrono::milliseconds(0));
    if (ended) {
      log::Info("session ended by itself; cleaned up", {{"session", session.session_id}});
    } else {
      log::Warning("clean up ended session",
                   {{"session", session.session_id}, {"error", ended.error().message()}});
    }
  }
}

int RunStdioLink(Backend& backend, MessageHandler& handler, UsageCollector& collector) {
  if (!WriteLine(wire::EncodeEnvelope(wire::MakeMessage(handler.MakeHello())))) return 1;
  std::string pending;
  Clock::time_point next_tick = Clock::now() + std::chrono::seconds(1);
  for (;;) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now());
    struct pollfd in = {STDIN_FILENO, POLLIN, 0};
    int ready = ::poll(&in, 1, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (ready < 0 && errno != EINTR) return 1;
    if (ready > 0) {
      char buffer[65536];
      ssize_t n = ::read(STDIN_FILENO, buffer, sizeof(buffer));
      if (n < 0 && errno != EINTR && errno != EAGAIN) return 1;
      if (n == 0) return 0;  // the broker side closed the link
      if (n > 0) pending.append(buffer, static_cast<size_t>(n));
      for (size_t end; (end = pending.find('\n')) != std::string::npos;) {
        std::string line = pending.substr(0, end);
        pending.erase(0, end + 1);
        if (!HandleLine(handler, line)) return 1;
      }
      if (pending.size() > wire::kMaxMessageBytes) {
        log::Warning("dropped an over-long message", {{"bytes", pending.size()}});
        pending.clear();
      }
    }
    if (Clock::now() >= next_tick) {
      ReapEndedSessions(backend);
      if (!WriteLine(wire::EncodeEnvelope(wire::MakeMessage(collector.Collect())))) return 1;
      next_tick += std::chrono::seconds(1);
      if (next_tick < Clock::now()) next_tick = Clock::now() + std::chrono::seconds(1);
    }
  }
}

}  // namespace moat::agent
