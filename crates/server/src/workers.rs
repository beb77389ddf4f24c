//! Connection workers: single-threaded runtimes, one per core by default,
//! each serving the connections it is handed from the first request to the
//! close.
//!
//! The rest of the process (the accept loop, background tasks, the CLI) runs
//! on tokio's multi-threaded runtime. Connections do not: there, work
//! stealing moves a connection's task from core to core and wakes idle
//! workers to look for more, and under load that costs more per request
//! than verifying a token does (docs/PERFORMANCE.md, run 10). A worker runs
//! its connections' tasks, and what they spawn, on its own thread.
//!
//! A connection goes to the worker with the fewest open ones, so that
//! long-lived connections (nginx's keep-alive pool, a registry's) spread
//! evenly. Work that takes a core for long (password hashing) is already
//! sent to a blocking thread, so one slow request does not stall the others
//! sharing its worker.
//!
//! Workers live as long as the process and are shared by every server in
//! it. A socket that a request opens (a database connection joining a pool,
//! an HTTP client's connection) is registered with its worker's runtime and
//! may be used long after that server stops (tests serve one state more than
//! once), so no runtime it depends on may ever shut down.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::TcpStream;
use tokio::runtime::Handle;

/// One connection worker: its runtime, and how many connections it serves.
#[derive(Clone, Debug)]
pub struct Worker {
    runtime: Handle,
    open: Arc<AtomicUsize>,
}

/// Every worker started so far, in the order they were.
static STARTED: Mutex<Vec<Worker>> = Mutex::new(Vec::new());

/// Some of the process's workers: never none.
#[derive(Clone, Debug)]
pub struct Workers(Vec<Worker>);

/// `count` workers (at least one), starting any not yet running.
pub fn workers(count: usize) -> io::Result<Workers> {
    let count = count.max(1);
    let mut started = STARTED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    while started.len() < count {
        let worker = start(started.len())?;
        started.push(worker);
    }
    Ok(Workers(started[..count].to_vec()))
}

fn start(index: usize) -> io::Result<Worker> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let worker = Worker {
        runtime: runtime.handle().clone(),
        open: Arc::new(AtomicUsize::new(0)),
    };
    std::thread::Builder::new()
        .name(format!("robots-worker-{index}"))
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(worker)
}

impl Workers {
    /// The worker with the fewest open connections; among equals, the first
    /// from `start`, so that a caller rotating `start` spreads ties.
    pub fn least_busy(&self, start: usize) -> &Worker {
        let count = self.0.len();
        let start = start % count;
        let mut least = &self.0[start];
        for offset in 1..count {
            let worker = &self.0[(start + offset) % count];
            if worker.open_connections() < least.open_connections() {
                least = worker;
            }
        }
        least
    }
}

impl Worker {
    /// Serves `stream` on this worker with `serve`, counting it as open until
    /// `serve`'s future ends.
    pub fn serve<F, Fut>(&self, stream: TcpStream, serve: F) -> io::Result<()>
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        // The socket moves from the accepting runtime's reactor to this
        // worker's: deregistered here, registered there.
        let stream = stream.into_std()?;
        let open = OpenConnection::new(self.open.clone());
        self.runtime.spawn(async move {
            let _open = open;
            match TcpStream::from_std(stream) {
                Ok(stream) => serve(stream).await,
                Err(error) => tracing::warn!(%error, "a worker could not take a connection"),
            }
        });
        Ok(())
    }

    /// Connections this worker serves now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// One open connection in a worker's count, until dropped.
struct OpenConnection(Arc<AtomicUsize>);

impl OpenConnection {
    fn new(open: Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Self(open)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_are_started_once_and_shared() {
        let two = workers(2).unwrap();
        let three = workers(3).unwrap();
        assert_eq!(two.0.len(), 2);
        assert_eq!(three.0.len(), 3);
        for (a, b) in two.0.iter().zip(&three.0) {
            assert!(Arc::ptr_eq(&a.open, &b.open), "the same workers again");
        }
        assert_eq!(workers(0).unwrap().0.len(), 1, "never fewer than one");
    }

    #[test]
    fn the_least_busy_worker_takes_the_next_connection() {
        let counts = |open: &[usize]| -> Workers {
            Workers(
                open.iter()
                    .map(|&n| Worker {
                        runtime: tokio::runtime::Builder::new_current_thread()
                            .build()
                            .unwrap()
                            .handle()
                            .clone(),
                        open: Arc::new(AtomicUsize::new(n)),
                    })
                    .collect(),
            )
        };
        let workers = counts(&[3, 1, 2]);
        assert_eq!(workers.least_busy(0).open_connections(), 1);
        assert_eq!(workers.least_busy(2).open_connections(), 1);
        // Ties go to the first from `start`.
        let tied = counts(&[0, 0, 0]);
        for start in (0..6).chain([usize::MAX]) {
            assert!(Arc::ptr_eq(&tied.least_busy(start).open, &tied.0[start % 3].open));
        }
    }

    #[tokio::test]
    async fn a_connection_is_served_on_its_worker_and_counted_while_open() {
        // A worker of its own, so that other tests' connections do not count.
        let worker = start(99).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let client = TcpStream::connect(address).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        let (served_on, where_served) = tokio::sync::oneshot::channel();
        let (close, closed) = tokio::sync::oneshot::channel::<()>();
        worker
            .serve(accepted, move |mut stream| async move {
                use tokio::io::AsyncWriteExt;
                let _ = served_on.send(std::thread::current().name().map(str::to_owned));
                stream.write_all(b"hello").await.unwrap();
                let _ = closed.await;
            })
            .unwrap();
        let thread = where_served.await.unwrap();
        assert_eq!(thread.as_deref(), Some("robots-worker-99"));
        let mut client = client;
        let mut greeting = [0; 5];
        tokio::io::AsyncReadExt::read_exact(&mut client, &mut greeting)
            .await
            .unwrap();
        assert_eq!(&greeting, b"hello", "the socket works on the worker's runtime");
        assert_eq!(worker.open_connections(), 1);
        close.send(()).unwrap();
        for _ in 0..200 {
            if worker.open_connections() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("the connection was still counted after it ended");
    }
}
