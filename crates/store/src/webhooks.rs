//! Webhooks and their delivery queue: deliveries queued for the events a
//! webhook wants, claimed by one replica at a time, retried, or given up.

use std::collections::HashMap;
use std::sync::Arc;

use robots_core::clock::to_millis;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::records::{optional_time, time};
use crate::trail::{insert_deliveries, recorded, write_audit};
use crate::{Store, StoreError, in_write_tx, lock_row, on_pool};

/// An organization's webhooks: id, and the events it wants (comma-separated).
pub(crate) type OrgWebhooks = Arc<[(Uuid, String)]>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: OffsetDateTime,
    /// Failed deliveries that will not be retried, and the last error.
    pub failed_deliveries: i64,
    pub last_error: Option<String>,
}

/// A delivery ready to send, with what sending needs.
#[derive(Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: String,
    pub secret: String,
    pub event: String,
    pub payload: String,
    pub attempts: i32,
}

impl std::fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("event", &self.event)
            .finish_non_exhaustive()
    }
}

/// A webhook to add; the caller picks its ID, so its audit record can name
/// it.
#[derive(Clone, Copy)]
pub struct NewWebhook<'a> {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: &'a str,
    pub secret: &'a str,
    pub events: &'a [String],
    pub created_by: Uuid,
}

/// Everything but the signing secret.
impl std::fmt::Debug for NewWebhook<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("created_by", &self.created_by)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    pub event: String,
    pub created_at: OffsetDateTime,
    pub attempts: i32,
    pub delivered_at: Option<OffsetDateTime>,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

impl Store {
    /// An organization's webhooks and the events each wants: remembered
    /// under the change generation (webhooks announce their creation and
    /// deletion), since every audited change asks and they rarely change.
    pub(crate) async fn org_webhooks(&self, org_id: Uuid) -> Result<OrgWebhooks, sqlx::Error> {
        let read = async {
            let webhooks: Vec<(Uuid, String)> = on_pool!(self, pool => sqlx::query_as(
                "SELECT id, events FROM webhooks WHERE org_id = $1")
                .bind(org_id)
                .fetch_all(pool)
                .await)?;
            Ok::<_, sqlx::Error>(Some(OrgWebhooks::from(webhooks)))
        };
        let webhooks = self
            .remembered(&self.caches.webhooks, org_id.as_bytes()[15], org_id, read)
            .await?;
        Ok(webhooks.unwrap_or_default())
    }

