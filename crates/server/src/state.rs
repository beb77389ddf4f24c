//! Configuration and the state every handler shares.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, header};
use robots_core::Clock;
use robots_service::{ClientInfo, Service, ServiceConfig};
use robots_store::Store;

use crate::cache::VerifyCache;
use crate::client::{IpRange, client_address};
use crate::keys::{KeyError, KeyRing};
use crate::usage::UsageRecorder;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where `/metrics` is served (`--metrics-listen`); nowhere when `None`.
    pub metrics_listen: Option<SocketAddr>,
    /// How often the database-derived metrics are counted again.
    pub metrics_refresh: Duration,
    /// How clients reach this server (for printed URLs), without a trailing slash.
    pub public_url: String,
    /// How often recorded token uses are written to the database.
    pub usage_flush_interval: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Mark console cookies `Secure` (set when the public URL is https).
    pub secure_cookies: bool,
    /// Logs are JSON lines (`--log-format json`): what is printed for the
    /// person at the terminal (the setup code) is logged as one line too.
    pub json_logs: bool,
    /// `iss` of the JWTs we sign; a registry's `auth.token.issuer`.
    pub issuer: String,
    /// The registry `service` names we issue tokens for (a registry's
    /// `auth.token.service`); the JWT's `aud`.
    pub registry_services: Vec<String>,
    /// Where the Docker registry token service answers.
    pub registry_token_path: String,
    pub registry_token_ttl: Duration,
    /// Lifetime of OAuth2 access tokens.
    pub access_token_ttl: Duration,
    /// Audiences a client-credentials request may ask for; the first is the default.
    pub oauth_audiences: Vec<String>,
    /// How often webhook deliveries are looked for.
    pub webhook_poll_interval: Duration,
    /// Where notice mails go (`--smtp-url`, `--smtp-from`); none without.
    pub mailer: Option<crate::mail::Mailer>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpRange>,
    /// Serve HTTPS with this (`--tls-cert`, `--tls-key`); plain HTTP without.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// How long a client may take to send a request head (or a TLS handshake).
    pub header_read_timeout: Duration,
    /// How long a whole request may take, body included.
    pub request_timeout: Duration,
    /// How long requests in flight may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Connection workers: threads that serve connections, each on a
    /// single-threaded runtime (see [`crate::workers`]).
    pub workers: usize,
    /// Open connections at most; beyond, the longest idle are closed (see
    /// [`crate::connections`]).
    pub max_connections: usize,
    /// A keep-alive connection idle this long is closed.
    pub keep_alive_timeout: Duration,
    /// Caps and lifetimes the service enforces for every organization.
    pub service: ServiceConfig,
    /// How long a signed token is given again for the same grant instead
    /// of signing anew (see [`crate::issued`]); zero: never.
    pub token_reuse_window: Duration,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            metrics_listen: None,
            metrics_refresh: Duration::from_secs(30),
            public_url: format!("http://{listen}"),
            usage_flush_interval: Duration::from_secs(1),
            max_body_bytes: 64 * 1024,
            secure_cookies: false,
            json_logs: false,
            issuer: format!("http://{listen}"),
            registry_services: vec!["registry".to_owned()],
            registry_token_path: "/v2/token".to_owned(),
            registry_token_ttl: Duration::from_secs(300),
            access_token_ttl: Duration::from_secs(900),
            oauth_audiences: Vec::new(),
            webhook_poll_interval: Duration::from_secs(2),
            mailer: None,
            trusted_proxies: Vec::new(),
            tls: None,
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            workers: std::thread::available_parallelism().map_or(1, |cores| cores.get()),
            max_connections: 10_000,
            keep_alive_timeout: Duration::from_secs(75),
            service: ServiceConfig::default(),
            token_reuse_window: Duration::from_secs(10),
        }
    }

    /// The longest any token we sign lives: how long a retired key stays published.
    pub fn max_token_ttl(&self) -> Duration {
        self.registry_token_ttl.max(self.access_token_ttl)
    }

    /// The audience of OAuth2 access tokens when the client asks for none.
    pub fn default_audience(&self) -> &str {
        self.oauth_audiences
            .first()
            .map_or(self.issuer.as_str(), String::as_str)
    }
}

