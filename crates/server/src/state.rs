//! Configuration and the state every handler shares.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use robots_core::Clock;
use robots_store::Store;

use crate::audit::AuditBuffer;
use crate::keys::{KeyError, KeyRing};
use crate::verify::{UsageRecorder, VerifyCache};

/// Who may create user accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignupPolicy {
    /// Only instance administrators create users (the default).
    #[default]
    Closed,
    /// Anyone may create a (non-administrator) account.
    Open,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// How clients reach this server (for printed URLs), without a trailing slash.
    pub public_url: String,
    pub signup: SignupPolicy,
    /// How long a login lasts.
    pub session_ttl: Duration,
    /// How often recorded token uses are written to the database.
    pub usage_flush_interval: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Mark console cookies `Secure` (set when the public URL is https).
    pub secure_cookies: bool,
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
}

impl ServerConfig {
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            public_url: format!("http://{listen}"),
            signup: SignupPolicy::Closed,
            session_ttl: Duration::from_secs(12 * 3600),
            usage_flush_interval: Duration::from_secs(1),
            max_body_bytes: 64 * 1024,
            secure_cookies: false,
            issuer: format!("http://{listen}"),
            registry_services: vec!["registry".to_owned()],
            registry_token_path: "/v2/token".to_owned(),
            registry_token_ttl: Duration::from_secs(300),
            access_token_ttl: Duration::from_secs(900),
            oauth_audiences: Vec::new(),
            webhook_poll_interval: Duration::from_secs(2),
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
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub config: ServerConfig,
    pub usage: UsageRecorder,
    pub keys: KeyRing,
    pub audit: AuditBuffer,
    pub cache: VerifyCache,
}

impl AppState {
    /// Builds the state, loading the signing keys (creating the first one
    /// on a fresh installation).
    pub async fn new(store: Store, clock: Arc<dyn Clock>, config: ServerConfig) -> Result<Self, KeyError> {
        let keys = KeyRing::load_or_create(&store, clock.now(), config.max_token_ttl()).await?;
        Ok(Self(Arc::new(Inner {
            store,
            clock,
            config,
            usage: UsageRecorder::default(),
            keys,
            audit: AuditBuffer::default(),
            cache: VerifyCache::default(),
        })))
    }

    pub fn verify_cache(&self) -> &VerifyCache {
        &self.0.cache
    }

    pub fn audit_buffer(&self) -> &AuditBuffer {
        &self.0.audit
    }

    pub fn keys(&self) -> &KeyRing {
        &self.0.keys
    }

    pub fn store(&self) -> &Store {
        &self.0.store
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
        self.0.usage.flush(&self.0.store, self.now()).await;
        self.0.audit.flush(&self.0.store).await;
    }
}

/// Where a request came from, for last-use records and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<SocketAddr>,
    /// Kept as sent (a cheap, shared copy); made text only when recorded.
    pub user_agent_header: Option<axum::http::HeaderValue>,
}

impl ClientInfo {
    /// The user agent as text, at most 256 characters.
    pub fn user_agent(&self) -> Option<String> {
        self.user_agent_header
            .as_ref()
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(256).collect())
    }
}
