//! Robot accounts.

use robots_core::Name;
use robots_core::clock::to_millis;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::error::name_conflict;
use crate::records::{name, optional_name, optional_time, time};
use crate::trail::{recorded, write_trail};
use crate::{
    NewRobot, Page, Robot, RobotPatch, RobotRef, Store, StoreError, Trail, fetch_limit, in_write_tx, lock_row, on_pool,
    page,
};

#[derive(sqlx::FromRow)]
struct RobotRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    description: String,
    created_at: i64,
    created_by: Option<String>,
    updated_at: i64,
    token_count: i64,
    last_used_at: Option<i64>,
    disabled_at: Option<i64>,
    self_rotate: bool,
}

impl TryFrom<RobotRow> for Robot {
    type Error = StoreError;
    fn try_from(row: RobotRow) -> Result<Self, StoreError> {
        Ok(Robot {
            id: row.id,
            org_id: row.org_id,
            name: name(row.name)?,
            description: row.description,
            created_at: time(row.created_at),
            created_by: optional_name(row.created_by)?,
            updated_at: time(row.updated_at),
            token_count: row.token_count,
            last_used_at: optional_time(row.last_used_at),
            disabled_at: optional_time(row.disabled_at),
            self_rotate: row.self_rotate,
        })
    }
}

/// The columns of [`RobotRow`], for `SELECT … FROM robots r`. A macro so it
/// can be spliced into the static query strings with `concat!`.
macro_rules! robot_columns {
    () => {
        "r.id, r.org_id, r.name, r.description, r.created_at, cb.name AS created_by, r.updated_at, r.disabled_at,
         r.self_rotate, (SELECT COUNT(*) FROM robot_tokens t WHERE t.robot_id = r.id) AS token_count,
         (SELECT MAX(t.last_used_at) FROM robot_tokens t WHERE t.robot_id = r.id) AS last_used_at
         FROM robots r LEFT JOIN accounts cb ON cb.id = r.created_by"
    };
}

impl Store {
    /// Creates a robot, adds it to `teams` (teams of its organization) and
    /// writes its [`Trail`], in one transaction: a robot never exists
    /// without the rights it was made for, nor without its record. Refused
    /// when its organization has `limit` robots already
    /// ([`StoreError::LimitReached`]); the organization's row is locked
    /// before counting, so concurrent creations count one after another.
    pub async fn create_robot(
        &self,
        robot: &NewRobot<'_>,
        teams: &[Uuid],
        now: OffsetDateTime,
        limit: u32,
        trail: &Trail<'_>,
    ) -> Result<Robot, StoreError> {
        let id = Uuid::now_v7();
        let at = to_millis(now);
        let webhooks = self.trail_webhooks(trail).await?;
        in_write_tx!(self, tx => {
            lock_row!(self, tx, "accounts", robot.org_id);
            let inserted = sqlx::query(
                "INSERT INTO robots (id, org_id, name, description, created_at, created_by, updated_at)
                 SELECT $1, $2, $3, $4, $5, $6, $5
                 WHERE (SELECT COUNT(*) FROM robots WHERE org_id = $2) < $7")
                .bind(id)
                .bind(robot.org_id)
                .bind(robot.name.as_str())
                .bind(robot.description)
                .bind(at)
                .bind(robot.created_by)
                .bind(i64::from(limit))
                .execute(&mut *tx)
                .await
                .map_err(name_conflict)?
                .rows_affected();
            if inserted == 0 {
                return Err(StoreError::LimitReached {
                    what: "robots in an organization",
                    limit,
                });
            }
            for team in teams {
                let joined = sqlx::query(
                    "INSERT INTO team_robots (team_id, robot_id, created_at)
                     SELECT id, $2, $3 FROM teams WHERE id = $1 AND org_id = $4")
                    .bind(team)
                    .bind(id)
                    .bind(at)
                    .bind(robot.org_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if joined == 0 {
                    return Err(StoreError::TeamNotFound);
                }
            }
            write_trail!(tx, trail, &webhooks);
            tx.commit().await?;
        });
        if !teams.is_empty() {
            self.changed().await?;
        }
        self.get_robot_by_id(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("robot vanished after insert".into()))
    }

    pub async fn list_robots(&self, org_id: Uuid, after: Option<&str>, limit: u32) -> Result<Page<Robot>, StoreError> {
        let rows: Vec<RobotRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", robot_columns!(), " WHERE r.org_id = $1 AND r.name > $2 ORDER BY r.name LIMIT $3"))
            .bind(org_id)
            .bind(after.unwrap_or(""))
            .bind(fetch_limit(limit))
            .fetch_all(pool)
            .await)?;
        let items = rows.into_iter().map(Robot::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, limit))
    }

    /// How many robots an organization has.
    pub async fn count_robots(&self, org_id: Uuid) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM robots WHERE org_id = $1", org_id)
            .await
    }

