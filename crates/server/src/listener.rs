//! Accepting connections: plain HTTP or HTTPS (rustls), with bounds on what
//! one connection may cost, and a graceful stop.
//!
//! - Each accepted connection is handed to a connection worker
//!   ([`crate::workers`]) and served there until it closes.
//! - Request heads larger than `max_header_bytes` are refused (431) and a
//!   client that has not sent a whole head within `header_read_timeout`
//!   (a slow-loris) is disconnected; a TLS handshake gets the same time.
//! - Bodies are bounded by the common layers (`DefaultBodyLimit`, 413) and whole
//!   requests by `request_timeout` (408), so a client trickling a body
//!   cannot hold a worker either. What a handler leaves unread of a body is
//!   drained or the answer closes the connection ([`crate::request_body`]).
//! - At most `max_connections` are open: the longest-idle make room for a
//!   new one, and keep-alive connections idle for `keep_alive_timeout` are
//!   closed ([`crate::connections`]).
//! - On shutdown the listener closes at once, idle connections are closed,
//!   and requests in flight may finish for `shutdown_grace`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::HttpService;
use crate::connections::Connections;
use crate::request_body::{self, WatchedBody};
use crate::state::ServerConfig;
use crate::workers;

/// Serves `app` on `listener` until `shutdown` completes, then waits
/// (up to the configured grace) for requests in flight.
pub async fn serve_connections(
    app: impl HttpService<WatchedBody>,
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = config.tls.clone().map(TlsAcceptor::from);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_header_bytes.max(8192))
        .max_headers(100);
    let http = Arc::new(http);
    let handshake_timeout = config.header_read_timeout;
    let connections = Connections::new(config.max_connections, config.keep_alive_timeout);
    let reaper = tokio::spawn(connections.clone().close_idle_forever());
    let workers = workers::workers(config.workers)?;
    let mut accepted_count = 0usize;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: back off rather than spin.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(registered) = connections.admit() else {
            tracing::warn!(%peer, max = config.max_connections, "connection refused: every open connection is busy");
            continue;
        };
        let registered = Arc::new(registered);
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let bodies = request_body::Watch::default();
        let requests = registered.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let in_flight = requests.request();
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            let (request, unread) = bodies.watch(request);
            let answered = app.clone().oneshot(request);
            async move {
                let mut response = answered.await?;
                if let Some(unread) = unread {
                    unread.settle(&mut response).await;
                }
                drop(in_flight);
                Ok::<_, Infallible>(response)
            }
        });
        let http = http.clone();
        let tls = tls.clone();
        accepted_count = accepted_count.wrapping_add(1);
        let worker = workers.least_busy(accepted_count);
        let served = worker.serve(stream, move |stream| async move {
            let outcome = match tls {
                None => {
                    registered
                        .serve(http.serve_connection(TokioIo::new(stream), service), |connection| {
                            connection.graceful_shutdown();
                        })
                        .await
                }
                Some(acceptor) => match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        registered
                            .serve(http.serve_connection(TokioIo::new(stream), service), |connection| {
                                connection.graceful_shutdown();
                            })
                            .await
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(%peer, %error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                },
            };
            if let Err(error) = outcome {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
        if let Err(error) = served {
            tracing::warn!(%peer, %error, "could not hand a connection to a worker");
        }
    }
    drop(listener);
    reaper.abort();
    if !connections.close_all(config.shutdown_grace).await {
        tracing::warn!(grace = ?config.shutdown_grace, "requests still running at the end of the shutdown grace period");
    }
    Ok(())
}
