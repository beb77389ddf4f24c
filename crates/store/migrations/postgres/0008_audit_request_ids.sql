-- The id of the request that caused an event (X-Request-Id), to find its
-- log lines.
ALTER TABLE audit_events ADD COLUMN request_id TEXT;
