-- A robot allowed to rotate the token it authenticates with (and nothing
-- else), for automation that renews its own credential.
ALTER TABLE robots ADD COLUMN self_rotate BOOLEAN NOT NULL DEFAULT FALSE;
