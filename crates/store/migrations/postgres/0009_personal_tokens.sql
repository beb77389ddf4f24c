-- Personal access tokens: a user's credentials for automation, limited to
-- scopes and, optionally, to some organizations. Only the hash is stored.
CREATE TABLE personal_tokens (
    id               UUID PRIMARY KEY,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    token_hash       BYTEA NOT NULL UNIQUE,
    -- Space-separated scope names ("orgs:read robots:write").
    scopes           TEXT NOT NULL,
    -- Whether the token is limited to the organizations in
    -- personal_token_orgs: a limited token whose organizations were all
    -- deleted reaches none, rather than every one.
    limited_to_orgs  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    last_used_at     BIGINT,
    last_used_ip     TEXT,
    last_used_agent  TEXT,
    UNIQUE (user_id, name)
);

CREATE TABLE personal_token_orgs (
    token_id  UUID NOT NULL REFERENCES personal_tokens (id) ON DELETE CASCADE,
    org_id    UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, org_id)
);

-- An organization may refuse personal access tokens altogether.
ALTER TABLE orgs ADD COLUMN personal_tokens_allowed BOOLEAN NOT NULL DEFAULT TRUE;
