//! Configuration and the state every handler shares.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use robots_core::Clock;
use robots_store::Store;

use crate::verify::UsageRecorder;

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
        }
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
}

impl AppState {
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: ServerConfig) -> Self {
        Self(Arc::new(Inner {
            store,
            clock,
            config,
            usage: UsageRecorder::default(),
        }))
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
    }
}

/// Where a request came from, for last-use records and logs.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<SocketAddr>,
    pub user_agent: Option<String>,
}
