//! Grants: a team's permission on a repository of its organization.

use robots_core::access::Permission;
use robots_core::clock::to_millis;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::records::{name, permission, repo_path, time};
use crate::trail::{recorded, write_audit};
use crate::{Repository, Store, StoreError, Team, TeamGrant, in_write_tx, on_pool};

#[derive(sqlx::FromRow)]
pub(crate) struct GrantRow {
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
    /// Grants `permission` on a repository to a team (both of one
    /// organization), or changes the grant. Returns it, and whether it is new.
    pub async fn set_grant(
        &self,
        team: &Team,
        repository: &Repository,
        permission: Permission,
        now: OffsetDateTime,
        record: &AuditEvent,
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
            write_audit!(tx, record);
            tx.commit().await?;
            self.changed().await?;
            Ok((
                TeamGrant { team: team.name.clone(), repository: repository.name.clone(), permission, granted_at: time(granted_at) },
                existed.is_none(),
            ))
        })
    }

    /// Takes a team's grant on a repository away; `true` if it had one (and
    /// then recorded).
    pub async fn revoke_grant(
        &self,
        team_id: Uuid,
        repository_id: Uuid,
        record: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let revoked = recorded!(self, record, tx => sqlx::query("DELETE FROM grants WHERE team_id = $1 AND repository_id = $2")
            .bind(team_id)
            .bind(repository_id)
            .execute(&mut *tx)
            .await?
            .rows_affected());
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
}
