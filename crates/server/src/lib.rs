//! The HTTP side of the robot accounts service.
//!
//! [`app`] builds the whole HTTP service from an [`AppState`], so tests can serve it
//! on a port of their own; [`run`] is what `robots serve` calls.
//!
//! - `api/`: the REST API under `/v1` (JSON in, JSON out, one error shape).
//! - `auth`: who is calling (sessions, robot tokens) and extractors that say
//!   which callers a handler accepts.
//! - `verify`: the robot-token check on every robot request, and batched
//!   last-use recording.
//! - `error`, `extract`: the error shape, and extractors that use it.

pub mod api;
pub mod auth;
pub mod cache;
pub mod client;
pub mod connections;
pub mod console;
pub mod error;
pub mod extract;
pub mod federation;
pub mod in_flight;
pub mod issued;
pub mod keys;
pub mod listener;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod outbound;
pub mod request_body;
pub mod request_id;
pub mod state;
pub mod usage;
pub mod verification;
pub mod verify;
pub mod webhooks;
pub mod workers;

use robots_api_types::ErrorCode;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::body::{Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use robots_core::secret::SetupCode;
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use crate::error::ApiError;
pub use crate::state::{AppState, ServerConfig};
pub use robots_service::SignupPolicy;

/// The whole HTTP surface, with the layers every request passes.
pub fn app<B: RequestBody>(state: AppState) -> impl HttpService<B> {
    let config = state.config();
    let documented = api::router().merge(verification::router(&state));
    let routes = openapi::with_document(documented)
        .merge(console::router())
        .route("/readyz", get(ready));
    let (max_body, request_timeout) = (config.max_body_bytes, config.request_timeout);
    let trusted_proxies = config.trusted_proxies.clone();
    let time_requests = state.metrics().time_requests();
    let mut routes = with_common_routes(routes);
    if time_requests.is_some() {
        routes = routes.route_layer(metrics::CarryRoute);
    }
    with_common_layers(
        routes.with_state(state),
        max_body,
        request_timeout,
        trusted_proxies,
        time_requests,
    )
}

/// The router inside the common layers, taking requests with bodies of
/// type `B`: what [`listener::serve_connections`] serves (`B` = hyper's
/// `Incoming`, watched for what is left unread: [`request_body`]), and what
/// in-process callers such as the fuzzer drive.
pub trait HttpService<B>:
    Service<Request<B>, Response = Response, Error = Infallible, Future: Send + 'static> + Clone + Send + 'static
{
}

impl<T, B> HttpService<B> for T where
    T: Service<Request<B>, Response = Response, Error = Infallible, Future: Send + 'static> + Clone + Send + 'static
{
}

/// A request body the router can read.
pub trait RequestBody: HttpBody<Data = Bytes, Error: Into<axum::BoxError>> + Send + 'static {}

impl<B> RequestBody for B where B: HttpBody<Data = Bytes, Error: Into<axum::BoxError>> + Send + 'static {}

/// The routes every server has: `/healthz` and the fallbacks. Public, like
/// [`with_common_layers`], so that benchmarks can serve other routes
/// exactly as the service serves its own.
pub fn with_common_routes<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|headers: axum::http::HeaderMap| async move {
            console::error_for(
                &headers,
                ApiError::not_found("there is no such route; the API lives under /v1"),
                "there is no page at this address",
            )
        })
        .method_not_allowed_fallback(|headers: axum::http::HeaderMap| async move {
            console::error_for(
                &headers,
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    ErrorCode::MethodNotAllowed,
                    "this route does not accept that method",
                ),
                "this address takes what a console form sends, it is not a page: go back to the page the form is on",
            )
        })
}

/// The layers around every request: limits, panics, timeouts, answer
/// headers, tracing (outermost first).
///
/// They wrap the router once rather than each route (`Router::layer`):
/// axum boxes a layered route, and every request would clone the boxes of
/// every layer — two dozen allocations a request, more than some whole
/// handlers cost.
pub fn with_common_layers<B: RequestBody>(
    router: Router,
    max_body: usize,
    request_timeout: Duration,
    trusted_proxies: Vec<client::IpRange>,
    time_requests: Option<metrics::TimeRequests>,
) -> impl HttpService<B> {
    // Shared, not copied, by every clone of the service.
    let trusted_proxies: std::sync::Arc<[client::IpRange]> = trusted_proxies.into();
    ServiceBuilder::new()
        .map_response(IntoResponse::into_response)
        // Outside the rest: the time a request takes is all of it.
        .option_layer(time_requests)
        // Every request gets an id (a trusted proxy's, else a new one),
        // echoed in its answer (request_id.rs).
        .map_request(move |mut request: Request<B>| {
            request_id::keep_only_trusted(&mut request, &trusted_proxies);
            request
        })
        .layer(SetRequestIdLayer::x_request_id(request_id::NewRequestId))
        .layer(PropagateRequestIdLayer::x_request_id())
        // The span carries the request's id; the debug lines add method and
        // path, never headers, which hold credentials. Per-request lines are at debug (--log debug): at
        // tens of thousands of verifications a second, writing one line each
        // would cost more than the verification itself.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_id::span)
                .on_request(|request: &Request<B>, _: &tracing::Span| {
                    tracing::debug!(method = %request.method(), path = request.uri().path(), "request");
                })
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Credentials and secrets pass through here: nothing may be cached.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        // A client trickling its body would otherwise hold the request open.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        // A bug must cost one request a 500 in the usual shape, not the
        // connection (hyper would drop it) and the client's retry logic.
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            ApiError::internal("a handler panicked (see the panic message above)").into_response()
        }))
        .layer(DefaultBodyLimit::max(max_body))
        .service(router)
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.store().readiness().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))).into_response(),
        Err(why) => {
            tracing::warn!(%why, "not ready");
            let status = if why.starts_with("database") {
                "database unreachable"
            } else {
                "data directory not writable"
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, HeaderValue::from_static("5"))],
                Json(serde_json::json!({"status": status})),
            )
                .into_response()
        }
    }
}

