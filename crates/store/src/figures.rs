//! Counts for operators' dashboards (metrics): tokens by state per
//! organization, webhook deliveries waiting or given up. One query each,
//! run by a background task, never per request.

use robots_core::clock::to_millis;
use time::OffsetDateTime;

use crate::{Store, StoreError, on_pool};

/// An organization's tokens by state; the states do not overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFigures {
    pub org: String,
    /// No expiry, or not within `soon`.
    pub active: i64,
    /// Expiring within `soon`.
    pub expiring: i64,
    pub expired: i64,
}

/// Webhook deliveries still to make, and those given up after every retry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryFigures {
    pub pending: i64,
    pub failed: i64,
}

impl Store {
    /// Every organization's tokens by state at `now`; "expiring" means
    /// within `soon` of it.
    pub async fn token_figures(
        &self,
        now: OffsetDateTime,
        soon: time::Duration,
    ) -> Result<Vec<TokenFigures>, StoreError> {
        let rows: Vec<(String, i64, i64, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT a.name,
                    SUM(CASE WHEN t.expires_at IS NULL OR t.expires_at > $2 THEN 1 ELSE 0 END),
                    SUM(CASE WHEN t.expires_at > $1 AND t.expires_at <= $2 THEN 1 ELSE 0 END),
                    SUM(CASE WHEN t.expires_at <= $1 THEN 1 ELSE 0 END)
             FROM robot_tokens t
             JOIN robots r ON r.id = t.robot_id
             JOIN accounts a ON a.id = r.org_id
             GROUP BY a.name
             ORDER BY a.name")
            .bind(to_millis(now))
            .bind(to_millis(now + soon))
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|(org, active, expiring, expired)| TokenFigures {
                org,
                active,
                expiring,
                expired,
            })
            .collect())
    }

    pub async fn delivery_figures(&self) -> Result<DeliveryFigures, StoreError> {
        let (pending, failed): (i64, i64) = on_pool!(self, pool => sqlx::query_as(
            "SELECT
                 COALESCE(SUM(CASE WHEN delivered_at IS NULL AND next_attempt_at IS NOT NULL THEN 1 ELSE 0 END), 0),
                 COALESCE(SUM(CASE WHEN delivered_at IS NULL AND next_attempt_at IS NULL THEN 1 ELSE 0 END), 0)
             FROM webhook_deliveries")
            .fetch_one(pool)
            .await)?;
        Ok(DeliveryFigures { pending, failed })
    }
}
