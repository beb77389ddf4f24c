//! Delivering webhook events: an organization's systems hear about its
//! tokens (created, deleted, rotated, expiring soon, revoked as leaked)
//! without polling.
//!
//! The service queues events in the database (`robots_service::events`),
//! so any replica may deliver them and none is lost to a restart. A delivery is a JSON `POST` signed with the
//! webhook's secret (`X-Robots-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">`, the timestamp guarding against replays), retried with
//! backoff; failures stay visible in the console and the API.
//!
//! Deliveries run concurrently, each on a task of its own, at most
//! [`PER_ORG`] at a time for one organization: a dead endpoint (each
//! attempt up to 10 s) holds its own organization's deliveries back, never
//! another's. Replicas share the queue; each delivery attempt is claimed by
//! exactly one of them.

use std::time::Duration;

use ring::hmac;
use robots_store::DueDelivery;
use uuid::Uuid;

pub use crate::in_flight::{InFlight, PER_ORG};
use crate::state::AppState;

/// Attempts before a delivery is given up (shown as failed).
pub const MAX_ATTEMPTS: i32 = 6;

/// Deliveries in flight from this process at once, in all.
pub const IN_FLIGHT: usize = 64;

/// How long a claimed delivery is this process's to send: longer than an
/// attempt may take, so no other replica takes it meanwhile.
const CLAIM: Duration = Duration::from_secs(60);

/// A delivery's place in [`InFlight`], given back however its task ends.
struct Place {
    state: AppState,
    org: Uuid,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.state.webhooks_in_flight().give_back(self.org);
    }
}

/// Wait before attempt `n + 1` after `n` failures: 10 s, 30 s, 90 s, … at most an hour.
pub fn backoff(failures: i32) -> Duration {
    let seconds = 10u64.saturating_mul(3u64.saturating_pow(failures.max(0) as u32));
    Duration::from_secs(seconds.min(3600))
}

/// The signature header of a body sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", robots_core::secret::hex(tag.as_ref()))
}

impl AppState {
    /// Sends what is due and waits for it; returns how many deliveries
    /// were attempted.
    pub async fn deliver_webhooks(&self) -> usize {
        let started = self.start_due_deliveries().await;
        let attempted = started.len();
        for task in started {
            let _ = task.await;
        }
        attempted
    }

    /// Claims what is due and starts sending it, each delivery on a task of
    /// its own, without waiting: what the background loop does each tick.
    /// A delivery of an organization that has [`PER_ORG`] in flight already
    /// is given back, due as before.
    pub async fn start_due_deliveries(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let room = IN_FLIGHT.saturating_sub(self.webhooks_in_flight().total());
        if room == 0 {
            return Vec::new();
        }
        let now = self.now();
        let lock_until = now + CLAIM;
        let due = match self.store().claim_due_deliveries(now, lock_until, room as i64).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "could not read due webhook deliveries");
                return Vec::new();
            }
        };
        let mut started = Vec::with_capacity(due.len());
        for delivery in due {
            if !self.webhooks_in_flight().take(delivery.org_id) {
                if let Err(error) = self.store().release_delivery(delivery.id, lock_until).await {
                    tracing::warn!(%error, "could not give a webhook delivery back");
                }
                continue;
            }
            let place = Place {
                state: self.clone(),
                org: delivery.org_id,
            };
            let state = self.clone();
            started.push(tokio::spawn(async move {
                state.deliver(delivery).await;
                drop(place);
            }));
        }
        started
    }

    async fn deliver(&self, delivery: DueDelivery) {
        let sent_at = self.now();
        // An address written into the URL is not resolved, so the resolver
        // cannot refuse it: checked here, on every attempt.
        let refused = reqwest::Url::parse(&delivery.url)
            .map_err(|_| "not a URL".to_owned())
            .and_then(|url| self.service().outbound().check_url(&url));
        if let Err(why) = refused {
            return self
                .record_attempt(&delivery, None, Some(format!("{} {why}", delivery.url)))
                .await;
        }
        let outcome = self
            .outbound()
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
        self.record_attempt(&delivery, status, error).await;
    }

    /// Records an attempt's outcome: done, due again after the backoff, or
    /// given up after [`MAX_ATTEMPTS`].
    async fn record_attempt(&self, delivery: &DueDelivery, status: Option<i32>, error: Option<String>) {
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
