-- A robot's tokens are listed (oldest first, paged by created_at and
-- Access ID), counted and cascaded on delete by robot: without this index
-- each of those read every token of the installation.
CREATE INDEX robot_tokens_by_robot ON robot_tokens (robot_id, created_at, access_id);
