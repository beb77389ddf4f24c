//! Robot token verification: the per-request path every protected system
//! pays for, so it does the least work that is still correct.
//!
//! 1. The presented secret is checked for shape and checksum: garbage never
//!    reaches the database.
//! 2. It is looked up by its SHA-256, and the stored hash is compared again in
//!    constant time; with HTTP Basic, the Access ID must match the token.
//! 3. Expiry is judged against the injected clock.
//!    Found owners are cached in memory ([`VerifyCache`]), keyed by the hash,
//!    and trusted only while nothing verification-relevant changed since
//!    (the store's generation; on PostgreSQL fed by LISTEN/NOTIFY from every
//!    replica). A revocation thus takes effect on the next request here and
//!    as soon as the notification arrives elsewhere.
//! 4. A successful use is noted in memory ([`UsageRecorder`]) and written in
//!    batches, at most once a minute per token: verification itself never
//!    writes to the database.
//!
//! Every failure looks the same to the client: 401, or 429 once the
//! client's address or the Access ID has used up its failures
//! (`robots_service::limits`). The reason is logged and audited, never sent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};

use robots_core::access::AccessSnapshot;
use robots_core::{SecretHash, SecretKind, SecretToken};
use robots_store::{GenerationCache, Store, TokenOwner, TokenUse, User};
use time::OffsetDateTime;
use uuid::Uuid;

use robots_service::{Actor, Change};

use crate::error::ApiError;
use crate::state::{AppState, RequestClient};
use robots_service::limits::{Failure, address_key};

/// Why a presented robot credential was refused. For logs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RobotAuthFailure {
    Malformed,
    UnknownToken,
    AccessIdMismatch,
    Expired,
    RobotDisabled,
}

impl RobotAuthFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownToken => "unknown_token",
            Self::AccessIdMismatch => "access_id_mismatch",
            Self::Expired => "expired",
            Self::RobotDisabled => "robot_disabled",
        }
    }
}

/// A robot credential as presented: the token's hash (the plaintext is not
/// kept), and with HTTP Basic the Access ID it claims to be.
#[derive(Debug)]
pub struct RobotCredential {
    pub access_id: Option<Uuid>,
    pub hash: SecretHash,
}

impl RobotCredential {
    /// From HTTP Basic's username and password (as sent: not yet known to
    /// be text).
    pub fn from_basic(username: &[u8], password: &[u8]) -> Result<Self, RobotAuthFailure> {
        let access_id = Uuid::try_parse_ascii(username).map_err(|_| RobotAuthFailure::Malformed)?;
        let password = std::str::from_utf8(password).map_err(|_| RobotAuthFailure::Malformed)?;
        let credential = Self::from_token(password)?;
        Ok(Self {
            access_id: Some(access_id),
            ..credential
        })
    }

    /// From the token alone (a Bearer token, an introspected token).
    pub fn from_token(text: &str) -> Result<Self, RobotAuthFailure> {
        match SecretToken::hash_of(text) {
            Ok((SecretKind::RobotToken, hash)) => Ok(Self { access_id: None, hash }),
            _ => Err(RobotAuthFailure::Malformed),
        }
    }
}

