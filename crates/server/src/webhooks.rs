//! Webhooks: an organization's systems hear about its tokens (created,
//! deleted, rotated, expiring soon, revoked as leaked) without polling.
//!
//! Events are queued in the database, so any replica may deliver them and
//! none is lost to a restart. A delivery is a JSON `POST` signed with the
//! webhook's secret (`X-Robots-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">`, the timestamp guarding against replays), retried with
//! backoff; failures stay visible in the console and the API.

use std::time::Duration;

use ring::hmac;
use robots_store::{DueDelivery, Org};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::state::AppState;

/// The events a webhook can subscribe to.
pub const EVENTS: [&str; 5] = [
    "token.created",
    "token.deleted",
    "token.rotated",
    "token.expiring_soon",
    "token.revoked_as_leaked",
];

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i32 = 6;

/// Wait before attempt `n + 1` after `n` failures: 10 s, 30 s, 90 s, … at most an hour.
pub fn backoff(failures: i32) -> Duration {
    let seconds = 10u64.saturating_mul(3u64.saturating_pow(failures.max(0) as u32));
    Duration::from_secs(seconds.min(3600))
}

/// The signature header of a body sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{timestamp}.{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// The JSON body webhooks receive for `event`.
pub(crate) fn payload(org: &Org, event: &str, data: Value, now: OffsetDateTime) -> String {
    json!({
        "event": event,
        "org": org.name,
        "at": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "data": data,
    })
    .to_string()
}

impl AppState {
    /// Queues `event` for the organization's webhooks. Never fails the
    /// request that caused it: a queueing error is logged.
    pub async fn notify(&self, org: &Org, event: &str, data: Value) {
        let now = self.now();
        let payload = payload(org, event, data, now);
        if let Err(error) = self.store().enqueue_webhook_event(org.id, event, &payload, now).await {
            tracing::error!(%error, event, org = %org.name, "could not queue a webhook event");
        }
    }

    /// Sends what is due; returns how many deliveries were attempted.
    pub async fn deliver_webhooks(&self, client: &reqwest::Client) -> usize {
        let now = self.now();
        let due = match self
            .store()
            .claim_due_deliveries(now, now + Duration::from_secs(60), 20)
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "could not read due webhook deliveries");
                return 0;
            }
        };
        let attempted = due.len();
        for delivery in due {
            self.deliver(client, delivery).await;
        }
        attempted
    }

    async fn deliver(&self, client: &reqwest::Client, delivery: DueDelivery) {
        let sent_at = self.now();
        let outcome = client
            .post(&delivery.url)
            .header("content-type", "application/json")
            .header("user-agent", concat!("robots-webhooks/", env!("CARGO_PKG_VERSION")))
            .header("x-robots-event", &delivery.event)
            .header("x-robots-delivery", delivery.id.to_string())
            .header(
                "x-robots-signature",
                signature(&delivery.secret, sent_at.unix_timestamp(), &delivery.payload),
            )
            .body(delivery.payload.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let (status, error) = match outcome {
            Ok(response) if response.status().is_success() => (Some(i32::from(response.status().as_u16())), None),
            Ok(response) => (
                Some(i32::from(response.status().as_u16())),
                Some(format!("HTTP {}", response.status())),
            ),
            Err(error) => (None, Some(error_chain(&error))),
        };
        let next =
            (error.is_some() && delivery.attempts + 1 < MAX_ATTEMPTS).then(|| self.now() + backoff(delivery.attempts));
        if let Some(error) = &error {
            tracing::warn!(delivery = %delivery.id, url = %delivery.url, %error, attempts = delivery.attempts + 1, "webhook delivery failed");
        }
        if let Err(store_error) = self
            .store()
            .finish_delivery(delivery.id, self.now(), status, error.as_deref(), next)
            .await
        {
            tracing::error!(%store_error, "could not record a webhook delivery");
        }
    }

    /// Announces tokens that expire within the "expiring soon" window, once each.
    pub async fn announce_expiring_tokens(&self) {
        let now = self.now();
        let tokens = match self
            .store()
            .tokens_to_warn(now + crate::api::views::EXPIRING_SOON, now)
            .await
        {
            Ok(tokens) => tokens,
            Err(error) => {
                tracing::warn!(%error, "could not look for expiring tokens");
                return;
            }
        };
        for token in tokens {
            if !matches!(self.store().mark_expiry_notified(token.access_id, now).await, Ok(true)) {
                continue;
            }
            let org = robots_store::Org {
                id: token.org_id,
                name: token.org_name.clone(),
                display_name: String::new(),
                created_at: OffsetDateTime::UNIX_EPOCH,
                token_policy: Default::default(),
            };
            let detail = json!({
                "robot": token.robot_name, "name": token.token_name, "access_id": token.access_id,
                "expires_at": crate::api::tokens::rfc3339(token.expires_at),
            });
            self.notify(&org, "token.expiring_soon", detail).await;
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_secs(10));
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(90));
        assert_eq!(backoff(10), Duration::from_secs(3600));
    }

    #[test]
    fn signatures_cover_the_timestamp_and_the_body() {
        let a = signature("secret", 1, "{}");
        assert!(a.starts_with("t=1,v1=") && a.len() == "t=1,v1=".len() + 64);
        assert_ne!(a, signature("secret", 2, "{}"));
        assert_ne!(a, signature("secret", 1, "{ }"));
        assert_ne!(a, signature("other", 1, "{}"));
    }
}
