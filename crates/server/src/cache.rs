//! Verification answers kept in memory between requests: verified token
//! owners by hash, robots' access by robot, users' sessions by hash and
//! recently signed tokens by grant. Every entry is stamped with the store's
//! change generation and ignored once anything verification-relevant
//! changed (`robots_store::GenerationCache`), so a revocation takes effect
//! on the next request. Bounded.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::AtomicI64;

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue};
use robots_core::access::AccessSnapshot;
use robots_store::{GenerationCache, TokenOwner, User};
use time::OffsetDateTime;
use uuid::Uuid;

/// A verified robot token: its owner, and what the hot path keeps with it.
#[derive(Debug)]
pub struct VerifiedToken {
    pub owner: TokenOwner,
    /// When this token's last use was noted (Unix ms): at most one a minute
    /// is recorded, decided without a lock.
    pub(crate) last_noted: AtomicI64,
    /// `X-Robot-*` answer headers, built once.
    headers: OnceLock<[(HeaderName, HeaderValue); 4]>,
    /// The introspection answer about this token, built once (see
    /// `verification::introspect`).
    pub(crate) introspection: OnceLock<axum::body::Bytes>,
}

impl std::ops::Deref for VerifiedToken {
    type Target = TokenOwner;
    fn deref(&self) -> &TokenOwner {
        &self.owner
    }
}

impl VerifiedToken {
    pub(crate) fn new(owner: TokenOwner) -> Self {
        Self {
            owner,
            last_noted: AtomicI64::new(i64::MIN),
            headers: OnceLock::new(),
            introspection: OnceLock::new(),
        }
    }

    /// Who the robot is, as `auth_request` answers: `X-Robot-Id`,
    /// `X-Robot-Name`, `X-Robot-Org`, `X-Access-Id`.
    pub fn identity_headers(&self) -> &[(HeaderName, HeaderValue); 4] {
        self.headers.get_or_init(|| {
            let value = |text: String| HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""));
            [
                (
                    HeaderName::from_static("x-robot-id"),
                    value(self.owner.robot_id.to_string()),
                ),
                (
                    HeaderName::from_static("x-robot-name"),
                    value(self.owner.robot_name.to_string()),
                ),
                (
                    HeaderName::from_static("x-robot-org"),
                    value(self.owner.org_name.to_string()),
                ),
                (
                    HeaderName::from_static("x-access-id"),
                    value(self.owner.access_id.to_string()),
                ),
            ]
        })
    }
}

/// A user's session as cached: the user, and when the session expires.
pub(crate) type CachedSession = Arc<(User, OffsetDateTime)>;

/// Verification answers kept in memory: token owners by hash, permissions
/// by robot, users' sessions by hash, and recently signed tokens by grant.
/// Bounded.
#[derive(Debug)]
pub struct VerifyCache {
    pub(crate) owners: GenerationCache<[u8; 32], Arc<VerifiedToken>>,
    pub(crate) access: GenerationCache<Uuid, Arc<AccessSnapshot>>,
    /// Users' sessions by hash, with their expiry (checked on every use).
    pub(crate) sessions: GenerationCache<[u8; 32], CachedSession>,
    /// Signed tokens by Access ID and grant (see [`crate::issued`]).
    issued: GenerationCache<(Uuid, String), Issued>,
}

impl VerifyCache {
    /// (hits, misses) of each cache the verification path reads through.
    pub fn lookups(&self) -> [(&'static str, (u64, u64)); 2] {
        [
            ("token_owners", self.owners.lookups()),
            ("robot_access", self.access.lookups()),
        ]
    }
}

impl Default for VerifyCache {
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl VerifyCache {
    pub fn with_capacity(entries: usize) -> Self {
        Self {
            owners: GenerationCache::new(entries),
            access: GenerationCache::new(entries),
            sessions: GenerationCache::new(entries),
            // A signed token is a few kilobytes: fewer of them.
            issued: GenerationCache::new(entries / 10),
        }
    }

    pub(crate) fn issued(&self, grant: &(Uuid, String), generation: u64) -> Option<Issued> {
        self.issued.get(grant.0.as_bytes()[15], grant, generation)
    }

    pub(crate) fn remember_issued(&self, grant: (Uuid, String), issued: Issued, generation: u64) {
        self.issued.put(grant.0.as_bytes()[15], grant, issued, generation);
    }
}

/// An answer holding a signed token, as first built.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The answer's body, or the part of it that does not change with time.
    pub answer: Bytes,
    /// When the token was signed (its `iat`).
    pub issued_at: OffsetDateTime,
    /// Whether this answer was given before.
    pub reused: bool,
    /// The key that signed it: after a rotation, tokens are signed anew.
    pub(crate) kid: String,
}