/// On an empty database, creates and returns a one-time setup code for the
/// first administrator; `None` once any user exists.
pub async fn prepare_first_run(state: &AppState) -> Result<Option<SetupCode>, ApiError> {
    Ok(state.service().prepare_first_run().await?)
}

/// Serves `state` on `listener` until `shutdown` completes, then lets
/// in-flight requests finish and writes pending token uses.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let flusher = tokio::spawn(flush_usage_periodically(state.clone()));
    let key_reloader = tokio::spawn(reload_keys_periodically(state.clone()));
    let webhooks = tokio::spawn(run_webhooks(state.clone()));
    let mails = state
        .config()
        .mailer
        .is_some()
        .then(|| tokio::spawn(mail_notices(state.clone())));
    let follower = {
        let store = state.store().clone();
        tokio::spawn(async move { store.follow_changes().await })
    };
    let result = listener::serve_connections(app(state.clone()), listener, state.config(), shutdown).await;
    flusher.abort();
    key_reloader.abort();
    webhooks.abort();
    if let Some(mails) = mails {
        mails.abort();
    }
    follower.abort();
    state.flush_usage().await;
    result
}

async fn flush_usage_periodically(state: AppState) {
    let mut interval = tokio::time::interval(state.config().usage_flush_interval.max(Duration::from_millis(10)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        state.flush_usage().await;
    }
}

/// Delivers webhook events; once a minute, records the notices owed about
/// tokens about to expire (announcing them to webhooks), disables unused
/// tokens and purges expired exchanged tokens.
async fn run_webhooks(state: AppState) {
    let mut interval = tokio::time::interval(state.config().webhook_poll_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_scan: Option<time::OffsetDateTime> = None;
    loop {
        interval.tick().await;
        let now = state.now();
        if last_scan.is_none_or(|at| now - at >= time::Duration::MINUTE) {
            state.service().record_expiry_notices().await;
            state.service().disable_unused_tokens().await;
            // Exchanged tokens live minutes; an hour after expiry they go.
            match state.store().purge_exchanged_tokens(now - time::Duration::HOUR).await {
                Ok(0) => {}
                Ok(purged) => tracing::debug!(purged, "purged expired exchanged tokens"),
                Err(error) => tracing::warn!(%error, "could not purge expired exchanged tokens"),
            }
            last_scan = Some(now);
        }
        // Started, not awaited: a slow endpoint must not hold up the
        // next tick's deliveries.
        drop(state.start_due_deliveries().await);
    }
}

/// Once a minute, mails the notices owed (see [`AppState::send_notice_mails`]).
async fn mail_notices(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(60));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        state.send_notice_mails().await;
    }
}

/// Serves `/metrics` on its own address until the returned task is dropped.
async fn serve_metrics(
    state: AppState,
    address: std::net::SocketAddr,
) -> Result<AbortOnDrop, Box<dyn std::error::Error + Send + Sync>> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on --metrics-listen {address}: {error}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, "metrics at /metrics");
    let router = Router::new().route(
        "/metrics",
        get(|State(state): State<AppState>| async move {
            (
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                state.metrics().render(state.store(), &state.verify_cache().lookups()),
            )
        }),
    );
    let counting = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(state.config().metrics_refresh);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                state.metrics().count_stored(state.store(), state.now()).await;
            }
        })
    };
    let router = router.with_state(state);
    let serving = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    });
    Ok(AbortOnDrop(vec![counting, serving]))
}

/// Background tasks that end with their owner.
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.iter().for_each(tokio::task::JoinHandle::abort);
    }
}

/// Picks up keys rotated by another replica sharing the database.
async fn reload_keys_periodically(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(30));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        if let Err(error) = state.keys().reload(state.store()).await {
            tracing::warn!(%error, "could not reload signing keys");
        }
    }
}