    /// Adds webhook `new.id` to an organization, with `record`, unless it
    /// has `limit` already ([`StoreError::LimitReached`]); the
    /// organization's row is locked first, so concurrent additions count one
    /// after another.
    pub async fn create_webhook(
        &self,
        new: &NewWebhook<'_>,
        now: OffsetDateTime,
        limit: u32,
        record: &AuditEvent,
    ) -> Result<Webhook, StoreError> {
        let NewWebhook {
            id,
            org_id,
            url,
            secret,
            events,
            created_by,
        } = *new;
        let inserted = in_write_tx!(self, tx => {
            lock_row!(self, tx, "orgs", org_id);
            let inserted = sqlx::query(
                "INSERT INTO webhooks (id, org_id, url, secret, events, created_at, created_by)
                 SELECT $1, $2, $3, $4, $5, $6, $7
                 WHERE (SELECT COUNT(*) FROM webhooks WHERE org_id = $2) < $8")
                .bind(id)
                .bind(org_id)
                .bind(url)
                .bind(secret)
                .bind(events.join(","))
                .bind(to_millis(now))
                .bind(created_by)
                .bind(i64::from(limit))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if inserted > 0 {
                write_audit!(tx, record);
            }
            tx.commit().await?;
            inserted
        });
        if inserted == 0 {
            return Err(StoreError::LimitReached {
                what: "webhooks of an organization",
                limit,
            });
        }
        // Audited changes look the organization's webhooks up in memory.
        self.changed().await?;
        Ok(Webhook {
            id,
            org_id,
            url: url.to_owned(),
            events: events.to_vec(),
            created_at: now,
            failed_deliveries: 0,
            last_error: None,
        })
    }

    pub async fn list_webhooks(&self, org_id: Uuid) -> Result<Vec<Webhook>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: Uuid,
            org_id: Uuid,
            url: String,
            events: String,
            created_at: i64,
            failed: i64,
            last_error: Option<String>,
        }
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT w.id, w.org_id, w.url, w.events, w.created_at,
                    (SELECT COUNT(*) FROM webhook_deliveries d
                     WHERE d.webhook_id = w.id AND d.delivered_at IS NULL AND d.next_attempt_at IS NULL) AS failed,
                    (SELECT d.last_error FROM webhook_deliveries d
                     WHERE d.webhook_id = w.id AND d.last_error IS NOT NULL ORDER BY d.id DESC LIMIT 1) AS last_error
             FROM webhooks w WHERE w.org_id = $1 ORDER BY w.created_at")
            .bind(org_id)
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|row| Webhook {
                id: row.id,
                org_id: row.org_id,
                url: row.url,
                events: row
                    .events
                    .split(',')
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned)
                    .collect(),
                created_at: time(row.created_at),
                failed_deliveries: row.failed,
                last_error: row.last_error,
            })
            .collect())
    }

    /// Deletes a webhook of an organization; `false` if it has no such
    /// webhook. `record` is written with the deletion.
    pub async fn delete_webhook(
        &self,
        org_id: Uuid,
        webhook_id: Uuid,
        record: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let deleted = recorded!(self, record, tx => sqlx::query("DELETE FROM webhooks WHERE id = $1 AND org_id = $2")
            .bind(webhook_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?
            .rows_affected());
        // Audited changes look the organization's webhooks up in memory.
        self.changed().await?;
        Ok(deleted > 0)
    }

    /// Queues `event` for every webhook of the organization that wants it.
    pub async fn enqueue_webhook_event(
        &self,
        org_id: Uuid,
        event: &str,
        payload: &str,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let webhooks = self.list_webhooks(org_id).await?;
        let wanting: Vec<Uuid> = webhooks
            .iter()
            .filter(|w| w.events.iter().any(|e| e == event))
            .map(|w| w.id)
            .collect();
        if wanting.is_empty() {
            return Ok(0);
        }
        in_write_tx!(self, tx => {
            insert_deliveries!(tx, &wanting, event, payload, now);
            tx.commit().await?;
        });
        Ok(wanting.len())
    }

    /// Claims up to `limit` due deliveries until `lock_until`. Each is
    /// claimed by exactly one caller on any replica: one statement, whose
    /// conditions are checked again on each row as it is updated, so of
    /// two replicas racing for a row the second finds it claimed (or, after
    /// a failed attempt, not due again before its backoff).
    pub async fn claim_due_deliveries(
        &self,
        now: OffsetDateTime,
        lock_until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Claimed {
            id: Uuid,
            webhook_id: Uuid,
            event: String,
            payload: String,
            attempts: i32,
        }
        let claimed: Vec<Claimed> = on_pool!(self, pool => sqlx::query_as(
            "UPDATE webhook_deliveries SET locked_until = $2
             WHERE id IN (SELECT id FROM webhook_deliveries
                          WHERE delivered_at IS NULL AND next_attempt_at <= $1
                            AND (locked_until IS NULL OR locked_until < $1)
                          ORDER BY next_attempt_at LIMIT $3)
               AND delivered_at IS NULL AND next_attempt_at <= $1
               AND (locked_until IS NULL OR locked_until < $1)
             RETURNING id, webhook_id, event, payload, attempts")
            .bind(to_millis(now))
            .bind(to_millis(lock_until))
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        let mut targets: HashMap<Uuid, Option<(Uuid, String, String)>> = HashMap::new();
        let mut due = Vec::with_capacity(claimed.len());
        for delivery in claimed {
            if let std::collections::hash_map::Entry::Vacant(entry) = targets.entry(delivery.webhook_id) {
                let target: Option<(Uuid, String, String)> = on_pool!(self, pool => sqlx::query_as(
                    "SELECT org_id, url, secret FROM webhooks WHERE id = $1")
                    .bind(delivery.webhook_id)
                    .fetch_optional(pool)
                    .await)?;
                entry.insert(target);
            }
            // A webhook deleted meanwhile takes its deliveries with it.
            let Some(Some((org_id, url, secret))) = targets.get(&delivery.webhook_id) else {
                continue;
            };
            due.push(DueDelivery {
                id: delivery.id,
                org_id: *org_id,
                url: url.clone(),
                secret: secret.clone(),
                event: delivery.event,
                payload: delivery.payload,
                attempts: delivery.attempts,
            });
        }
        due.sort_by_key(|delivery| delivery.id);
        Ok(due)
    }

    /// Gives a claimed delivery back, due as before (its sender had no room
    /// for it).
    pub async fn release_delivery(&self, id: Uuid, lock_until: OffsetDateTime) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE webhook_deliveries SET locked_until = NULL WHERE id = $1 AND locked_until = $2")
            .bind(id)
            .bind(to_millis(lock_until))
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Records an attempt: delivered, or failed with a next attempt (or
    /// none: given up).
    pub async fn finish_delivery(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        status: Option<i32>,
        error: Option<&str>,
        next_attempt_at: Option<OffsetDateTime>,
    ) -> Result<(), StoreError> {
        let delivered = error.is_none();
        on_pool!(self, pool => sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, last_error = $3,
                    delivered_at = $4, next_attempt_at = $5, locked_until = NULL WHERE id = $1")
            .bind(id)
            .bind(status)
            .bind(error)
            .bind(delivered.then(|| to_millis(now)))
            .bind(if delivered { None } else { next_attempt_at.map(to_millis) })
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The latest deliveries of a webhook, newest first.
    pub async fn list_deliveries(&self, webhook_id: Uuid, limit: i64) -> Result<Vec<Delivery>, StoreError> {
        let rows: Vec<DeliveryRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT webhook_id, ", delivery_columns!(), " FROM webhook_deliveries
             WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2"))
            .bind(webhook_id)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(|row| row.into_delivery().1).collect())
    }

    /// The latest `per_webhook` deliveries of each of an organization's
    /// webhooks, newest first, in one query: `(webhook, delivery)` pairs.
    pub async fn recent_org_deliveries(
        &self,
        org_id: Uuid,
        per_webhook: i64,
    ) -> Result<Vec<(Uuid, Delivery)>, StoreError> {
        let rows: Vec<DeliveryRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT webhook_id, ", delivery_columns!(), " FROM (
                 SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.id DESC) AS recent
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                 WHERE w.org_id = $1) ranked
             WHERE recent <= $2 ORDER BY webhook_id, id DESC"))
            .bind(org_id)
            .bind(per_webhook)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(DeliveryRow::into_delivery).collect())
    }
}

macro_rules! delivery_columns {
    () => {
        "id, event, created_at, attempts, delivered_at, next_attempt_at, last_status, last_error"
    };
}
use delivery_columns;

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    webhook_id: Uuid,
    id: Uuid,
    event: String,
    created_at: i64,
    attempts: i32,
    delivered_at: Option<i64>,
    next_attempt_at: Option<i64>,
    last_status: Option<i32>,
    last_error: Option<String>,
}

impl DeliveryRow {
    fn into_delivery(self) -> (Uuid, Delivery) {
        let delivery = Delivery {
            id: self.id,
            event: self.event,
            created_at: time(self.created_at),
            attempts: self.attempts,
            delivered_at: optional_time(self.delivered_at),
            next_attempt_at: optional_time(self.next_attempt_at),
            last_status: self.last_status,
            last_error: self.last_error,
        };
        (self.webhook_id, delivery)
    }
}
