// Answers the broker's requests on the agent link: decodes the typed body, drives the backend,
// and replies with MakeReply or MakeErrorReply. A bad request (unknown type, bad body, unknown
// session, refused limits) gets an error reply and changes nothing.
//
//   error codes: invalid_argument  bad type, body or value
//                not_found         no such session (or application, or process)
//                conflict          the session exists already, or is in the wrong state
//                internal          the host failed (the message says which call)
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "backend.h"
#include "moat/common/wire/envelope.h"
#include "moat/common/wire/messages.h"

namespace moat::agent {

struct HandlerOptions {
  std::string agent_version = "0.1.0";
  std::string host_name;      // gethostname() when empty
  uint64_t max_sessions = 0;  // 0: no limit of the agent's own
  std::chrono::milliseconds end_grace{5000};
};

class MessageHandler {
 public:
  MessageHandler(Backend& backend, HandlerOptions options = {});

  // The reply to one request. Fails only for a message that is not a request (a reply or an
  // error reply, which must never be answered: that would loop between the two ends).
  Result<wire::Envelope> Handle(const wire::Envelope& request);

  // The first message on every connection: this host and the sessions it still runs, so the
  // broker can reconcile (re-adoption after an agent restart).
  wire::HostHello MakeHello() const;

  // What "display.open" {session_id, ticket} does with the session's RFB socket: opens the
  // tunnel to the broker (DisplayTunnels::Open). Unset (stdio mode): the request is refused.
  using DisplayOpener = std::function<Status(const std::string& rfb_socket, const std::string&)>;
  void SetDisplayOpener(DisplayOpener opener) { open_display_ = std::move(opener); }

 private:
  Result<wire::Json> OnCreate(const wire::Envelope& request);
  Result<wire::Json> OnSetLimits(const wire::Envelope& request);
  Result<wire::Json> OnAction(const wire::Envelope& request);
  Result<wire::Json> OnAppLaunch(const wire::Envelope& request);
  Result<wire::Json> OnAppPs(const wire::Envelope& request);
  Result<wire::Json> OnAppKill(const wire::Envelope& request);
  Result<wire::Json> OnGetLimits(const wire::Envelope& request);
  Result<wire::Json> OnDisplayOpen(const wire::Envelope& request);
  Status CheckSessionRuns(const std::string& session) const;

  Backend& backend_;
  HandlerOptions options_;
  DisplayOpener open_display_;
};

// The wire error code for an error from the backend or a decoder.
std::string WireErrorCode(const Error& error);

}  // namespace moat::agent
