//! Prometheus metrics, in the text exposition format, served at `/metrics`
//! on the `--metrics-listen` address only: they name organizations and
//! count failures, which is for the operator's network, not the public one.
//!
//! Counters are atomics bumped where the event happens (a relaxed add: a
//! few nanoseconds on the verification path); request latency is timed by
//! two layers ([`latency`]). Label values come from fixed sets: never an
//! Access ID, a token, a path or anything a client chooses. Without
//! `--metrics-listen` nothing is counted or timed.

mod latency;

pub use latency::{CarryRoute, TimeRequests};

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use robots_store::{DeliveryFigures, TokenFigures};

use robots_store::Store;
use time::OffsetDateTime;

/// Where a robot credential was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verifier {
    /// The REST API, with HTTP Basic (Access ID and Token).
    Basic,
    /// The REST API, with a Bearer Token.
    Bearer,
    /// nginx's `auth_request`: `GET /v1/auth`.
    AuthRequest,
    /// `POST /v1/introspect`, for the token a resource server asks about.
    Introspection,
    /// The registry's token service, `/v2/token`.
    Registry,
    /// OAuth2 client credentials, `/v1/oauth/token`.
    OAuth,
    /// A CI job's ID token exchanged for a robot token.
    Exchange,
}

impl Verifier {
    const ALL: [Self; 7] = [
        Self::Basic,
        Self::Bearer,
        Self::AuthRequest,
        Self::Introspection,
        Self::Registry,
        Self::OAuth,
        Self::Exchange,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Bearer => "bearer",
            Self::AuthRequest => "auth_request",
            Self::Introspection => "introspection",
            Self::Registry => "registry",
            Self::OAuth => "oauth",
            Self::Exchange => "exchange",
        }
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// No such token (or not a token at all).
    Unknown,
    /// A real token under another token's Access ID.
    WrongSecret,
    Expired,
    /// The robot is disabled.
    Disabled,
    /// Refused before any check: too many failures from there.
    RateLimited,
    /// Authenticated, without the permission asked about (also counted ok).
    Forbidden,
}

impl Outcome {
    const ALL: [Self; 7] = [
        Self::Ok,
        Self::Unknown,
        Self::WrongSecret,
        Self::Expired,
        Self::Disabled,
        Self::RateLimited,
        Self::Forbidden,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Unknown => "unknown",
            Self::WrongSecret => "wrong_secret",
            Self::Expired => "expired",
            Self::Disabled => "disabled",
            Self::RateLimited => "rate_limited",
            Self::Forbidden => "forbidden",
        }
    }
}

/// The counters of one server process.
#[derive(Debug, Default)]
pub struct Metrics {
    enabled: bool,
    requests: Arc<latency::RequestTimes>,
    authentications: [[AtomicU64; Outcome::ALL.len()]; Verifier::ALL.len()],
    /// What the database counted last (see [`Metrics::count_stored`]).
    stored: RwLock<Option<Stored>>,
}

#[derive(Debug)]
struct Stored {
    tokens: Vec<TokenFigures>,
    deliveries: DeliveryFigures,
}

/// Tokens expiring within this long count as "expiring".
const EXPIRING_SOON: time::Duration = time::Duration::days(7);

impl Metrics {
    /// Counting, or (`enabled: false`) not: no counter is bumped and no
    /// request timed, for a server without a metrics listener.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    /// The layer timing requests, when counting: the outermost around the
    /// router, with [`CarryRoute`] as a route layer inside it.
    pub fn time_requests(&self) -> Option<TimeRequests> {
        self.enabled.then(|| TimeRequests(self.requests.clone()))
    }

    /// Counts again what only the database knows (run every
    /// `--metrics-refresh`, not per scrape).
    pub async fn count_stored(&self, store: &Store, now: OffsetDateTime) {
        match (
            store.token_figures(now, EXPIRING_SOON).await,
            store.delivery_figures().await,
        ) {
            (Ok(tokens), Ok(deliveries)) => {
                *self.stored.write().unwrap_or_else(|poisoned| poisoned.into_inner()) =
                    Some(Stored { tokens, deliveries });
            }
            (Err(error), _) | (_, Err(error)) => tracing::warn!(%error, "could not count tokens for metrics"),
        }
    }

