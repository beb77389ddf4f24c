-- Keys that sign the JWTs the server issues (registry tokens, OAuth2 access
-- tokens). Shared by every replica through the database, so treat the
-- database with the care a private key deserves.

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    -- PKCS#8 DER of the ECDSA P-256 private key.
    private_key  BYTEA NOT NULL,
    -- DER of the self-signed certificate registries trust (rootcertbundle).
    certificate  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    -- Signing starts here; until then the key is only published.
    not_before   BIGINT NOT NULL,
    -- Signing stopped here; the key stays published while tokens it signed live.
    retired_at   BIGINT
);
