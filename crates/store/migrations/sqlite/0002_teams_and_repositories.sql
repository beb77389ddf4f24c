-- Teams of users and robots, the organization's repositories, and the
-- grants that give teams access to repositories.

CREATE TABLE teams (
    id           BLOB PRIMARY KEY,
    org_id       BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE team_users (
    team_id     BLOB NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE team_robots (
    team_id     BLOB NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    robot_id    BLOB NOT NULL REFERENCES robots (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (team_id, robot_id)
);
CREATE INDEX team_robots_by_robot ON team_robots (robot_id);

CREATE TABLE repositories (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- The path inside the organization: "web", "apps/web".
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  BLOB REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE grants (
    team_id        BLOB NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repository_id  BLOB NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    permission     TEXT NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (team_id, repository_id)
);
CREATE INDEX grants_by_repository ON grants (repository_id);
