-- What people are owed a word about: a token crossing a threshold before it
-- expires (30, 7, 1 days), or disabled for going unused. Recorded once each
-- (the unique indexes below, whichever replica gets there first), announced
-- to webhooks as it is recorded, and mailed when mail is configured.
CREATE TABLE token_notices (
    id                 BLOB PRIMARY KEY,
    -- Who is told: an organization's admins about its robot tokens, a user
    -- about their personal access tokens.
    org_id             BLOB REFERENCES orgs (id) ON DELETE CASCADE,
    user_id            BLOB REFERENCES users (id) ON DELETE CASCADE,
    access_id          BLOB REFERENCES robot_tokens (access_id) ON DELETE CASCADE,
    personal_token_id  BLOB REFERENCES personal_tokens (id) ON DELETE CASCADE,
    reason             TEXT NOT NULL CHECK (reason IN ('expiring', 'disabled')),
    -- 'expiring': the threshold crossed, in days before expiry.
    within_days        INTEGER,
    created_at         INTEGER NOT NULL,
    -- When it went out in a mail; never, while no mail is configured.
    mailed_at          INTEGER,
    CHECK ((org_id IS NOT NULL AND access_id IS NOT NULL) OR (user_id IS NOT NULL AND personal_token_id IS NOT NULL))
);
CREATE UNIQUE INDEX token_notices_robot_expiry ON token_notices (access_id, within_days) WHERE reason = 'expiring';
CREATE UNIQUE INDEX token_notices_personal_expiry ON token_notices (personal_token_id, within_days) WHERE reason = 'expiring';
CREATE UNIQUE INDEX token_notices_disabled ON token_notices (access_id, created_at) WHERE reason = 'disabled';
CREATE INDEX token_notices_unmailed ON token_notices (created_at) WHERE mailed_at IS NULL;

-- The days a recipient (an organization or a user) was mailed: at most one
-- mail a day, claimed here before it is sent so replicas never both send.
CREATE TABLE notice_mails (
    recipient  BLOB NOT NULL,
    -- Days since 1970-01-01, UTC.
    day        INTEGER NOT NULL,
    PRIMARY KEY (recipient, day)
);

-- The one "expiring soon" notice of earlier versions was the 7-day one.
INSERT INTO token_notices (id, org_id, access_id, reason, within_days, created_at, mailed_at)
SELECT randomblob(16), r.org_id, t.access_id, 'expiring', 7, t.expiry_notified_at, t.expiry_notified_at
FROM robot_tokens t JOIN robots r ON r.id = t.robot_id
WHERE t.expiry_notified_at IS NOT NULL;
ALTER TABLE robot_tokens DROP COLUMN expiry_notified_at;
