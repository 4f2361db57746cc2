// Migration 1: the tables. STRICT everywhere; timestamps are INTEGER unix seconds (UTC); JSON
// columns are TEXT checked with json_valid(). Users and sessions are never deleted while
// referenced (users are disabled, sessions end), so the audit trail keeps its foreign keys.
#include "db/schema.h"

namespace moat::broker::db {

extern const std::string_view kSchemaTables = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
  display_name  TEXT NOT NULL DEFAULT '',
  password_hash TEXT,
  source        TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'pam')),
  role          TEXT NOT NULL DEFAULT 'user'
                CHECK (role IN ('admin', 'operator', 'auditor', 'user')),
  created_at    INTEGER NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  -- A local user logs in with a password; a PAM user's password lives with PAM.
  CHECK (source = 'pam' OR password_hash IS NOT NULL)
) STRICT;

CREATE TABLE auth_tokens (
  token_hash   BLOB PRIMARY KEY CHECK (length(token_hash) = 32),  -- SHA-256 of the token
  user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  revoked_at   INTEGER,
  last_used_at INTEGER
) STRICT;
CREATE INDEX auth_tokens_by_user ON auth_tokens (user_id);
CREATE INDEX auth_tokens_by_expiry ON auth_tokens (expires_at);

-- One row per failed login, per user name and per client address; read over a sliding window.
CREATE TABLE login_failures (
  id      INTEGER PRIMARY KEY,
  kind    TEXT NOT NULL CHECK (kind IN ('user', 'address')),
  subject TEXT NOT NULL,
  at      INTEGER NOT NULL
) STRICT;
CREATE INDEX login_failures_by_subject ON login_failures (kind, subject, at);

CREATE TABLE hosts (
  id               INTEGER PRIMARY KEY,
  name             TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 253),
  address          TEXT NOT NULL,
  capacity         INTEGER NOT NULL DEFAULT 0 CHECK (capacity >= 0),  -- sessions
  enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  drained          INTEGER NOT NULL DEFAULT 0 CHECK (drained IN (0, 1)),
  state            TEXT NOT NULL DEFAULT 'unknown'
                   CHECK (state IN ('unknown', 'online', 'offline')),
  last_seen        INTEGER,
  cert_fingerprint TEXT,  -- SHA-256 of the agent's client certificate, hex
  created_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
  id             TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  user_id        INTEGER NOT NULL REFERENCES users (id),
  host_id        INTEGER REFERENCES hosts (id),  -- NULL until placed
  backend        TEXT NOT NULL CHECK (backend IN ('sandbox', 'vm')),
  state          TEXT NOT NULL CHECK (state IN ('starting', 'active', 'disconnected',
                                                'suspended', 'ending', 'ended', 'failed')),
  limits         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(limits)),
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  last_input_at  INTEGER,
  ended_at       INTEGER,
  failure_reason TEXT
) STRICT;
CREATE INDEX sessions_by_state ON sessions (state, created_at);
CREATE INDEX sessions_by_user ON sessions (user_id, state);
CREATE INDEX sessions_by_host ON sessions (host_id, state);

-- The audit trail: every session state change and every admin action, with who, what, when and
-- the old and new values. actor_id NULL means the broker itself ('system').
CREATE TABLE session_events (
  id         INTEGER PRIMARY KEY,
  session_id TEXT REFERENCES sessions (id),
  at         INTEGER NOT NULL,
  actor_id   INTEGER REFERENCES users (id),
  kind       TEXT NOT NULL CHECK (length(kind) > 0),
  old_value  TEXT,
  new_value  TEXT,
  detail     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
) STRICT;
CREATE INDEX session_events_by_session ON session_events (session_id, id);
CREATE INDEX session_events_by_time ON session_events (at);
CREATE INDEX session_events_by_kind ON session_events (kind, at);

CREATE TABLE apps (
  id         INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions (id),
  name       TEXT NOT NULL,
  argv       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(argv)),
  pid        INTEGER,
  cgroup     TEXT,  -- the application's sub-group inside the session's cgroup
  started_at INTEGER NOT NULL,
  ended_at   INTEGER,
  exit_code  INTEGER
) STRICT;
CREATE INDEX apps_by_session ON apps (session_id);

-- Raw usage, one row per session per second, kept for a configurable time. Counters
-- (cpu_usage_us, io_*_bytes, oom_kills) are cumulative as the cgroup reports them.
CREATE TABLE usage_samples (
  session_id     TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  at             INTEGER NOT NULL,
  cpu_usage_us   INTEGER NOT NULL,
  cpu_percent    REAL NOT NULL,
  memory_current INTEGER NOT NULL,
  memory_peak    INTEGER NOT NULL,
  pids           INTEGER NOT NULL,
  io_read_bytes  INTEGER NOT NULL,
  io_write_bytes INTEGER NOT NULL,
  oom_kills      INTEGER NOT NULL,
  PRIMARY KEY (session_id, at)
) STRICT, WITHOUT ROWID;
CREATE INDEX usage_samples_by_time ON usage_samples (at);

-- Usage rolled up per completed minute, kept longer. minute = start of the minute. Deltas are
-- last minus first counter value within the minute.
CREATE TABLE usage_minutes (
  session_id      TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  minute          INTEGER NOT NULL CHECK (minute % 60 = 0),
  samples         INTEGER NOT NULL,
  cpu_percent_avg REAL NOT NULL,
  cpu_percent_max REAL NOT NULL,
  cpu_usage_us    INTEGER NOT NULL,
  memory_avg      INTEGER NOT NULL,
  memory_max      INTEGER NOT NULL,
  pids_max        INTEGER NOT NULL,
  io_read_bytes   INTEGER NOT NULL,
  io_write_bytes  INTEGER NOT NULL,
  oom_kills       INTEGER NOT NULL,
  PRIMARY KEY (session_id, minute)
) STRICT, WITHOUT ROWID;
CREATE INDEX usage_minutes_by_time ON usage_minutes (minute);

-- Policies by scope: 'user' over 'group' over 'global'. subject is the user or group name, ''
-- for global. value is JSON.
CREATE TABLE policies (
  id         INTEGER PRIMARY KEY,
  scope      TEXT NOT NULL CHECK (scope IN ('global', 'group', 'user')),
  subject    TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL CHECK (json_valid(value)),
  updated_at INTEGER NOT NULL,
  updated_by INTEGER REFERENCES users (id),
  UNIQUE (scope, subject, key),
  CHECK ((scope = 'global') = (subject = ''))
) STRICT;
)sql";

}  // namespace moat::broker::db