/// A verified robot token: its owner, and what the hot path keeps with it.
#[derive(Debug)]
pub struct VerifiedToken {
    pub owner: TokenOwner,
    /// When this token's last use was noted (Unix ms): at most one a minute
    /// is recorded, decided without a lock.
    last_noted: AtomicI64,
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
    fn new(owner: TokenOwner) -> Self {
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

impl AppState {
    /// Verifies a robot credential and notes its use. A refusal is logged
    /// and, when it can be tied to an organization, audited there.
    pub async fn verify_robot(
        &self,
        credential: &RobotCredential,
        client: RequestClient<'_>,
    ) -> Result<Arc<VerifiedToken>, ApiError> {
        let limits = self.service().limits();
        // One clock read serves the whole verification: each costs as much
        // as the checksum check.
        let now = self.now();
        let now_ms = robots_core::clock::to_millis(now);
        let address = client.ip.map(address_key);
        if let Some(address) = address
            && let Err(wait) = limits.robot_address.check(&address, now_ms)
        {
            tracing::debug!(client = %address, "robot authentication refused: address rate-limited");
            return Err(ApiError::rate_limited(wait));
        }
        let (reason, owner) = match self.check_robot(credential, now).await? {
            Ok(token) => {
                self.note_use(&token, client, now, now_ms);
                return Ok(token);
            }
            Err(refused) => refused,
        };
        // Boxed: refusals are rare, and their path's future would otherwise
        // make every verification's as large. (Boxed in a statement of its
        // own, and outside the match: a temporary alive at an await is kept
        // in this future, boxed or not.)
        let refusal = Box::pin(self.refuse_robot(credential, client, address, reason, owner));
        Err(refusal.await)
    }

    /// Counts a refused robot credential against the rate limits, logs it
    /// and audits it (once per flood); the error to answer with.
    async fn refuse_robot(
        &self,
        credential: &RobotCredential,
        client: RequestClient<'_>,
        address: Option<std::net::IpAddr>,
        reason: RobotAuthFailure,
        owner: Option<TokenOwner>,
    ) -> ApiError {
        let limits = self.service().limits();
        let access_id = credential.access_id.or(owner.as_ref().map(|o| o.access_id));
        let now_ms = self.now_ms();
        let by_address = address.map(|address| limits.robot_address.fail(address, now_ms));
        let by_access_id = access_id.map(|id| limits.robot_access_id.fail(id, now_ms));
        let failures = [by_address, by_access_id];
        let retry_after = failures.iter().flatten().filter_map(|f| f.retry_after()).max();
        if failures.iter().flatten().any(|f| matches!(f, Failure::StillLimited(_))) {
            // Already limited and audited as such: one event per
            // flood, not one per attempt.
            tracing::debug!(reason = reason.as_str(), ?access_id, client = ?client.ip, "robot authentication failed (rate-limited)");
            return retry_after.map_or_else(ApiError::unauthenticated, ApiError::rate_limited);
        }
        tracing::info!(
            reason = reason.as_str(),
            access_id = ?credential.access_id,
            client = ?client.ip,
            "robot authentication failed"
        );
        let org = match (&owner, credential.access_id) {
            (Some(owner), _) => Some(owner.org_id),
            (None, Some(claimed)) => self.store().token_org(claimed).await.ok().flatten(),
            (None, None) => None,
        };
        self.service().audit_later(
            Actor::Anonymous(&client.to_client_info()),
            Change {
                org,
                action: if retry_after.is_some() {
                    "auth.rate_limited"
                } else {
                    "auth.failed"
                },
                target: access_id.map(|id| format!("token {id}")),
                detail: serde_json::json!({
                    "reason": reason.as_str(),
                    "access_id": access_id,
                    "robot": owner.as_ref().map(|o| format!("{}/{}", o.org_name, o.robot_name)),
                    "retry_after_seconds": retry_after.map(|wait| wait.as_secs()),
                }),
            },
        );
        retry_after.map_or_else(ApiError::unauthenticated, ApiError::rate_limited)
    }

    /// Notes a use, at most once a minute per token: the common case is one
    /// atomic load.
    fn note_use(&self, token: &VerifiedToken, client: RequestClient<'_>, now: OffsetDateTime, now_ms: i64) {
        let last = token.last_noted.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < USAGE_RESOLUTION.as_millis() as i64 {
            return;
        }
        if token
            .last_noted
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return; // Another request noted it just now.
        }
        self.usage().note(TokenUse {
            access_id: token.owner.access_id,
            at: now,
            ip: client.ip.map(|address| address.to_string()),
            user_agent: client.to_client_info().user_agent,
        });
    }

    /// The verdict without side effects; the outer `Result` is for store
    /// failures, the inner one for refusals (with the token's owner when the
    /// secret itself was right).
    async fn check_robot(
        &self,
        credential: &RobotCredential,
        now: OffsetDateTime,
    ) -> Result<Result<Arc<VerifiedToken>, (RobotAuthFailure, Option<TokenOwner>)>, ApiError> {
        let Some(token) = self.token_owner(&credential.hash).await? else {
            return Ok(Err((RobotAuthFailure::UnknownToken, None)));
        };
        // The lookup matched on the hash already; comparing again in
        // constant time keeps the check independent of how the index compares.
        if token.secret_hash != credential.hash {
            return Ok(Err((RobotAuthFailure::UnknownToken, None)));
        }
        if credential.access_id.is_some_and(|claimed| claimed != token.access_id) {
            return Ok(Err((RobotAuthFailure::AccessIdMismatch, Some(token.owner.clone()))));
        }
        if token.expires_at.is_some_and(|expiry| expiry <= now) {
            return Ok(Err((RobotAuthFailure::Expired, Some(token.owner.clone()))));
        }
        if token.robot_disabled {
            return Ok(Err((RobotAuthFailure::RobotDisabled, Some(token.owner.clone()))));
        }
        Ok(Ok(token))
    }
}

impl AppState {
    /// The verified owner of a token hash: from the cache while it is
    /// current, else from the store (and then cached).
    async fn token_owner(&self, hash: &SecretHash) -> Result<Option<Arc<VerifiedToken>>, ApiError> {
        let store = self.store();
        // Store calls are boxed: their futures are large, and inline they
        // would make every verification's future (allocated per request by
        // the router) as large, cache hits included.
        let read = async {
            let owner = Box::pin(store.find_token_owner(hash)).await?;
            Ok::<_, ApiError>(owner.map(|owner| Arc::new(VerifiedToken::new(owner))))
        };
        let owners = &self.verify_cache().owners;
        store
            .remembered(owners, hash.as_bytes()[0], *hash.as_bytes(), read)
            .await
    }