/// Shared by every request; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub service: Service,
    pub clock: Arc<dyn Clock>,
    pub config: ServerConfig,
    pub usage: UsageRecorder,
    pub keys: KeyRing,
    pub cache: VerifyCache,
    pub metrics: crate::metrics::Metrics,
    pub issuers: crate::federation::IssuerCache,
    /// For the server's own requests (webhooks), within the outbound policy.
    pub outbound: reqwest::Client,
    pub webhooks_in_flight: crate::in_flight::InFlight,
}

impl AppState {
    /// Builds the state, loading the signing keys (creating the first one
    /// on a fresh installation).
    pub async fn new(store: Store, clock: Arc<dyn Clock>, config: ServerConfig) -> Result<Self, KeyError> {
        let keys = KeyRing::load_or_create(&store, clock.now(), config.max_token_ttl()).await?;
        // Building a client only fails when TLS cannot start at all, and
        // then no client can: the default one panics the same way.
        let outbound = crate::outbound::client(config.service.outbound).unwrap_or_default();
        let issuers = crate::federation::IssuerCache::new(
            config.service.allow_insecure_issuers,
            config.service.outbound,
            outbound.clone(),
        );
        let service = Service::new(store, clock.clone(), config.service.clone());
        let metrics = crate::metrics::Metrics::new(config.metrics_listen.is_some());
        Ok(Self(Arc::new(Inner {
            issuers,
            outbound,
            webhooks_in_flight: crate::in_flight::InFlight::default(),
            service,
            clock,
            config,
            usage: UsageRecorder::default(),
            keys,
            cache: VerifyCache::default(),
            metrics,
        })))
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.0.metrics
    }

    pub fn issuers(&self) -> &crate::federation::IssuerCache {
        &self.0.issuers
    }

    pub fn webhooks_in_flight(&self) -> &crate::in_flight::InFlight {
        &self.0.webhooks_in_flight
    }

    /// The client for the server's own requests (see [`crate::outbound`]).
    pub fn outbound(&self) -> &reqwest::Client {
        &self.0.outbound
    }

    /// Where a request comes from (see [`crate::client::client_address`]).
    pub fn client_info(&self, headers: &HeaderMap, extensions: &Extensions) -> ClientInfo {
        self.request_client(headers, extensions).to_client_info()
    }

    /// Where a request comes from, borrowing its headers.
    pub fn request_client<'a>(&self, headers: &'a HeaderMap, extensions: &Extensions) -> RequestClient<'a> {
        let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        RequestClient {
            ip: client_address(peer, headers, &self.config().trusted_proxies),
            headers,
        }
    }

    /// Milliseconds on the injected clock, for the limiters.
    pub fn now_ms(&self) -> i64 {
        robots_core::clock::to_millis(self.now())
    }

    pub fn verify_cache(&self) -> &VerifyCache {
        &self.0.cache
    }

    pub fn keys(&self) -> &KeyRing {
        &self.0.keys
    }

    /// Every operation on a person's behalf, with its rules.
    pub fn service(&self) -> &Service {
        &self.0.service
    }

    /// The store, for what only reads it on the verification path and for
    /// the background tasks.
    pub fn store(&self) -> &Store {
        self.0.service.store()
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.0.clock.now()
    }

    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    pub fn usage(&self) -> &UsageRecorder {
        &self.0.usage
    }

    /// Writes pending token uses now; the background task does this every
    /// `usage_flush_interval`, and shutdown does it once more.
    pub async fn flush_usage(&self) {
        self.0.usage.flush(self.store(), self.now()).await;
        self.0.service.flush_audit().await;
    }
}

/// Where a request comes from, read without copying anything: verification
/// needs the user agent only when it records a use (once a minute per
/// token), so it is not copied out of the request on every one.
/// [`ClientInfo`] is the owned form.
#[derive(Debug, Clone, Copy)]
pub struct RequestClient<'a> {
    /// The client's address (behind trusted proxies, as they forwarded it).
    pub ip: Option<IpAddr>,
    headers: &'a HeaderMap,
}

impl RequestClient<'_> {
    /// An owned copy, for what outlives the request.
    pub fn to_client_info(self) -> ClientInfo {
        let agent = self
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok());
        let request_id = self
            .headers
            .get(crate::request_id::HEADER)
            .and_then(|value| value.to_str().ok());
        ClientInfo::new(self.ip, agent).with_request_id(request_id)
    }
}
