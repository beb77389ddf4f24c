//! Repositories of an organization, and everyone who reaches one through
//! the teams with a grant on it.

use robots_core::access::RepoPath;
use robots_core::clock::to_millis;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::error::name_conflict;
use crate::records::{member_kind, name, optional_name, permission, repo_path, time};
use crate::trail::recorded;
use crate::{Page, RepoAccess, Repository, Store, StoreError, fetch_limit, on_pool, page};

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

impl Store {
    /// How many repositories an organization has.
    pub async fn count_repositories(&self, org_id: Uuid) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM repositories WHERE org_id = $1", org_id)
            .await
    }

    pub async fn create_repository(
        &self,
        org_id: Uuid,
        path: &RepoPath,
        created_by: Uuid,
        now: OffsetDateTime,
        record: &AuditEvent,
    ) -> Result<Repository, StoreError> {
        recorded!(self, record, tx => sqlx::query(
            "INSERT INTO repositories (id, org_id, name, created_at, created_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(Uuid::now_v7())
            .bind(org_id)
            .bind(path.as_str())
            .bind(to_millis(now))
            .bind(created_by)
            .execute(&mut *tx)
            .await
            .map_err(name_conflict)?
            .rows_affected());
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
    pub async fn delete_repository(&self, repository_id: Uuid, record: &AuditEvent) -> Result<bool, StoreError> {
        self.delete_announced("DELETE FROM repositories WHERE id = $1", repository_id, record)
            .await
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
}
