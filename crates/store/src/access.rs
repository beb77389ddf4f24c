//! Teams, repositories and grants, and the snapshot that decides a robot's
//! access (resolved by `robots_core::access`).

use robots_core::Name;
use robots_core::access::{AccessSnapshot, GrantRef, Permission, RepoPath, TeamRef};
use robots_core::clock::to_millis;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::name_conflict;
use crate::records::{member_kind, name, optional_name, permission, repo_path, time};
use crate::{
    Page, RepoAccess, Repository, Store, StoreError, Team, TeamGrant, TeamMember, fetch_limit, in_write_tx, on_pool,
    page,
};

#[derive(sqlx::FromRow)]
struct TeamRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    description: String,
    created_at: i64,
    user_count: i64,
    robot_count: i64,
    grant_count: i64,
}

impl TryFrom<TeamRow> for Team {
    type Error = StoreError;
    fn try_from(row: TeamRow) -> Result<Self, StoreError> {
        Ok(Team {
            id: row.id,
            org_id: row.org_id,
            name: name(row.name)?,
            description: row.description,
            created_at: time(row.created_at),
            user_count: row.user_count,
            robot_count: row.robot_count,
            grant_count: row.grant_count,
        })
    }
}

macro_rules! team_columns {
    () => {
        "t.id, t.org_id, t.name, t.description, t.created_at,
         (SELECT COUNT(*) FROM team_users u WHERE u.team_id = t.id) AS user_count,
         (SELECT COUNT(*) FROM team_robots r WHERE r.team_id = t.id) AS robot_count,
         (SELECT COUNT(*) FROM grants g WHERE g.team_id = t.id) AS grant_count
         FROM teams t"
    };
}

#[derive(sqlx::FromRow)]
struct RepositoryRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    created_at: i64,
    created_by: Option<String>,
}

impl TryFrom<RepositoryRow> for Repository {
    type Error = StoreError;
    fn try_from(row: RepositoryRow) -> Result<Self, StoreError> {
        Ok(Repository {
            id: row.id,
            org_id: row.org_id,
            name: repo_path(row.name)?,
            created_at: time(row.created_at),
            created_by: optional_name(row.created_by)?,
        })
    }
}

macro_rules! repository_columns {
    () => {
        "r.id, r.org_id, r.name, r.created_at, cb.name AS created_by
         FROM repositories r LEFT JOIN accounts cb ON cb.id = r.created_by"
    };
}

#[derive(sqlx::FromRow)]
struct GrantRow {
    team: String,
    repository: String,
    permission: String,
    granted_at: i64,
}

impl TryFrom<GrantRow> for TeamGrant {
    type Error = StoreError;
    fn try_from(row: GrantRow) -> Result<Self, StoreError> {
        Ok(TeamGrant {
            team: name(row.team)?,
            repository: repo_path(row.repository)?,
            permission: permission(&row.permission)?,
            granted_at: time(row.granted_at),
        })
    }
}

