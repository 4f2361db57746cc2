// The session lifecycle as the API drives it: policy checks, placement, the agent round trip
// and the database transition, in that order, so that a refused request changes nothing and
// every state change is committed before its event goes out. Also the broker's side of what
// agents report: reconciliation after either side restarted, and usage ingestion.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/agent_hub.h"
#include "broker/events.h"
#include "broker/metrics.h"
#include "broker/session_view.h"
#include "db/audit.h"
#include "db/connection_pool.h"
#include "db/session_state.h"
#include "db/usage_store.h"
#include "db/user_store.h"

namespace moat::broker {

struct CreateSessionRequest {
  std::string user;
  std::optional<std::string> backend{};      // policy's when absent
  wire::Json limits = wire::Json::object();  // over the policy's default_limits, key by key
  bool desktop = true;
  std::optional<std::string> geometry{};  // the policy's desktop_geometry when absent
  std::optional<std::int64_t> depth{};    // the policy's desktop_depth when absent
};

struct CreatedSession {
  SessionView session;
  bool reconnected = false;  // the user's disconnected session, given back
};

struct AppLaunchRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::optional<std::string> cwd;
  std::optional<double> cpu_percent;
};

class SessionService {
 public:
  SessionService(db::ConnectionPool& pool, AgentHub& agents, Events& events, Metrics& metrics);

  Result<CreatedSession> Create(const CreateSessionRequest& request, const db::Actor& actor);
  // `limits` is a JSON object of limit keys; validated before anything is sent or written.
  Result<SessionView> SetLimits(std::string_view id, const wire::Json& limits,
                                const db::Actor& actor);
  Result<SessionView> Suspend(std::string_view id, const db::Actor& actor);
  Result<SessionView> Resume(std::string_view id, const db::Actor& actor);
  Result<SessionView> Disconnect(std::string_view id, const db::Actor& actor);
  // The owner's display client is back: a disconnected session becomes active (an active one
  // stays as it is).
  Result<SessionView> Reconnect(std::string_view id, const db::Actor& actor,
                                std::string_view detail);
  // Asks the session's host to open its desktop tunnel for `ticket` (DesktopTunnels).
  Status OpenDisplayTunnel(std::string_view id, const std::string& ticket);
  // Keyboard or mouse input arrived through the display gateway: the session is not idle.
  Status NoteInput(std::string_view id);
  // Called after every committed state change, on the thread that made it. Set before the
  // broker serves anything.
  using StateListener = std::function<void(const SessionView& after, const std::string& before)>;
  void SetStateListener(StateListener listener) { state_listener_ = std::move(listener); }
  Result<SessionView> End(std::string_view id, const db::Actor& actor, std::string_view reason);

  Result<wire::Json> LaunchApp(std::string_view id, const AppLaunchRequest& app,
                               const db::Actor& actor);
  Result<wire::Json> Processes(std::string_view id);
  // Shows `text` on the session's desktop (xmessage on its display), audited.
  Result<wire::Json> SendMessage(std::string_view id, const std::string& text,
                                 const db::Actor& actor);
  Result<wire::Json> Kill(std::string_view id, std::int64_t pid, int signal,
                          const db::Actor& actor);
  // The effective limits, read back from the host's kernel.
  Result<wire::Json> EffectiveLimits(std::string_view id);

  // Agent reports (from AgentHub, off the I/O threads).
  void OnHello(std::int64_t host_id, const wire::HostHello& hello);
  void OnDisconnect(std::int64_t host_id);
  void OnUsage(std::int64_t host_id, const wire::UsageBatch& batch);

  // Housekeeping: ends sessions past the idle, disconnected or lifetime limits of their policy.
  Result<int> ApplyTimeouts();

  // The latest usage sample of each live session, for listings.
  std::optional<wire::UsageSample> LatestUsage(const std::string& id) const;
  // The same, serialised once when it arrives: session id → JSON object text.
  using UsageJson = std::map<std::string, std::string, std::less<>>;
  std::shared_ptr<const UsageJson> LatestUsageJson() const;

  // Moves on with every change this broker makes to what listings show (a session's state,
  // limits, host, usage), so a cached listing is reused only while nothing changed.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  void Changed() { generation_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  Result<wire::Json> AgentCall(std::int64_t host_id, const wire::Envelope& request);
  Result<SessionView> Transition(const db::Database& db, std::string_view id, db::SessionState to,
                                 const db::Actor& actor, std::string_view detail = "{}");
  Result<SessionView> LiveSessionOnHost(const db::Database& db, std::string_view id);
  Result<SessionView> FinishEnd(std::string_view id, const db::Actor& actor);
  void Reconcile(std::int64_t host_id, const wire::HostHello& hello);
  void EndWallsOfTimedOutCreates(std::int64_t host_id, const wire::UsageBatch& batch);

  db::ConnectionPool& pool_;
  AgentHub& agents_;
  Events& events_;
  Metrics& metrics_;

  std::mutex placement_mutex_;  // policy count, placement and insert of a new session
  mutable std::mutex mutex_;
  std::set<std::string> in_flight_;  // being created: reconciliation leaves them alone
  // Creates the agent did not answer in time: the row is failed, but the agent may still
  // finish the wall. Its first usage sample says so, and the wall is ended then.
  // Kept for kLateWallWatch at most: by then the agent has answered or been reconciled.
  std::map<std::string, std::chrono::steady_clock::time_point> timed_out_creates_;
  static constexpr std::chrono::minutes kLateWallWatch{10};
  std::map<std::string, wire::UsageSample> latest_usage_;
  std::map<std::int64_t, std::string> host_names_;  // for usage events, filled at hello
  std::shared_ptr<const UsageJson> latest_usage_json_ = std::make_shared<UsageJson>();
  std::atomic<std::uint64_t> generation_{0};
  StateListener state_listener_;
  std::optional<db::Database> usage_db_;  // the ingestion connection, with its prepared insert
  std::optional<db::UsageStore> usage_store_;
  std::mutex usage_mutex_;
};

}  // namespace moat::broker