    pub fn authenticated(&self, verifier: Verifier, outcome: Outcome) {
        if !self.enabled {
            return;
        }
        self.authentications[verifier as usize][outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition: counters, what the database counted, the cache
    /// lookups (name, (hits, misses)), the database pool, the build.
    pub fn render(&self, store: &Store, cache_lookups: &[(&str, (u64, u64))]) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP robots_authentications_total Robot credentials checked, by where and how it ended.\n\
             # TYPE robots_authentications_total counter\n",
        );
        for verifier in Verifier::ALL {
            for outcome in Outcome::ALL {
                let count = self.authentications[verifier as usize][outcome as usize].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "robots_authentications_total{{verifier=\"{}\",outcome=\"{}\"}} {count}",
                    verifier.as_str(),
                    outcome.as_str()
                );
            }
        }
        out.push_str(
            "# HELP robots_verification_cache_lookups_total What verification looked up in memory, and found there or read from the database.\n\
             # TYPE robots_verification_cache_lookups_total counter\n",
        );
        for (cache, (hits, misses)) in cache_lookups {
            let _ = write!(
                out,
                "robots_verification_cache_lookups_total{{cache=\"{cache}\",result=\"hit\"}} {hits}\n\
                 robots_verification_cache_lookups_total{{cache=\"{cache}\",result=\"miss\"}} {misses}\n"
            );
        }
        if let Some(stored) = &*self.stored.read().unwrap_or_else(|poisoned| poisoned.into_inner()) {
            out.push_str(
                "# HELP robots_tokens Robot tokens by organization and state (expiring: within 7 days).\n\
                 # TYPE robots_tokens gauge\n",
            );
            for figures in &stored.tokens {
                // Organization names are lowercase letters, digits and hyphens: nothing to escape.
                for (label, count) in [
                    ("active", figures.active),
                    ("expiring", figures.expiring),
                    ("expired", figures.expired),
                ] {
                    let _ = writeln!(
                        out,
                        "robots_tokens{{org=\"{}\",state=\"{label}\"}} {count}",
                        figures.org
                    );
                }
            }
            let _ = write!(
                out,
                "# HELP robots_webhook_deliveries Webhook deliveries waiting to be made, and given up.\n\
                 # TYPE robots_webhook_deliveries gauge\n\
                 robots_webhook_deliveries{{state=\"pending\"}} {}\n\
                 robots_webhook_deliveries{{state=\"failed\"}} {}\n",
                stored.deliveries.pending, stored.deliveries.failed
            );
        }
        self.requests.render(&mut out);
        let (open, idle) = store.pool_connections();
        let _ = write!(
            out,
            "# HELP robots_database_connections Connections of the database pool, by state.\n\
             # TYPE robots_database_connections gauge\n\
             robots_database_connections{{state=\"in_use\"}} {}\n\
             robots_database_connections{{state=\"idle\"}} {idle}\n\
             # HELP robots_build_info The running version.\n\
             # TYPE robots_build_info gauge\n\
             robots_build_info{{version=\"{}\"}} 1\n",
            open.saturating_sub(idle),
            env!("CARGO_PKG_VERSION"),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_where_they_happen() {
        let metrics = Metrics::new(true);
        metrics.authenticated(Verifier::AuthRequest, Outcome::Ok);
        metrics.authenticated(Verifier::AuthRequest, Outcome::Ok);
        metrics.authenticated(Verifier::Registry, Outcome::WrongSecret);
        let count = |verifier: Verifier, outcome: Outcome| {
            metrics.authentications[verifier as usize][outcome as usize].load(Ordering::Relaxed)
        };
        assert_eq!(count(Verifier::AuthRequest, Outcome::Ok), 2);
        assert_eq!(count(Verifier::Registry, Outcome::WrongSecret), 1);
        assert_eq!(count(Verifier::Basic, Outcome::Ok), 0);
    }
}
