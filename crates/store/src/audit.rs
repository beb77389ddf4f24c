//! The audit log: who changed what, when and from where, appended and
//! read back newest first.

use robots_core::clock::to_millis;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::records::time;
use crate::{Page, Store, StoreError, in_write_tx, on_pool, page};

/// The start of an audit event's `INSERT`, its columns in the order every
/// writer binds them.
macro_rules! insert_audit_event {
    () => {
        "INSERT INTO audit_events (id, org_id, at, actor_kind, actor, action, target, detail, ip, user_agent, via, request_id)"
    };
}
pub(crate) use insert_audit_event;

/// One audited event. Never holds a secret: callers put names, Access IDs
/// and reasons in it, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: Uuid,
    /// `None`: not tied to one organization.
    pub org_id: Option<Uuid>,
    pub at: OffsetDateTime,
    /// `user`, `robot`, `anonymous` or `system`.
    pub actor_kind: String,
    pub actor: Option<String>,
    /// `robot.created`, `token.rotated`, `auth.failed`, …
    pub action: String,
    pub target: Option<String>,
    /// A JSON object with details.
    pub detail: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// `api`, `console`, `cli` or `system`.
    pub via: String,
    /// The `X-Request-Id` of the request that caused it.
    pub request_id: Option<String>,
}

/// What to look for in the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// Events older than this one (the cursor: newest first).
    pub before: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    org_id: Option<Uuid>,
    at: i64,
    actor_kind: String,
    actor: Option<String>,
    action: String,
    target: Option<String>,
    detail: String,
    ip: Option<String>,
    user_agent: Option<String>,
    via: String,
    request_id: Option<String>,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        AuditEvent {
            id: row.id,
            org_id: row.org_id,
            at: time(row.at),
            actor_kind: row.actor_kind,
            actor: row.actor,
            action: row.action,
            target: row.target,
            detail: row.detail,
            ip: row.ip,
            user_agent: row.user_agent,
            via: row.via,
            request_id: row.request_id,
        }
    }
}

impl Store {
    /// Appends events to the audit log in one transaction.
    pub async fn record_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        in_write_tx!(self, tx => {
            for event in events {
                sqlx::query(concat!(insert_audit_event!(), " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"))
                    .bind(event.id)
                    .bind(event.org_id)
                    .bind(to_millis(event.at))
                    .bind(&event.actor_kind)
                    .bind(event.actor.as_deref())
                    .bind(&event.action)
                    .bind(event.target.as_deref())
                    .bind(&event.detail)
                    .bind(event.ip.as_deref())
                    .bind(event.user_agent.as_deref())
                    .bind(&event.via)
                    .bind(event.request_id.as_deref())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// An organization's audit events (`None`: those of no organization),
    /// newest first. `action` matches exactly or, ending in `.`, as a prefix.
    pub async fn list_audit(
        &self,
        org_id: Option<Uuid>,
        query: &AuditQuery,
        limit: u32,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let action_prefix = query
            .action
            .as_deref()
            .filter(|a| a.ends_with('.'))
            .map(|a| format!("{a}%"));
        let action_exact = query.action.as_deref().filter(|a| !a.ends_with('.'));
        let rows: Vec<AuditRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, org_id, at, actor_kind, actor, action, target, detail, ip, user_agent, via, request_id FROM audit_events
             WHERE (org_id = $1 OR ($1 IS NULL AND org_id IS NULL))
               AND ($2 IS NULL OR id < $2)
               AND ($3 IS NULL OR action = $3)
               AND ($4 IS NULL OR action LIKE $4)
               AND ($5 IS NULL OR actor = $5)
               AND ($6 IS NULL OR target = $6)
               AND ($7 IS NULL OR at >= $7)
               AND ($8 IS NULL OR at < $8)
             ORDER BY id DESC LIMIT $9")
            .bind(org_id)
            .bind(query.before)
            .bind(action_exact)
            .bind(action_prefix)
            .bind(query.actor.as_deref())
            .bind(query.target.as_deref())
            .bind(query.since.map(to_millis))
            .bind(query.until.map(to_millis))
            .bind(crate::fetch_limit(limit))
            .fetch_all(pool)
            .await)?;
        Ok(page(rows.into_iter().map(AuditEvent::from).collect(), limit))
    }

    /// How many audit events there are, in every organization and none.
    pub async fn count_audit_events(&self) -> Result<(i64, i64), StoreError> {
        let (all, instance): (i64, i64) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) - COUNT(org_id) FROM audit_events")
            .fetch_one(pool)
            .await)?;
        Ok((all, instance))
    }
}
