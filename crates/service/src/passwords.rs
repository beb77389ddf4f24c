//! The work of password hashing, bounded. argon2id takes ~15 ms of CPU and
//! 19 MiB of memory per hash, on purpose; a flood of logins or sign-ups must
//! not turn that into gigabytes. At most
//! [`crate::ServiceConfig::max_password_hashes`] run at once, server-wide;
//! a request that cannot get a turn within
//! [`crate::ServiceConfig::password_hash_wait`] is answered 503 with
//! `Retry-After`, before any memory is taken.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::{ServiceError, ServiceResult};

/// How long a client turned away should wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct PasswordWork {
    turns: Semaphore,
    wait: Duration,
    /// Hashes computed since start (for metrics, and for tests that show
    /// a refusal came before the hash).
    done: AtomicU64,
}

impl PasswordWork {
    pub fn new(at_once: usize, wait: Duration) -> Self {
        Self {
            turns: Semaphore::new(at_once.max(1)),
            wait,
            done: AtomicU64::new(0),
        }
    }

    /// Runs `hash` on the blocking pool once a turn is free.
    pub async fn run<T: Send + 'static>(&self, hash: impl FnOnce() -> T + Send + 'static) -> ServiceResult<T> {
        let busy = || ServiceError::Unavailable {
            message: "the server is busy checking passwords; try again in a moment".into(),
            retry_after: RETRY_AFTER,
        };
        let turn = match self.turns.try_acquire() {
            Ok(turn) => turn,
            Err(_) if self.wait.is_zero() => return Err(busy()),
            Err(_) => tokio::time::timeout(self.wait, self.turns.acquire())
                .await
                .map_err(|_| busy())?
                .map_err(|_| busy())?,
        };
        let result = tokio::task::spawn_blocking(hash)
            .await
            .map_err(|error| ServiceError::Internal(error.to_string()));
        drop(turn);
        self.done.fetch_add(1, Ordering::Relaxed);
        result
    }

    pub fn hashes_done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}