    /// What a robot may do: its teams' grants, cached like token owners.
    pub async fn robot_access(&self, robot_id: Uuid) -> Result<Arc<AccessSnapshot>, ApiError> {
        let store = self.store();
        let read = async {
            let access = Box::pin(store.robot_access(robot_id)).await?;
            Ok::<_, ApiError>(Some(Arc::new(access)))
        };
        let cache = &self.verify_cache().access;
        let access = store.remembered(cache, robot_id.as_bytes()[15], robot_id, read).await?;
        access.ok_or_else(|| ApiError::internal("a robot's access was not read"))
    }
}

/// A user's session as cached: the user, and when the session expires.
pub(crate) type CachedSession = Arc<(User, OffsetDateTime)>;

/// Verification answers kept in memory: token owners by hash, permissions
/// by robot, users' sessions by hash, and recently signed tokens by grant.
/// Bounded.
#[derive(Debug)]
pub struct VerifyCache {
    owners: GenerationCache<[u8; 32], Arc<VerifiedToken>>,
    access: GenerationCache<Uuid, Arc<AccessSnapshot>>,
    /// Users' sessions by hash, with their expiry (checked on every use).
    pub(crate) sessions: GenerationCache<[u8; 32], CachedSession>,
    /// Signed tokens by Access ID and grant (see [`crate::issued`]).
    issued: GenerationCache<(Uuid, String), crate::issued::Issued>,
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

    pub(crate) fn issued(&self, grant: &(Uuid, String), generation: u64) -> Option<crate::issued::Issued> {
        self.issued.get(grant.0.as_bytes()[15], grant, generation)
    }

    pub(crate) fn remember_issued(&self, grant: (Uuid, String), issued: crate::issued::Issued, generation: u64) {
        self.issued.put(grant.0.as_bytes()[15], grant, issued, generation);
    }
}

/// Minimum time between two recorded uses of one token.
pub const USAGE_RESOLUTION: Duration = Duration::from_secs(60);

/// Remembers token uses in memory and writes them in batches.
#[derive(Debug, Default)]
pub struct UsageRecorder {
    state: Mutex<UsageState>,
    /// Held while a batch is written (see `AuditBuffer::flush`).
    flushing: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct UsageState {
    /// When each token's use was last accepted for recording.
    last_noted: HashMap<Uuid, OffsetDateTime>,
    /// Uses waiting to be written.
    pending: Vec<TokenUse>,
}

impl UsageRecorder {
    /// Notes a use unless one of the same token was noted within the last
    /// [`USAGE_RESOLUTION`]. Never blocks on I/O.
    pub fn note(&self, token_use: TokenUse) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(previous) = state.last_noted.get(&token_use.access_id)
            && token_use.at < *previous + USAGE_RESOLUTION
        {
            return;
        }
        state.last_noted.insert(token_use.access_id, token_use.at);
        state.pending.push(token_use);
    }

    /// Writes what is pending. On failure the uses are put back for the next
    /// round; losing a last-used time is never worth failing a request over.
    pub async fn flush(&self, store: &Store, now: OffsetDateTime) {
        let _flushing = self.flushing.lock().await;
        let batch = {
            let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // Tokens not used for a whole resolution period need no memory:
            // their next use will be recorded anyway.
            state.last_noted.retain(|_, noted| *noted + USAGE_RESOLUTION > now);
            std::mem::take(&mut state.pending)
        };
        if batch.is_empty() {
            return;
        }
        if let Err(error) = store.record_token_uses(&batch).await {
            tracing::warn!(%error, uses = batch.len(), "could not record token uses; will retry");
            let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            state.pending.extend(batch);
        }
    }
}
