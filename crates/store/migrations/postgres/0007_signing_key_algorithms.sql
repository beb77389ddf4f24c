-- Keys of two algorithms sign side by side: ES256 (registries, the default)
-- and RS256 (relying parties that accept nothing else). A new key retires
-- only the older keys of its own algorithm.
ALTER TABLE signing_keys ADD COLUMN algorithm TEXT NOT NULL DEFAULT 'ES256';
