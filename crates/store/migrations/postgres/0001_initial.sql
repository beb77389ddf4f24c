-- Times are Unix milliseconds (BIGINT) in both backends, so that ordering and
-- comparisons behave the same everywhere. Ids are UUIDs (native UUID here).

CREATE TABLE accounts (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'org')),
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id              UUID PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    instance_admin  BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE orgs (
    id            UUID PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    display_name  TEXT NOT NULL DEFAULT '',
    created_by    UUID REFERENCES users (id) ON DELETE SET NULL,
    -- Touched by every membership change, so that concurrent changes
    -- serialise on this row and the last admin can never be removed.
    updated_at    BIGINT NOT NULL
);

CREATE TABLE org_members (
    org_id      UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_by_user ON org_members (user_id);

CREATE TABLE robots (
    id           UUID PRIMARY KEY,
    org_id       UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    created_by   UUID REFERENCES users (id) ON DELETE SET NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE robot_tokens (
    access_id             UUID PRIMARY KEY,
    robot_id              UUID NOT NULL REFERENCES robots (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    secret_hash           BYTEA NOT NULL UNIQUE,
    created_at            BIGINT NOT NULL,
    created_by            UUID REFERENCES users (id) ON DELETE SET NULL,
    expires_at            BIGINT,
    last_used_at          BIGINT,
    last_used_ip          TEXT,
    last_used_user_agent  TEXT,
    UNIQUE (robot_id, name)
);

CREATE TABLE sessions (
    token_hash  BYTEA PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- One row per code printed by a server that started on an empty database.
CREATE TABLE setup_codes (
    code_hash   BYTEA PRIMARY KEY,
    created_at  BIGINT NOT NULL
);