impl Store {
    pub async fn create_team(
        &self,
        org_id: Uuid,
        team: &Name,
        description: &str,
        now: OffsetDateTime,
    ) -> Result<Team, StoreError> {
        let id = Uuid::now_v7();
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO teams (id, org_id, name, description, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(org_id)
            .bind(team.as_str())
            .bind(description)
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(name_conflict)?;
        self.get_team(org_id, team)
            .await?
            .ok_or_else(|| StoreError::Corrupt("team vanished after insert".into()))
    }

    pub async fn list_teams(&self, org_id: Uuid, after: Option<&str>, limit: u32) -> Result<Page<Team>, StoreError> {
        let rows: Vec<TeamRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", team_columns!(), " WHERE t.org_id = $1 AND t.name > $2 ORDER BY t.name LIMIT $3"))
            .bind(org_id)
            .bind(after.unwrap_or(""))
            .bind(fetch_limit(limit))
            .fetch_all(pool)
            .await)?;
        let items = rows.into_iter().map(Team::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, limit))
    }

    /// How many teams an organization has.
    pub async fn count_teams(&self, org_id: Uuid) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM teams WHERE org_id = $1", org_id).await
    }

    /// How many repositories an organization has.
    pub async fn count_repositories(&self, org_id: Uuid) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM repositories WHERE org_id = $1", org_id)
            .await
    }

    /// Every team of an organization with its grants, by name, in two
    /// queries however many teams there are.
    pub async fn teams_with_grants(&self, org_id: Uuid) -> Result<Vec<(Team, Vec<TeamGrant>)>, StoreError> {
        let rows: Vec<TeamRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", team_columns!(), " WHERE t.org_id = $1 ORDER BY t.name"))
            .bind(org_id)
            .fetch_all(pool)
            .await)?;
        let grants: Vec<GrantRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT t.name AS team, r.name AS repository, g.permission, g.created_at AS granted_at
             FROM grants g JOIN teams t ON t.id = g.team_id JOIN repositories r ON r.id = g.repository_id
             WHERE t.org_id = $1 ORDER BY t.name, r.name")
            .bind(org_id)
            .fetch_all(pool)
            .await)?;
        let mut grants = grants
            .into_iter()
            .map(TeamGrant::try_from)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .peekable();
        let mut teams = Vec::with_capacity(rows.len());
        for row in rows {
            let team = Team::try_from(row)?;
            let mut own = Vec::new();
            while let Some(grant) = grants.next_if(|grant| grant.team == team.name) {
                own.push(grant);
            }
            teams.push((team, own));
        }
        Ok(teams)
    }

    pub async fn get_team(&self, org_id: Uuid, team: &Name) -> Result<Option<Team>, StoreError> {
        let row: Option<TeamRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", team_columns!(), " WHERE t.org_id = $1 AND t.name = $2"))
            .bind(org_id)
            .bind(team.as_str())
            .fetch_optional(pool)
            .await)?;
        row.map(Team::try_from).transpose()
    }

    /// Renames and/or re-describes a team; `None` leaves a field as it is.
    pub async fn update_team(
        &self,
        team: &Team,
        new_name: Option<&Name>,
        new_description: Option<&str>,
    ) -> Result<Option<Team>, StoreError> {
        let updated = on_pool!(self, pool => sqlx::query(
            "UPDATE teams SET name = COALESCE($2, name), description = COALESCE($3, description) WHERE id = $1")
            .bind(team.id)
            .bind(new_name.map(Name::as_str))
            .bind(new_description)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(name_conflict)?;
        if updated == 0 {
            return Ok(None);
        }
        self.changed().await?;
        self.get_team(team.org_id, new_name.unwrap_or(&team.name)).await
    }

    /// Deletes a team; its memberships and grants go with it.
    pub async fn delete_team(&self, team_id: Uuid) -> Result<bool, StoreError> {
        self.delete_announced("DELETE FROM teams WHERE id = $1", team_id).await
    }

    /// Users and robots of a team, users first, each by name.
    pub async fn list_team_members(&self, team_id: Uuid) -> Result<Vec<TeamMember>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            kind: String,
            name: String,
            added_at: i64,
        }
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT 'user' AS kind, a.name AS name, tu.created_at AS added_at
             FROM team_users tu JOIN accounts a ON a.id = tu.user_id WHERE tu.team_id = $1
             UNION ALL
             SELECT 'robot' AS kind, r.name AS name, tr.created_at AS added_at
             FROM team_robots tr JOIN robots r ON r.id = tr.robot_id WHERE tr.team_id = $1
             ORDER BY kind DESC, name")
            .bind(team_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|row| {
                Ok(TeamMember {
                    kind: member_kind(&row.kind)?,
                    name: name(row.name)?,
                    added_at: time(row.added_at),
                })
            })
            .collect()
    }

    /// Adds a user who belongs to the team's organization; `true` if new.
    pub async fn add_team_user(&self, team: &Team, username: &Name, now: OffsetDateTime) -> Result<bool, StoreError> {
        in_write_tx!(self, tx => {
            let user_id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM accounts WHERE name = $1 AND kind = 'user'")
                .bind(username.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let user_id = user_id.ok_or(StoreError::UserNotFound)?;
            let member: Option<String> = sqlx::query_scalar("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
                .bind(team.org_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if member.is_none() {
                return Err(StoreError::NotAnOrgMember);
            }
            let added = sqlx::query(
                "INSERT INTO team_users (team_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(team.id)
                .bind(user_id)
                .bind(to_millis(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(added > 0)
        })
    }

    pub async fn remove_team_user(&self, team_id: Uuid, username: &Name) -> Result<bool, StoreError> {
        let removed = on_pool!(self, pool => sqlx::query(
            "DELETE FROM team_users WHERE team_id = $1
             AND user_id = (SELECT id FROM accounts WHERE name = $2 AND kind = 'user')")
            .bind(team_id)
            .bind(username.as_str())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(removed > 0)
    }

    /// Adds a robot of the team's own organization (no other); `true` if new.
    pub async fn add_team_robot(&self, team: &Team, robot: &Name, now: OffsetDateTime) -> Result<bool, StoreError> {
        in_write_tx!(self, tx => {
            let robot_id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM robots WHERE org_id = $1 AND name = $2")
                .bind(team.org_id)
                .bind(robot.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let robot_id = robot_id.ok_or(StoreError::RobotNotFound)?;
            let added = sqlx::query(
                "INSERT INTO team_robots (team_id, robot_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(team.id)
                .bind(robot_id)
                .bind(to_millis(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            self.changed().await?;
            Ok(added > 0)
        })
    }

    pub async fn remove_team_robot(&self, team: &Team, robot: &Name) -> Result<bool, StoreError> {
        let removed = on_pool!(self, pool => sqlx::query(
            "DELETE FROM team_robots WHERE team_id = $1
             AND robot_id = (SELECT id FROM robots WHERE org_id = $2 AND name = $3)")
            .bind(team.id)
            .bind(team.org_id)
            .bind(robot.as_str())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        self.changed().await?;
        Ok(removed > 0)
    }

    /// The teams a robot belongs to, by name.
    pub async fn robot_teams(&self, robot_id: Uuid) -> Result<Vec<Name>, StoreError> {
        let rows: Vec<String> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT t.name FROM team_robots tr JOIN teams t ON t.id = tr.team_id WHERE tr.robot_id = $1 ORDER BY t.name")
            .bind(robot_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(name).collect()
    }

    pub async fn create_repository(
        &self,
        org_id: Uuid,
        path: &RepoPath,
        created_by: Uuid,
        now: OffsetDateTime,
    ) -> Result<Repository, StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO repositories (id, org_id, name, created_at, created_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(Uuid::now_v7())
            .bind(org_id)
            .bind(path.as_str())
            .bind(to_millis(now))
            .bind(created_by)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(name_conflict)?;
        self.get_repository(org_id, path)
            .await?
            .ok_or_else(|| StoreError::Corrupt("repository vanished after insert".into()))
    }

    pub async fn list_repositories(
        &self,
        org_id: Uuid,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Repository>, StoreError> {
        let rows: Vec<RepositoryRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", repository_columns!(), " WHERE r.org_id = $1 AND r.name > $2 ORDER BY r.name LIMIT $3"))
            .bind(org_id)
            .bind(after.unwrap_or(""))
            .bind(fetch_limit(limit))
            .fetch_all(pool)
            .await)?;
        let items = rows
            .into_iter()
            .map(Repository::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, limit))
    }

    pub async fn get_repository(&self, org_id: Uuid, path: &RepoPath) -> Result<Option<Repository>, StoreError> {
        let row: Option<RepositoryRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", repository_columns!(), " WHERE r.org_id = $1 AND r.name = $2"))
            .bind(org_id)
            .bind(path.as_str())
            .fetch_optional(pool)
            .await)?;
        row.map(Repository::try_from).transpose()
    }

    /// Deletes a repository and every grant on it.
    pub async fn delete_repository(&self, repository_id: Uuid) -> Result<bool, StoreError> {
        self.delete_announced("DELETE FROM repositories WHERE id = $1", repository_id)
            .await
    }

    /// Grants `permission` on a repository to a team (both of one
    /// organization), or changes the grant. Returns it, and whether it is new.
    pub async fn set_grant(
        &self,
        team: &Team,
        repository: &Repository,
        permission: Permission,
        now: OffsetDateTime,
    ) -> Result<(TeamGrant, bool), StoreError> {
        if team.org_id != repository.org_id {
            return Err(StoreError::Corrupt("a grant across organizations".into()));
        }
        in_write_tx!(self, tx => {
            let existed: Option<String> = sqlx::query_scalar(
                "SELECT permission FROM grants WHERE team_id = $1 AND repository_id = $2")
                .bind(team.id)
                .bind(repository.id)
                .fetch_optional(&mut *tx)
                .await?;
            let at = to_millis(now);
            sqlx::query(
                "INSERT INTO grants (team_id, repository_id, permission, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (team_id, repository_id) DO UPDATE SET permission = excluded.permission")
                .bind(team.id)
                .bind(repository.id)
                .bind(permission.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let granted_at: i64 = sqlx::query_scalar(
                "SELECT created_at FROM grants WHERE team_id = $1 AND repository_id = $2")
                .bind(team.id)
                .bind(repository.id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            self.changed().await?;
            Ok((
                TeamGrant { team: team.name.clone(), repository: repository.name.clone(), permission, granted_at: time(granted_at) },
                existed.is_none(),
            ))
        })
    }

    pub async fn revoke_grant(&self, team_id: Uuid, repository_id: Uuid) -> Result<bool, StoreError> {
        let revoked = on_pool!(self, pool => sqlx::query("DELETE FROM grants WHERE team_id = $1 AND repository_id = $2")
            .bind(team_id)
            .bind(repository_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        self.changed().await?;
        Ok(revoked > 0)
    }

    /// A team's grants, by repository.
    pub async fn list_team_grants(&self, team_id: Uuid) -> Result<Vec<TeamGrant>, StoreError> {
        let rows: Vec<GrantRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT t.name AS team, r.name AS repository, g.permission, g.created_at AS granted_at
             FROM grants g JOIN teams t ON t.id = g.team_id JOIN repositories r ON r.id = g.repository_id
             WHERE g.team_id = $1 ORDER BY r.name")
            .bind(team_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(TeamGrant::try_from).collect()
    }

    /// The grants on a repository, by team.
    pub async fn list_repository_grants(&self, repository_id: Uuid) -> Result<Vec<TeamGrant>, StoreError> {
        let rows: Vec<GrantRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT t.name AS team, r.name AS repository, g.permission, g.created_at AS granted_at
             FROM grants g JOIN teams t ON t.id = g.team_id JOIN repositories r ON r.id = g.repository_id
             WHERE g.repository_id = $1 ORDER BY t.name")
            .bind(repository_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(TeamGrant::try_from).collect()
    }

    /// Everyone who reaches a repository: every member (user or robot) of
    /// every team with a grant on it, with the grant and the team.
    pub async fn repository_access(&self, repository_id: Uuid) -> Result<Vec<RepoAccess>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            kind: String,
            name: String,
            permission: String,
            team: String,
        }
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT 'user' AS kind, a.name AS name, g.permission, t.name AS team
             FROM grants g JOIN teams t ON t.id = g.team_id
             JOIN team_users tu ON tu.team_id = t.id JOIN accounts a ON a.id = tu.user_id
             WHERE g.repository_id = $1
             UNION ALL
             SELECT 'robot' AS kind, ro.name AS name, g.permission, t.name AS team
             FROM grants g JOIN teams t ON t.id = g.team_id
             JOIN team_robots tr ON tr.team_id = t.id JOIN robots ro ON ro.id = tr.robot_id
             WHERE g.repository_id = $1
             ORDER BY kind DESC, name, team")
            .bind(repository_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|row| {
                Ok(RepoAccess {
                    kind: member_kind(&row.kind)?,
                    name: name(row.name)?,
                    permission: permission(&row.permission)?,
                    team: name(row.team)?,
                })
            })
            .collect()
    }

    /// What decides a robot's access: its organization, its teams, and their grants.
    pub async fn robot_access(&self, robot_id: Uuid) -> Result<AccessSnapshot, StoreError> {
        #[derive(sqlx::FromRow)]
        struct TeamRow {
            id: Uuid,
            org_id: Uuid,
            name: String,
        }
        #[derive(sqlx::FromRow)]
        struct GrantRow {
            team_id: Uuid,
            repo_org_id: Uuid,
            repository: String,
            permission: String,
        }
        let (robot_org, teams, grants) = on_pool!(self, pool => {
            let robot_org: Option<Uuid> = sqlx::query_scalar("SELECT org_id FROM robots WHERE id = $1")
                .bind(robot_id)
                .fetch_optional(pool)
                .await?;
            let teams: Vec<TeamRow> = sqlx::query_as(
                "SELECT t.id, t.org_id, t.name FROM team_robots tr JOIN teams t ON t.id = tr.team_id WHERE tr.robot_id = $1")
                .bind(robot_id)
                .fetch_all(pool)
                .await?;
            let grants: Vec<GrantRow> = sqlx::query_as(
                "SELECT g.team_id, r.org_id AS repo_org_id, r.name AS repository, g.permission
                 FROM team_robots tr JOIN grants g ON g.team_id = tr.team_id JOIN repositories r ON r.id = g.repository_id
                 WHERE tr.robot_id = $1")
                .bind(robot_id)
                .fetch_all(pool)
                .await?;
            Ok::<_, StoreError>((robot_org, teams, grants))
        })?;
        let Some(robot_org_id) = robot_org else {
            return Ok(AccessSnapshot::default());
        };
        Ok(AccessSnapshot {
            robot_org_id,
            teams: teams
                .into_iter()
                .map(|t| {
                    Ok(TeamRef {
                        id: t.id,
                        org_id: t.org_id,
                        name: name(t.name)?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            grants: grants
                .into_iter()
                .map(|g| {
                    Ok(GrantRef {
                        team_id: g.team_id,
                        repo_org_id: g.repo_org_id,
                        repository: repo_path(g.repository)?,
                        permission: permission(&g.permission)?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
        })
    }
}
