-- Token lifecycle (rotation, expiry notices), disabled robots, organization
-- token policy, the audit log, and webhooks.

ALTER TABLE robots ADD COLUMN disabled_at INTEGER;

-- NULL: no maximum.
ALTER TABLE orgs ADD COLUMN token_max_lifetime_seconds INTEGER;
ALTER TABLE orgs ADD COLUMN token_expiry_required BOOLEAN NOT NULL DEFAULT FALSE;

-- A rotated token keeps its name while it rotates out, so names are unique
-- only among current tokens. SQLite cannot drop a table constraint: rebuild.
CREATE TABLE robot_tokens_new (
    access_id             BLOB PRIMARY KEY,
    robot_id              BLOB NOT NULL REFERENCES robots (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    secret_hash           BLOB NOT NULL UNIQUE,
    created_at            INTEGER NOT NULL,
    created_by            BLOB REFERENCES users (id) ON DELETE SET NULL,
    expires_at            INTEGER,
    last_used_at          INTEGER,
    last_used_ip          TEXT,
    last_used_user_agent  TEXT,
    -- Set on a token that rotates out: the Access ID of its successor.
    replaced_by           BLOB,
    -- Set on a successor: the Access ID it replaces.
    rotated_from          BLOB,
    -- When the "expiring soon" notice went out.
    expiry_notified_at    INTEGER
);
INSERT INTO robot_tokens_new (access_id, robot_id, name, secret_hash, created_at, created_by, expires_at,
                              last_used_at, last_used_ip, last_used_user_agent)
SELECT access_id, robot_id, name, secret_hash, created_at, created_by, expires_at,
       last_used_at, last_used_ip, last_used_user_agent
FROM robot_tokens;
DROP TABLE robot_tokens;
ALTER TABLE robot_tokens_new RENAME TO robot_tokens;
CREATE UNIQUE INDEX robot_tokens_current_name ON robot_tokens (robot_id, name) WHERE replaced_by IS NULL;
CREATE INDEX robot_tokens_by_expiry ON robot_tokens (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE audit_events (
    -- UUID v7: ordered by time, so it is also the pagination key.
    id          BLOB PRIMARY KEY,
    -- NULL: not tied to one organization (e.g. a failed login with an unknown token).
    org_id      BLOB REFERENCES orgs (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor       TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    detail      TEXT NOT NULL DEFAULT '{}',
    ip          TEXT,
    user_agent  TEXT,
    via         TEXT NOT NULL
);
CREATE INDEX audit_events_by_org ON audit_events (org_id, id);

CREATE TABLE webhooks (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    -- Signs deliveries (HMAC-SHA256); the receiver holds it too.
    secret      TEXT NOT NULL,
    -- Comma-separated event names.
    events      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  BLOB REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY,
    webhook_id       BLOB NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    delivered_at     INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    -- A replica working on it; others leave it alone until then.
    locked_until     INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
