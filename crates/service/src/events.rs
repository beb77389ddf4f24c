//! The events an organization's webhooks can hear, and their bodies.
//! Delivering them (signing, retries) is the server's: it is outbound HTTP.

use robots_core::Name;
use robots_store::{AuditEvent, Org};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::Service;

pub const TOKEN_CREATED: &str = "token.created";
pub const TOKEN_DELETED: &str = "token.deleted";
pub const TOKEN_ROTATED: &str = "token.rotated";
/// Sent at each of [`crate::EXPIRY_NOTICE_DAYS`] before a token expires.
pub const TOKEN_EXPIRING: &str = "token.expiring";
/// The 7-day [`TOKEN_EXPIRING`], under the name earlier versions sent it.
pub const TOKEN_EXPIRING_SOON: &str = "token.expiring_soon";
pub const TOKEN_REVOKED_AS_LEAKED: &str = "token.revoked_as_leaked";
pub const TOKEN_DISABLED: &str = "token.disabled";
pub const TOKEN_ENABLED: &str = "token.enabled";

/// The events a webhook can subscribe to.
pub const EVENTS: [&str; 8] = [
    TOKEN_CREATED,
    TOKEN_DELETED,
    TOKEN_ROTATED,
    TOKEN_EXPIRING,
    TOKEN_EXPIRING_SOON,
    TOKEN_REVOKED_AS_LEAKED,
    TOKEN_DISABLED,
    TOKEN_ENABLED,
];

/// The JSON body webhooks receive for `event`.
pub fn payload(org: &Name, event: &str, data: Value, now: OffsetDateTime) -> String {
    json!({
        "event": event,
        "org": org,
        "at": rfc3339(now),
        "data": data,
    })
    .to_string()
}

/// The body of an event someone caused, naming them as its audit entry
/// does (`actor`: `kind`, `name`): a user, a robot rotating its own token,
/// a federated job, or the system.
pub fn payload_by(org: &Org, event: &str, data: Value, now: OffsetDateTime, audit: &AuditEvent) -> String {
    json!({
        "event": event,
        "org": org.name,
        "at": rfc3339(now),
        "actor": {"kind": audit.actor_kind, "name": audit.actor},
        "data": data,
    })
    .to_string()
}

/// A time as the wire and the audit log write it.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Service {
    /// Queues `event` for the organization's webhooks, after a change that
    /// did not queue it in its own transaction. Never fails the change: a
    /// queueing error is logged.
    pub async fn notify(&self, org: &Org, event: &str, data: Value) {
        let now = self.now();
        let payload = payload(&org.name, event, data, now);
        if let Err(error) = self.store.enqueue_webhook_event(org.id, event, &payload, now).await {
            tracing::error!(%error, event, org = %org.name, "could not queue a webhook event");
        }
    }
}
