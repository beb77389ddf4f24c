-- Federated credentials: which CI jobs may trade their OIDC ID token for a
-- short-lived token of a robot, by issuer, audience and claim conditions.
CREATE TABLE federated_credentials (
    id           UUID PRIMARY KEY,
    robot_id     UUID NOT NULL REFERENCES robots (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    issuer       TEXT NOT NULL,
    audience     TEXT NOT NULL,
    -- A pattern on the `sub` claim (`*` matches anything).
    subject      TEXT NOT NULL,
    -- A JSON object: claim name -> pattern.
    claims       TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL,
    created_by   UUID REFERENCES users (id) ON DELETE SET NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (robot_id, name)
);

-- Set on a token minted by an exchange: the credential that allowed it.
-- Such tokens live minutes, do not count against the per-robot cap, and are
-- deleted with their credential.
ALTER TABLE robot_tokens ADD COLUMN federated_credential_id UUID REFERENCES federated_credentials (id) ON DELETE CASCADE;
CREATE INDEX robot_tokens_federated ON robot_tokens (federated_credential_id) WHERE federated_credential_id IS NOT NULL;
