-- A token disabled (not deleted): refused until enabled again. Set by an
-- admin, or by the organization's policy after a stretch without use.
ALTER TABLE robot_tokens ADD COLUMN disabled_at INTEGER;
-- Disable tokens unused (or never used since creation) for this long.
ALTER TABLE orgs ADD COLUMN disable_unused_after_seconds INTEGER;
