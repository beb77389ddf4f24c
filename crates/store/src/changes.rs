//! Telling caches that what verification depends on has changed.
//!
//! Every write that can change a verification answer (a token deleted or
//! rotated, a robot renamed, disabled or deleted, a team or grant changed, an
//! organization deleted; also a webhook added or removed, for the audit
//! trail's lookup) bumps a generation number. Caches remember the
//! generation they filled an entry in and ignore entries of older ones, so the
//! next request after a change sees the database.
//!
//! On PostgreSQL the bump is also announced with `NOTIFY robots_changes`;
//! every replica listens ([`Store::follow_changes`]) and bumps its own
//! generation, so a revocation on one replica takes effect on the others
//! within the notification's delivery time. While a replica is not
//! listening (not yet connected, or reconnecting after a lost connection),
//! its caches must not be trusted: [`Store::changes_are_followed`] says so.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use uuid::Uuid;

use std::future::Future;
use std::hash::Hash;

use crate::audit::AuditEvent;
use crate::trail::recorded;
use crate::{GenerationCache, Pool, Store, StoreError};

const CHANNEL: &str = "robots_changes";

#[derive(Debug)]
pub(crate) struct Changes {
    generation: AtomicU64,
    /// SQLite: always (one process writes). PostgreSQL: while listening.
    followed: AtomicBool,
}

impl Default for Changes {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(1),
            followed: AtomicBool::new(false),
        }
    }
}

impl Store {
    /// The current generation of verification-relevant data.
    pub fn generation(&self) -> u64 {
        self.changes.generation.load(Ordering::Acquire)
    }

    /// Whether this process hears about every change (so caches may be used).
    pub fn changes_are_followed(&self) -> bool {
        match self.pool {
            Pool::Sqlite(..) => true,
            Pool::Postgres(_) => self.changes.followed.load(Ordering::Acquire),
        }
    }

    /// `key`'s answer: from `cache` while it is current, else from `read`
    /// (and then remembered, if this process follows every change). The
    /// generation is taken before `read` runs, so a change during the read
    /// leaves an entry that is never used. Nothing is remembered for `None`.
    pub async fn remembered<K, V, E>(
        &self,
        cache: &GenerationCache<K, V>,
        spread: u8,
        key: K,
        read: impl Future<Output = Result<Option<V>, E>>,
    ) -> Result<Option<V>, E>
    where
        K: Hash + Eq,
        V: Clone,
    {
        let generation = self.generation();
        let trusted = self.changes_are_followed();
        if trusted && let Some(found) = cache.get(spread, &key, generation) {
            cache.count_lookup(true);
            return Ok(Some(found));
        }
        cache.count_lookup(false);
        let found = read.await?;
        if trusted && let Some(found) = &found {
            cache.put(spread, key, found.clone(), generation);
        }
        Ok(found)
    }

    fn bump(&self) {
        self.changes.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Runs `sql`, a `DELETE … WHERE id = $1`, for `id`, and announces the
    /// change: what it deletes (and cascades to) can change verification
    /// answers. `record` is written in the same transaction, if a row was
    /// deleted. `false`: there was no such row.
    pub(crate) async fn delete_announced(
        &self,
        sql: &'static str,
        id: Uuid,
        record: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let deleted =
            recorded!(self, record, tx => sqlx::query(sql).bind(id).execute(&mut *tx).await?.rows_affected()) > 0;
        if deleted {
            self.changed().await?;
        }
        Ok(deleted)
    }

    /// Records that verification-relevant data changed, here and (on
    /// PostgreSQL) on every other replica.
    pub(crate) async fn changed(&self) -> Result<(), StoreError> {
        self.bump();
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Listens for other replicas' changes until the process ends (PostgreSQL;
    /// returns at once on SQLite). Reconnects after a lost connection,
    /// treating the gap as a change, since notifications may have been missed.
    pub async fn follow_changes(&self) {
        let Pool::Postgres(pool) = &self.pool else { return };
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect_with(pool).await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for changes; caches are off until it can");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(error) = listener.listen(CHANNEL).await {
                tracing::warn!(%error, "cannot listen for changes; caches are off until it can");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            // Anything may have changed while nobody listened.
            self.bump();
            self.changes.followed.store(true, Ordering::Release);
            loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => self.bump(),
                    Ok(None) | Err(_) => {
                        // The connection dropped: notifications may be lost.
                        self.changes.followed.store(false, Ordering::Release);
                        self.bump();
                        tracing::warn!("lost the change notifications; reconnecting");
                        break;
                    }
                }
            }
        }
    }
}