/// `robots serve`: binds, announces itself (and the setup code on a fresh
/// installation), and serves until SIGINT or SIGTERM.
pub async fn run(state: AppState) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = state.config().clone();
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, backend = ?state.store().backend(), "robots is listening");
    let _metrics = match config.metrics_listen {
        Some(metrics_address) => Some(serve_metrics(state.clone(), metrics_address).await?),
        None => None,
    };
    // With --listen on port 0 the default public URL names the port actually bound.
    let url = if config.public_url == format!("http://{}", config.listen) {
        format!("http://{address}")
    } else {
        config.public_url.clone()
    };
    if let Some(code) = prepare_first_run(&state).await.map_err(|error| format!("{error:?}"))? {
        if config.json_logs {
            tracing::warn!(
                setup_code = %code.display(),
                setup_url = %format!("{url}/setup"),
                "this installation has no users yet: create the first administrator with the one-time setup code"
            );
        } else {
            // Printed, not logged: it is for the person at the terminal.
            eprintln!(
                "\n  This installation has no users yet. Create the first administrator with this\n  \
             one-time setup code (it stops working once any user exists):\n\n      {code}\n\n  \
             In a browser: {url}/setup\n  \
             Or with curl:\n    curl -X POST {url}/v1/setup -H 'Content-Type: application/json' \\\n      \
             -d '{{\"code\": \"{code}\", \"username\": \"admin\", \"email\": \"admin@example.com\", \"password\": \"…\"}}'\n",
                code = code.display(),
            );
        }
    }
    serve(state, listener, shutdown_signal()).await?;
    tracing::info!("robots stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::Router;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use crate::state::ServerConfig;

    /// One HTTP/1.1 exchange over a fresh connection; the whole answer.
    async fn exchange(address: std::net::SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .expect("the server answered")
            .unwrap();
        String::from_utf8(answer).unwrap()
    }

    /// The layers wrap the router as a whole: fallbacks and panics get the
    /// usual error shape and every answer the common headers.
    #[tokio::test]
    async fn every_answer_passes_the_common_layers() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let config = ServerConfig::new(address);
        async fn boom() -> &'static str {
            panic!("a handler bug")
        }
        let routes: Router = Router::new().route("/boom", get(boom));
        let app = super::with_common_layers(
            super::with_common_routes(routes),
            config.max_body_bytes,
            config.request_timeout,
            Vec::new(),
            None,
        );
        tokio::spawn(async move {
            crate::listener::serve_connections(app, listener, &config, std::future::pending()).await
        });

        let cases = [
            ("GET /healthz", "200 OK", "ok"),
            ("GET /boom", "500 Internal Server Error", r#""code":"internal""#),
            ("GET /nowhere", "404 Not Found", r#""code":"not_found""#),
            (
                "DELETE /healthz",
                "405 Method Not Allowed",
                r#""code":"method_not_allowed""#,
            ),
        ];
        for (line, status, body) in cases {
            let answer = exchange(
                address,
                &format!("{line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            )
            .await;
            let (head, content) = answer.split_once("\r\n\r\n").unwrap();
            let head = head.to_ascii_lowercase() + "\r\n";
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}\r\n")),
                "{line}: {answer}"
            );
            assert!(content.contains(body), "{line}: {answer}");
            assert!(
                head.contains("\r\nx-content-type-options: nosniff\r\n"),
                "{line}: {answer}"
            );
            assert!(head.contains("\r\ncache-control: no-store\r\n"), "{line}: {answer}");
        }
    }

    /// Connections are served on the connection workers, spread over them,
    /// each on one worker for its whole life.
    #[tokio::test]
    async fn connections_are_spread_over_the_workers() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut config = ServerConfig::new(address);
        config.workers = 2;
        async fn thread() -> String {
            std::thread::current().name().unwrap_or("unnamed").to_owned()
        }
        let app = super::with_common_layers(
            Router::new().route("/thread", get(thread)),
            config.max_body_bytes,
            config.request_timeout,
            Vec::new(),
            None,
        );
        tokio::spawn(async move {
            crate::listener::serve_connections(app, listener, &config, std::future::pending()).await
        });

        /// Asks on a kept-alive connection which thread serves it.
        async fn ask(stream: &mut TcpStream) -> String {
            stream
                .write_all(b"GET /thread HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut answer = Vec::new();
            let mut chunk = [0; 1024];
            while !String::from_utf8_lossy(&answer).contains("robots-worker-") {
                let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
                    .await
                    .expect("the server answered")
                    .unwrap();
                assert!(read > 0, "closed early: {}", String::from_utf8_lossy(&answer));
                answer.extend_from_slice(&chunk[..read]);
            }
            let answer = String::from_utf8(answer).unwrap();
            answer.rsplit("\r\n\r\n").next().unwrap().to_owned()
        }
        // Held open together, so each counts while the next is placed.
        let mut connections = Vec::new();
        let mut first_answers = Vec::new();
        for _ in 0..4 {
            let mut stream = TcpStream::connect(address).await.unwrap();
            first_answers.push(ask(&mut stream).await);
            connections.push(stream);
        }
        for name in ["robots-worker-0", "robots-worker-1"] {
            assert!(
                first_answers.iter().any(|n| n == name),
                "{name} served none: {first_answers:?}"
            );
        }
        for (stream, first) in connections.iter_mut().zip(&first_answers) {
            assert_eq!(&ask(stream).await, first, "a connection stays on its worker");
        }
    }
}
