//! When each robot token was last used, from where: noted in memory on the
//! request path (at most once a minute per token) and written in batches,
//! so verifying never writes to the database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use robots_store::{Store, TokenUse};
use time::OffsetDateTime;
use uuid::Uuid;

/// Minimum time between two recorded uses of one token.
pub const USAGE_RESOLUTION: Duration = Duration::from_secs(60);

/// Remembers token uses in memory and writes them in batches.
#[derive(Debug, Default)]
pub struct UsageRecorder {
    state: Mutex<UsageState>,
    /// Held while a batch is written (see `AuditBuffer::flush`).
    flushing: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct UsageState {
    /// When each token's use was last accepted for recording.
    last_noted: HashMap<Uuid, OffsetDateTime>,
    /// Uses waiting to be written.
    pending: Vec<TokenUse>,
}

impl UsageRecorder {
    /// Notes a use unless one of the same token was noted within the last
    /// [`USAGE_RESOLUTION`]. Never blocks on I/O.
    pub fn note(&self, token_use: TokenUse) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(previous) = state.last_noted.get(&token_use.access_id)
            && token_use.at < *previous + USAGE_RESOLUTION
        {
            return;
        }
        state.last_noted.insert(token_use.access_id, token_use.at);
        state.pending.push(token_use);
    }

    /// Writes what is pending. On failure the uses are put back for the next
    /// round; losing a last-used time is never worth failing a request over.
    pub async fn flush(&self, store: &Store, now: OffsetDateTime) {
        let _flushing = self.flushing.lock().await;
        let batch = {
            let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // Tokens not used for a whole resolution period need no memory:
            // their next use will be recorded anyway.
            state.last_noted.retain(|_, noted| *noted + USAGE_RESOLUTION > now);
            std::mem::take(&mut state.pending)
        };
        if batch.is_empty() {
            return;
        }
        if let Err(error) = store.record_token_uses(&batch).await {
            tracing::warn!(%error, uses = batch.len(), "could not record token uses; will retry");
            let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            state.pending.extend(batch);
        }
    }
}