    pub async fn get_robot(&self, org_id: Uuid, robot: &Name) -> Result<Option<Robot>, StoreError> {
        let row: Option<RobotRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", robot_columns!(), " WHERE r.org_id = $1 AND r.name = $2"))
            .bind(org_id)
            .bind(robot.as_str())
            .fetch_optional(pool)
            .await)?;
        row.map(Robot::try_from).transpose()
    }

    /// A robot by name, without its token aggregates. Found robots are
    /// remembered under the change generation: renaming, disabling or
    /// deleting a robot bumps it.
    pub async fn get_robot_ref(&self, org_id: Uuid, robot: &Name) -> Result<Option<RobotRef>, StoreError> {
        let spread = org_id.as_bytes()[15] ^ robot.as_str().bytes().fold(0, u8::wrapping_add);
        let read = async {
            let row: Option<(Uuid, String, Option<i64>)> = on_pool!(self, pool => sqlx::query_as(
                "SELECT id, name, disabled_at FROM robots WHERE org_id = $1 AND name = $2")
                .bind(org_id)
                .bind(robot.as_str())
                .fetch_optional(pool)
                .await)?;
            row.map(|(id, robot_name, disabled_at)| {
                Ok(RobotRef {
                    id,
                    org_id,
                    name: name(robot_name)?,
                    disabled_at: optional_time(disabled_at),
                })
            })
            .transpose()
        };
        self.remembered(&self.caches.robots, spread, (org_id, robot.clone()), read)
            .await
    }

    pub async fn get_robot_by_id(&self, id: Uuid) -> Result<Option<Robot>, StoreError> {
        let row: Option<RobotRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", robot_columns!(), " WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        row.map(Robot::try_from).transpose()
    }

    /// Renames, re-describes and/or allows or forbids self-rotation; `None`
    /// leaves a field as it is. Its tokens keep working under the new name.
    pub async fn update_robot(
        &self,
        robot_id: Uuid,
        patch: RobotPatch<'_>,
        now: OffsetDateTime,
        record: &AuditEvent,
    ) -> Result<Option<Robot>, StoreError> {
        let updated = recorded!(self, record, tx => sqlx::query(
            "UPDATE robots SET name = COALESCE($2, name), description = COALESCE($3, description),
             self_rotate = COALESCE($5, self_rotate), updated_at = $4 WHERE id = $1")
            .bind(robot_id)
            .bind(patch.name.map(Name::as_str))
            .bind(patch.description)
            .bind(to_millis(now))
            .bind(patch.self_rotate)
            .execute(&mut *tx)
            .await
            .map_err(name_conflict)?
            .rows_affected());
        if updated == 0 {
            return Ok(None);
        }
        self.changed().await?;
        self.get_robot_by_id(robot_id).await
    }

    /// Disables (`Some(at)`) or enables (`None`) a robot; `false` if it does not exist.
    pub async fn set_robot_disabled(
        &self,
        robot_id: Uuid,
        disabled_at: Option<OffsetDateTime>,
        record: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let updated = recorded!(self, record, tx => sqlx::query("UPDATE robots SET disabled_at = $2 WHERE id = $1")
            .bind(robot_id)
            .bind(disabled_at.map(to_millis))
            .execute(&mut *tx)
            .await?
            .rows_affected());
        self.changed().await?;
        Ok(updated > 0)
    }

    /// Deletes a robot and its tokens; `false` if it did not exist.
    pub async fn delete_robot(&self, robot_id: Uuid, record: &AuditEvent) -> Result<bool, StoreError> {
        self.delete_announced("DELETE FROM robots WHERE id = $1", robot_id, record)
            .await
    }
}
