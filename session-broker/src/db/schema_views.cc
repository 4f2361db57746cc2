// Migration 2: the stable views ops query with `sqlite3 -readonly` or `moatctl sql`. Their
// columns are a contract (docs/database.md): add columns at the end, never rename or drop.
#include "db/schema.h"

namespace moat::broker::db {

extern const std::string_view kSchemaViews = R"sql(
CREATE VIEW v_users AS
SELECT u.id, u.name, u.display_name, u.source, u.role, u.disabled,
       u.created_at, datetime(u.created_at, 'unixepoch') AS created_utc
FROM users AS u;

CREATE VIEW v_sessions AS
SELECT s.id,
       u.name AS user_name,
       h.name AS host_name,
       s.backend,
       s.state,
       CASE s.state
         WHEN 'starting' THEN 'Starting'
         WHEN 'active' THEN 'Active'
         WHEN 'disconnected' THEN 'Disconnected'
         WHEN 'suspended' THEN 'Suspended'
         WHEN 'ending' THEN 'Ending'
         WHEN 'ended' THEN 'Ended'
         WHEN 'failed' THEN 'Failed'
       END AS state_label,
       s.state NOT IN ('ended', 'failed') AS live,
       s.limits,
       s.created_at,
       datetime(s.created_at, 'unixepoch') AS created_utc,
       s.updated_at,
       s.last_input_at,
       s.ended_at,
       coalesce(s.ended_at, CAST(strftime('%s', 'now') AS INTEGER)) - s.created_at AS age_s,
       s.failure_reason,
       s.user_id,
       s.host_id
FROM sessions AS s
JOIN users AS u ON u.id = s.user_id
LEFT JOIN hosts AS h ON h.id = s.host_id;

CREATE VIEW v_session_usage_minute AS
SELECT m.session_id,
       u.name AS user_name,
       h.name AS host_name,
       m.minute,
       datetime(m.minute, 'unixepoch') AS minute_utc,
       m.samples,
       m.cpu_percent_avg,
       m.cpu_percent_max,
       m.cpu_usage_us,
       m.memory_avg,
       m.memory_max,
       m.pids_max,
       m.io_read_bytes,
       m.io_write_bytes,
       m.oom_kills
FROM usage_minutes AS m
JOIN sessions AS s ON s.id = m.session_id
JOIN users AS u ON u.id = s.user_id
LEFT JOIN hosts AS h ON h.id = s.host_id;

CREATE VIEW v_audit AS
SELECT e.id,
       e.at,
       datetime(e.at, 'unixepoch') AS at_utc,
       coalesce(a.name, 'system') AS actor,
       e.actor_id,
       e.kind,
       e.session_id,
       su.name AS session_user,
       e.old_value,
       e.new_value,
       e.detail
FROM session_events AS e
LEFT JOIN users AS a ON a.id = e.actor_id
LEFT JOIN sessions AS s ON s.id = e.session_id
LEFT JOIN users AS su ON su.id = s.user_id;

CREATE VIEW v_hosts_load AS
SELECT h.id,
       h.name,
       h.address,
       h.state,
       h.enabled,
       h.drained,
       h.capacity,
       count(s.id) AS live_sessions,
       h.capacity - count(s.id) AS free_slots,
       CASE WHEN h.capacity > 0 THEN round(100.0 * count(s.id) / h.capacity, 1) END
         AS load_percent,
       h.last_seen,
       datetime(h.last_seen, 'unixepoch') AS last_seen_utc
FROM hosts AS h
LEFT JOIN sessions AS s ON s.host_id = h.id AND s.state NOT IN ('ended', 'failed')
GROUP BY h.id;
)sql";

}  // namespace moat::broker::db
