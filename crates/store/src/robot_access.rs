//! The snapshot that decides a robot's access: its organization, its teams
//! and their grants (resolved by `robots_core::access`).

use robots_core::access::{AccessSnapshot, GrantRef, TeamRef};
use uuid::Uuid;

use crate::records::{name, permission, repo_path};
use crate::{Store, StoreError, on_pool};

impl Store {
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
