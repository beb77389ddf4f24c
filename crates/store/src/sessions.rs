//! Login sessions of users (the console's cookie, the CLI's bearer token).

use robots_core::SecretHash;
use robots_core::clock::to_millis;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::trail::recorded;
use crate::users::UserRow;
use crate::{Store, StoreError, User, on_pool};

impl Store {
    pub async fn create_session(
        &self,
        token: &SecretHash,
        user_id: Uuid,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token.as_bytes().as_slice())
            .bind(user_id)
            .bind(to_millis(now))
            .bind(to_millis(expires_at))
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The user a session belongs to, with the session's expiry, if it is
    /// still valid at `now`.
    pub async fn find_session(
        &self,
        token: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<(User, OffsetDateTime)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            expires_at: i64,
        }
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT a.id, a.name, u.email, u.instance_admin, a.created_at, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id JOIN accounts a ON a.id = u.id
             WHERE s.token_hash = $1 AND s.expires_at > $2")
            .bind(token.as_bytes().as_slice())
            .bind(to_millis(now))
            .fetch_optional(pool)
            .await)?;
        row.map(|row| Ok((User::try_from(row.user)?, crate::records::time(row.expires_at))))
            .transpose()
    }

    /// Ends a session; `false` if there was none.
    /// Announced like every change that can end an authentication, so that
    /// session caches (here and on other replicas) forget it.
    pub async fn delete_session(&self, token: &SecretHash) -> Result<bool, StoreError> {
        let result = on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token.as_bytes().as_slice())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        self.changed().await?;
        Ok(result > 0)
    }

    /// Ends every session of `user_id` but `keep`, with `record` (if any
    /// ended); how many.
    pub async fn end_other_sessions(
        &self,
        user_id: Uuid,
        keep: &SecretHash,
        record: &AuditEvent,
    ) -> Result<u64, StoreError> {
        let ended = recorded!(self, record, tx => sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id)
            .bind(keep.as_bytes().as_slice())
            .execute(&mut *tx)
            .await?
            .rows_affected());
        if ended > 0 {
            self.changed().await?;
        }
        Ok(ended)
    }

    /// Housekeeping: forgets sessions that expired before `now`.
    pub async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let result = on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(result)
    }
}
