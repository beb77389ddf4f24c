//! Teams of an organization, and their members: users of the
//! organization, and its robots.

use robots_core::Name;
use robots_core::clock::to_millis;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::error::name_conflict;
use crate::grants::GrantRow;
use crate::records::{member_kind, name, time};
use crate::trail::{recorded, write_audit};
use crate::{Page, Store, StoreError, Team, TeamGrant, TeamMember, fetch_limit, in_write_tx, on_pool, page};

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

impl Store {
    pub async fn create_team(
        &self,
        org_id: Uuid,
        team: &Name,
        description: &str,
        now: OffsetDateTime,
        record: &AuditEvent,
    ) -> Result<Team, StoreError> {
        let id = Uuid::now_v7();
        recorded!(self, record, tx => sqlx::query(
            "INSERT INTO teams (id, org_id, name, description, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(org_id)
            .bind(team.as_str())
            .bind(description)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await
            .map_err(name_conflict)?
            .rows_affected());
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
        record: &AuditEvent,
    ) -> Result<Option<Team>, StoreError> {
        let updated = recorded!(self, record, tx => sqlx::query(
            "UPDATE teams SET name = COALESCE($2, name), description = COALESCE($3, description) WHERE id = $1")
            .bind(team.id)
            .bind(new_name.map(Name::as_str))
            .bind(new_description)
            .execute(&mut *tx)
            .await
            .map_err(name_conflict)?
            .rows_affected());
        if updated == 0 {
            return Ok(None);
        }
        self.changed().await?;
        self.get_team(team.org_id, new_name.unwrap_or(&team.name)).await
    }

    /// Deletes a team; its memberships and grants go with it.
    pub async fn delete_team(&self, team_id: Uuid, record: &AuditEvent) -> Result<bool, StoreError> {
        self.delete_announced("DELETE FROM teams WHERE id = $1", team_id, record)
            .await
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

    /// Adds a user who belongs to the team's organization; `true` if new
    /// (and then recorded).
    pub async fn add_team_user(
        &self,
        team: &Team,
        username: &Name,
        now: OffsetDateTime,
        record: &AuditEvent,
    ) -> Result<bool, StoreError> {
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
            if added > 0 {
                write_audit!(tx, record);
            }
            tx.commit().await?;
            Ok(added > 0)
        })
    }

    /// Takes a user out of a team; `true` if they were in it (and then
    /// recorded).
    pub async fn remove_team_user(
        &self,
        team_id: Uuid,
        username: &Name,
        record: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let removed = recorded!(self, record, tx => sqlx::query(
            "DELETE FROM team_users WHERE team_id = $1
             AND user_id = (SELECT id FROM accounts WHERE name = $2 AND kind = 'user')")
            .bind(team_id)
            .bind(username.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected());
        Ok(removed > 0)
    }

    /// Adds a robot of the team's own organization (no other); `true` if new
    /// (and then recorded).
    pub async fn add_team_robot(
        &self,
        team: &Team,
        robot: &Name,
        now: OffsetDateTime,
        record: &AuditEvent,
    ) -> Result<bool, StoreError> {
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
            if added > 0 {
                write_audit!(tx, record);
            }
            tx.commit().await?;
            self.changed().await?;
            Ok(added > 0)
        })
    }

    /// Takes a robot out of a team; `true` if it was in it (and then
    /// recorded).
    pub async fn remove_team_robot(&self, team: &Team, robot: &Name, record: &AuditEvent) -> Result<bool, StoreError> {
        let removed = recorded!(self, record, tx => sqlx::query(
            "DELETE FROM team_robots WHERE team_id = $1
             AND robot_id = (SELECT id FROM robots WHERE org_id = $2 AND name = $3)")
            .bind(team.id)
            .bind(team.org_id)
            .bind(robot.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected());
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
}
