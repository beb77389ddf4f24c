//! The open connections of one server, so that their number stays bounded.
//!
//! Every connection costs a file descriptor, and when the process has none
//! left it cannot accept anyone: idle connections alone (1,100 at the
//! default soft limit of 1,024) used to make the server unreachable. Here:
//!
//! - at most `max` connections are open; the accept loop, about to go over,
//!   first closes the longest-idle ones (keep-alive connections between
//!   requests, or connections that never sent one). With every connection
//!   busy, the new one is closed instead;
//! - a connection idle for `idle_timeout` is closed (keep-alive timeout);
//! - on shutdown every connection is asked to close once its request in
//!   flight, if any, is answered.
//!
//! Closing is hyper's graceful shutdown of the connection: an idle one
//! closes at once, a busy one after its answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The table of open connections.
#[derive(Debug)]
pub struct Connections {
    max: usize,
    idle_timeout: Duration,
    /// When the table was made: activity is measured in milliseconds since.
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    /// Signalled whenever a connection ends (for shutdown's wait).
    ended: Notify,
}

/// One open connection's state. Each request touches only its own
/// connection's (not the shared table): no cache line bounces between cores.
#[derive(Debug)]
pub struct Connection {
    /// The table's epoch.
    epoch: Instant,
    /// Requests being answered now.
    in_flight: AtomicU32,
    /// Milliseconds since the table's epoch at the last request's start or
    /// end (or the connection's opening).
    last_active: AtomicU64,
    close: Notify,
}

impl Connections {
    pub fn new(max: usize, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            idle_timeout,
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::default(),
            ended: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Makes room for one more connection and registers it: closes the
    /// longest-idle connections beyond `max - 1`. `None` when every open
    /// connection is busy: the new one should be turned away.
    pub fn admit(self: &Arc<Self>) -> Option<Registered> {
        let now = self.now_ms();
        let mut open = self.lock();
        if open.len() >= self.max {
            let excess = open.len() + 1 - self.max;
            let mut idle: Vec<(u64, &Arc<Connection>)> = open
                .values()
                .filter(|connection| connection.in_flight.load(Ordering::Acquire) == 0)
                .map(|connection| (connection.last_active.load(Ordering::Relaxed), connection))
                .collect();
            if idle.is_empty() {
                return None;
            }
            idle.sort_unstable_by_key(|(last_active, _)| *last_active);
            for (_, connection) in idle.into_iter().take(excess) {
                connection.close.notify_one();
            }
            tracing::debug!(
                open = open.len(),
                max = self.max,
                "closed idle connections to admit a new one"
            );
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            epoch: self.epoch,
            in_flight: AtomicU32::new(0),
            last_active: AtomicU64::new(now),
            close: Notify::new(),
        });
        open.insert(id, connection.clone());
        Some(Registered {
            table: self.clone(),
            id,
            connection,
        })
    }

    /// Closes connections idle for longer than the keep-alive timeout.
    pub fn close_idle(&self) {
        let now = self.now_ms();
        let limit = u64::try_from(self.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        for connection in self.lock().values() {
            let idle_for = now.saturating_sub(connection.last_active.load(Ordering::Relaxed));
            if connection.in_flight.load(Ordering::Acquire) == 0 && idle_for >= limit {
                connection.close.notify_one();
            }
        }
    }

    /// Closes idle connections past the keep-alive timeout, every second
    /// (or quarter of the timeout), until aborted.
    pub async fn close_idle_forever(self: Arc<Self>) {
        let tick = (self.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.close_idle();
        }
    }

    /// Asks every connection to close after its request in flight, and
    /// waits until all have, or `grace` has passed. `false` on the latter.
    pub async fn close_all(&self, grace: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            {
                let open = self.lock();
                if open.is_empty() {
                    return true;
                }
                for connection in open.values() {
                    connection.close.notify_one();
                }
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                return self.is_empty();
            }
        }
    }
}

/// A connection's place in the table, until dropped.
#[derive(Debug)]
pub struct Registered {
    table: Arc<Connections>,
    id: u64,
    connection: Arc<Connection>,
}

impl Registered {
    /// Serves the connection with `serve` (hyper's connection future) until
    /// it ends, shutting it down gracefully (`shutdown`) when asked to
    /// close.
    pub async fn serve<C, T>(&self, connection: C, shutdown: impl FnOnce(std::pin::Pin<&mut C>)) -> T
    where
        C: Future<Output = T>,
    {
        tokio::pin!(connection);
        tokio::select! {
            outcome = connection.as_mut() => outcome,
            () = self.connection.close.notified() => {
                shutdown(connection.as_mut());
                connection.await
            }
        }
    }

    /// Counts a request as in flight until the returned guard is dropped.
    pub fn request(&self) -> InFlight {
        self.connection.in_flight.fetch_add(1, Ordering::AcqRel);
        self.connection.touch();
        InFlight {
            connection: self.connection.clone(),
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.table.lock().remove(&self.id);
        self.table.ended.notify_waiters();
    }
}

impl Connection {
    /// Notes activity now.
    fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active.store(now, Ordering::Relaxed);
    }
}

/// A request being answered on a connection.
#[derive(Debug)]
pub struct InFlight {
    connection: Arc<Connection>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.connection.touch();
        self.connection.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Raises this process's soft limit on open files to its hard limit (the
/// default soft limit, 1,024, is a few hundred connections); the limit now.
pub fn raise_open_files_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    if limit.current != limit.maximum
        && let Err(error) = setrlimit(Resource::Nofile, raised)
    {
        tracing::warn!(%error, "could not raise the limit on open files");
        return limit.current.unwrap_or(u64::MAX);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// How many connections fit under a limit of `open_files`: a quarter is
/// kept for everything else (the database pool, SQLite's files, outbound
/// requests, logs).
pub fn max_connections_for(open_files: u64) -> usize {
    let connections = open_files.saturating_sub(open_files / 4).clamp(16, 1_000_000);
    usize::try_from(connections).unwrap_or(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_idle_make_room_and_busy_ones_stay() {
        let table = Connections::new(3, Duration::from_secs(60));
        let first = table.admit().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let second = table.admit().unwrap();
        let busy = second.request();
        std::thread::sleep(Duration::from_millis(5));
        let third = table.admit().unwrap();
        // Full: the longest idle (the first; the second is busy) is asked
        // to close.
        let fourth = table.admit().unwrap();
        {
            let close_first = first.connection.close.notified();
            tokio::pin!(close_first);
            assert!(
                futures_ready(close_first.as_mut()),
                "the longest-idle connection was asked to close"
            );
            let close_third = third.connection.close.notified();
            tokio::pin!(close_third);
            assert!(!futures_ready(close_third.as_mut()), "only as many as needed");
        }
        drop((first, third, fourth));
        assert_eq!(table.len(), 1);
        // Every connection busy: no room.
        let table = Connections::new(1, Duration::from_secs(60));
        let only = table.admit().unwrap();
        let _busy_too = only.request();
        assert!(table.admit().is_none());
        drop(busy);
    }

    /// Whether a future is ready at its first poll.
    fn futures_ready<F: Future>(future: std::pin::Pin<&mut F>) -> bool {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        future.poll(&mut context).is_ready()
    }
}
