//! The instance's own settings: the floor under every organization's token
//! policy, set by instance administrators.

use std::time::Duration;

use robots_core::clock::to_millis;
use time::OffsetDateTime;

use crate::audit::AuditEvent;
use crate::trail::write_audit;
use crate::{InstancePolicy, Store, StoreError, in_write_tx, on_pool};

fn seconds(duration: Option<Duration>) -> Option<i64> {
    duration.map(|duration| i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
}

fn duration(seconds: Option<i64>) -> Option<Duration> {
    seconds.map(|seconds| Duration::from_secs(seconds.max(0).unsigned_abs()))
}

impl Store {
    /// The instance's token policy (the defaults when none was ever set).
    pub async fn instance_policy(&self) -> Result<InstancePolicy, StoreError> {
        let row: Option<(Option<i64>, bool, Option<i64>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT token_max_lifetime_seconds, token_expiry_required, personal_token_max_lifetime_seconds
             FROM instance_policy WHERE id = 1")
            .fetch_optional(pool)
            .await)?;
        Ok(
            row.map_or_else(InstancePolicy::default, |(max, required, personal)| InstancePolicy {
                max_lifetime: duration(max),
                expiry_required: required,
                personal_token_max_lifetime: duration(personal),
            }),
        )
    }

    /// Replaces the instance's token policy, with `record`, in one transaction.
    pub async fn set_instance_policy(
        &self,
        policy: InstancePolicy,
        now: OffsetDateTime,
        record: &AuditEvent,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO instance_policy (id, token_max_lifetime_seconds, token_expiry_required,
                                              personal_token_max_lifetime_seconds, updated_at)
                 VALUES (1, $1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET token_max_lifetime_seconds = $1, token_expiry_required = $2,
                     personal_token_max_lifetime_seconds = $3, updated_at = $4")
                .bind(seconds(policy.max_lifetime))
                .bind(policy.expiry_required)
                .bind(seconds(policy.personal_token_max_lifetime))
                .bind(to_millis(now))
                .execute(&mut *tx)
                .await?;
            write_audit!(tx, record);
            tx.commit().await?;
        });
        self.changed().await?;
        Ok(())
    }
}
