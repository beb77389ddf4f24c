//! The trail a change leaves: its audit event and its webhook deliveries,
//! written with the change itself (in its transaction, or in its SQLite
//! write script).

use robots_core::clock::to_millis;
use uuid::Uuid;

use crate::Store;
use crate::audit::{AuditEvent, insert_audit_event};
use crate::writer::WriteScript;

/// The start of a webhook delivery's `INSERT`; `created_at` is also when
/// the first attempt is due.
macro_rules! insert_delivery {
    () => {
        "INSERT INTO webhook_deliveries (id, webhook_id, event, payload, created_at, next_attempt_at)"
    };
}
pub(crate) use insert_delivery;

/// Whether a webhook's stored event list (comma-separated) names `event`.
pub(crate) fn wants_event(events: &str, event: &str) -> bool {
    events.split(',').any(|wanted| wanted == event)
}

/// What a change leaves behind besides itself: its audit event and, for
/// each of the organization's webhooks that wants the event, a delivery.
/// Written in the change's own transaction, so a change is never recorded
/// without having happened, nor happens without being recorded.
#[derive(Debug, Clone, Copy)]
pub struct Trail<'a> {
    pub audit: &'a AuditEvent,
    /// The webhook event name and its JSON payload.
    pub webhook: Option<(&'a str, &'a str)>,
}

/// Writes a [`Trail`] inside an open write transaction (either backend),
/// with the webhooks that want it as read by [`Store::trail_webhooks`]
/// before the transaction: the write lock is held for as few round trips
/// as possible.
macro_rules! write_trail {
    ($tx:ident, $trail:expr, $webhooks:expr) => {{
        let trail: &$crate::trail::Trail<'_> = $trail;
        let event = trail.audit;
        $crate::trail::write_audit!($tx, event);
        if let Some((name, payload)) = trail.webhook {
            $crate::trail::insert_deliveries!($tx, $webhooks, name, payload, event.at);
        }
    }};
}

/// Queues, inside an open write transaction, a delivery of `$event` with
/// `$payload` to each of `$webhooks` (ids), due at once.
macro_rules! insert_deliveries {
    ($tx:ident, $webhooks:expr, $event:expr, $payload:expr, $at:expr) => {{
        let at = robots_core::clock::to_millis($at);
        for webhook_id in $webhooks {
            sqlx::query(concat!(
                $crate::trail::insert_delivery!(),
                " VALUES ($1, $2, $3, $4, $5, $5)"
            ))
            .bind(uuid::Uuid::now_v7())
            .bind(webhook_id)
            .bind($event)
            .bind($payload)
            .bind(at)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Writes an audit event inside an open write transaction (either
/// backend): a change and its record commit together or not at all.
macro_rules! write_audit {
    ($tx:ident, $event:expr) => {{
        let event: &$crate::audit::AuditEvent = $event;
        sqlx::query(concat!(
            $crate::audit::insert_audit_event!(),
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(event.id)
        .bind(event.org_id)
        .bind(robots_core::clock::to_millis(event.at))
        .bind(&event.actor_kind)
        .bind(event.actor.as_deref())
        .bind(&event.action)
        .bind(event.target.as_deref())
        .bind(&event.detail)
        .bind(event.ip.as_deref())
        .bind(event.user_agent.as_deref())
        .bind(&event.via)
        .bind(event.request_id.as_deref())
        .execute(&mut *$tx)
        .await?;
    }};
}
/// Runs `$body`, which answers how many rows it changed, in a write
/// transaction, and writes the audit event `$record` in the same
/// transaction if it changed any: a change that did not happen leaves no
/// record. Answers the number of rows changed.
macro_rules! recorded {
    ($store:expr, $record:expr, $tx:ident => $body:expr) => {
        $crate::in_write_tx!($store, $tx => {
            let changed: u64 = $body;
            if changed > 0 {
                $crate::trail::write_audit!($tx, $record);
            }
            $tx.commit().await?;
            changed
        })
    };
}
pub(crate) use {insert_deliveries, recorded, write_audit, write_trail};

/// Adds a [`Trail`] to a SQLite write script, for the webhooks that want it
/// (as [`write_trail!`] does in a transaction). Its rows are written only if
/// `condition` (SQL) holds when they are: the change the trail records may
/// turn out not to happen, and a script cannot stop to ask.
pub(crate) fn script_trail(script: &mut WriteScript, trail: &Trail<'_>, webhooks: &[Uuid], condition: &str) {
    let event = trail.audit;
    let id = script.value(event.id);
    let org_id = script.value(event.org_id);
    let at = script.value(to_millis(event.at));
    let actor_kind = script.value(event.actor_kind.as_str());
    let actor = script.value(event.actor.as_deref());
    let action = script.value(event.action.as_str());
    let target = script.value(event.target.as_deref());
    let detail = script.value(event.detail.as_str());
    let ip = script.value(event.ip.as_deref());
    let user_agent = script.value(event.user_agent.as_deref());
    let via = script.value(event.via.as_str());
    let request_id = script.value(event.request_id.as_deref());
    script.statement(&format!(
        concat!(
            insert_audit_event!(),
            " SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} WHERE {}"
        ),
        id, org_id, at, actor_kind, actor, action, target, detail, ip, user_agent, via, request_id, condition
    ));
    let Some((name, payload)) = trail.webhook.filter(|_| !webhooks.is_empty()) else {
        return;
    };
    let (name, payload) = (script.value(name), script.value(payload));
    for webhook_id in webhooks {
        let (delivery_id, webhook_id) = (script.value(Uuid::now_v7()), script.value(*webhook_id));
        script.statement(&format!(
            concat!(insert_delivery!(), " SELECT {}, {}, {}, {}, {}, {} WHERE {}"),
            delivery_id, webhook_id, name, payload, at, at, condition
        ));
    }
}

impl Store {
    /// The webhooks a [`Trail`] will queue deliveries for.
    pub(crate) async fn trail_webhooks(&self, trail: &Trail<'_>) -> Result<Vec<Uuid>, sqlx::Error> {
        let (Some(org_id), Some((event, _))) = (trail.audit.org_id, trail.webhook) else {
            return Ok(Vec::new());
        };
        let webhooks = self.org_webhooks(org_id).await?;
        Ok(webhooks
            .iter()
            .filter(|(_, events)| wants_event(events, event))
            .map(|(id, _)| *id)
            .collect())
    }
}
