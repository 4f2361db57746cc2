// What the broker announces on /api/v1/events, one JSON object per message:
//   {"type":"session.state","at":…,"from":"starting","to":"active","session":{…}}
//   {"type":"usage","at":…,"host":"h1","samples":[{"session_id":…,"cpu_percent":…,…}]}
//   {"type":"audit","event":{"id":…,"at":…,"actor":…,"kind":…,"session_id":…,"old_value":…,…}}
//   {"type":"host","host":{"name":…,"state":"online",…}}
// Every message follows the commit of what it tells.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "broker/session_view.h"
#include "db/audit.h"
#include "db/host_store.h"
#include "http/event_hub.h"
#include "moat/common/wire/messages.h"

namespace moat::broker {

wire::Json ToJson(const db::Host& host);
wire::Json ToJson(const db::AuditRecord& record);
wire::Json ToJson(const wire::UsageSample& sample);

class Events {
 public:
  explicit Events(http::EventHub& hub) : hub_(hub) {}

  void SessionState(const SessionView& session, std::string_view from);
  // `samples`: each sample of the batch as serialised JSON (ToJson(sample).dump()), made once
  // per batch by the ingestion and reused here.
  void Usage(std::string_view host, const std::vector<std::string>& samples);
  void Audit(const db::AuditRecord& record);
  // `connected`: whether its agent is linked now, as GET /api/v1/hosts says.
  void Host(const db::Host& host, bool connected);

 private:
  // Nobody listening: no message to build.
  bool Quiet() const { return hub_.subscriber_count() == 0; }

  http::EventHub& hub_;
};

}  // namespace moat::broker
