-- Token lifecycle (rotation, expiry notices), disabled robots, organization
-- token policy, the audit log, and webhooks.

ALTER TABLE robots ADD COLUMN disabled_at BIGINT;

-- NULL: no maximum.
ALTER TABLE orgs ADD COLUMN token_max_lifetime_seconds BIGINT;
ALTER TABLE orgs ADD COLUMN token_expiry_required BOOLEAN NOT NULL DEFAULT FALSE;

-- A rotated token keeps its name while it rotates out, so names are unique
-- only among current tokens.
ALTER TABLE robot_tokens DROP CONSTRAINT robot_tokens_robot_id_name_key;
-- Set on a token that rotates out: the Access ID of its successor.
ALTER TABLE robot_tokens ADD COLUMN replaced_by UUID;
-- Set on a successor: the Access ID it replaces.
ALTER TABLE robot_tokens ADD COLUMN rotated_from UUID;
-- When the "expiring soon" notice went out.
ALTER TABLE robot_tokens ADD COLUMN expiry_notified_at BIGINT;
CREATE UNIQUE INDEX robot_tokens_current_name ON robot_tokens (robot_id, name) WHERE replaced_by IS NULL;
CREATE INDEX robot_tokens_by_expiry ON robot_tokens (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE audit_events (
    -- UUID v7: ordered by time, so it is also the pagination key.
    id          UUID PRIMARY KEY,
    -- NULL: not tied to one organization (e.g. a failed login with an unknown token).
    org_id      UUID REFERENCES orgs (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
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
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    -- Signs deliveries (HMAC-SHA256); the receiver holds it too.
    secret      TEXT NOT NULL,
    -- Comma-separated event names.
    events      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  UUID REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE webhook_deliveries (
    id               UUID PRIMARY KEY,
    webhook_id       UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    delivered_at     BIGINT,
    last_status      INTEGER,
    last_error       TEXT,
    -- A replica working on it; others leave it alone until then.
    locked_until     BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
