-- The instance administrators' floor under every organization's token
-- policy: at most one row (id = 1); none means no floor.
CREATE TABLE instance_policy (
    id                                   INTEGER PRIMARY KEY CHECK (id = 1),
    token_max_lifetime_seconds           INTEGER,
    token_expiry_required                BOOLEAN NOT NULL DEFAULT FALSE,
    personal_token_max_lifetime_seconds  INTEGER,
    updated_at                           INTEGER NOT NULL
);
