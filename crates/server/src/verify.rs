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

use crate::metrics::{Outcome, Verifier};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use robots_core::access::AccessSnapshot;
use robots_core::{SecretHash, SecretKind, SecretToken};
use robots_store::{TokenOwner, TokenUse};
use time::OffsetDateTime;
use uuid::Uuid;

use robots_service::{Actor, Change};

use crate::cache::VerifiedToken;
use crate::error::ApiError;
use crate::state::{AppState, RequestClient};
use crate::usage::USAGE_RESOLUTION;
use robots_service::limits::{Failure, address_key};

/// Why a presented robot credential was refused. For logs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RobotAuthFailure {
    Malformed,
    UnknownToken,
    AccessIdMismatch,
    Expired,
    RobotDisabled,
    TokenDisabled,
}

impl RobotAuthFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownToken => "unknown_token",
            Self::AccessIdMismatch => "access_id_mismatch",
            Self::Expired => "expired",
            Self::RobotDisabled => "robot_disabled",
            Self::TokenDisabled => "token_disabled",
        }
    }
}

impl From<RobotAuthFailure> for Outcome {
    fn from(failure: RobotAuthFailure) -> Self {
        match failure {
            RobotAuthFailure::Malformed | RobotAuthFailure::UnknownToken => Self::Unknown,
            RobotAuthFailure::AccessIdMismatch => Self::WrongSecret,
            RobotAuthFailure::Expired => Self::Expired,
            RobotAuthFailure::RobotDisabled | RobotAuthFailure::TokenDisabled => Self::Disabled,
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
    /// How the REST API was given it: HTTP Basic carries an Access ID, a
    /// Bearer Token none.
    pub fn api_verifier(&self) -> Verifier {
        if self.access_id.is_some() {
            Verifier::Basic
        } else {
            Verifier::Bearer
        }
    }

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

impl AppState {
    /// Verifies a robot credential and notes its use. A refusal is logged
    /// and, when it can be tied to an organization, audited there.
    pub async fn verify_robot(
        &self,
        credential: &RobotCredential,
        client: RequestClient<'_>,
        verifier: Verifier,
    ) -> Result<Arc<VerifiedToken>, ApiError> {
        self.verify_presented(credential, client, None, verifier).await
    }

    /// Verifies a token a resource server asks about (introspection). The
    /// asker is not the holder: a wrong token is charged to its Access ID
    /// alone, never to the asker's address (a resource server must not be
    /// locked out by what its clients send it), and a use is recorded as
    /// introspection by `asked_by`, not as a use from the asker's address.
    pub async fn verify_introspected(
        &self,
        credential: &RobotCredential,
        client: RequestClient<'_>,
        asked_by: &str,
    ) -> Result<Arc<VerifiedToken>, ApiError> {
        self.verify_presented(credential, client, Some(asked_by), Verifier::Introspection)
            .await
    }

    async fn verify_presented(
        &self,
        credential: &RobotCredential,
        client: RequestClient<'_>,
        introspected_by: Option<&str>,
        verifier: Verifier,
    ) -> Result<Arc<VerifiedToken>, ApiError> {
        let limits = self.service().limits();
        // One clock read serves the whole verification: each costs as much
        // as the checksum check.
        let now = self.now();
        let now_ms = robots_core::clock::to_millis(now);
        let address = match introspected_by {
            None => client.ip.map(address_key),
            Some(_) => None,
        };
        if let Some(address) = address
            && let Err(wait) = limits.robot_address.check(&address, now_ms)
        {
            tracing::debug!(client = %address, "robot authentication refused: address rate-limited");
            self.metrics().authenticated(verifier, Outcome::RateLimited);
            return Err(ApiError::rate_limited(wait));
        }
        let (reason, owner) = match self.check_robot(credential, now).await? {
            Ok(token) => {
                self.note_use(&token, client, introspected_by, now, now_ms);
                self.metrics().authenticated(verifier, Outcome::Ok);
                return Ok(token);
            }
            Err(refused) => refused,
        };
        // Boxed: refusals are rare, and their path's future would otherwise
        // make every verification's as large. (Boxed in a statement of its
        // own, and outside the match: a temporary alive at an await is kept
        // in this future, boxed or not.)
        let refusal = Box::pin(self.refuse_robot(credential, client, address, reason, owner)).await;
        let outcome = if refusal.status() == axum::http::StatusCode::TOO_MANY_REQUESTS {
            Outcome::RateLimited
        } else {
            Outcome::from(reason)
        };
        self.metrics().authenticated(verifier, outcome);
        Err(refusal)
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
    /// atomic load. A use by introspection records who asked, and no address.
    fn note_use(
        &self,
        token: &VerifiedToken,
        client: RequestClient<'_>,
        introspected_by: Option<&str>,
        now: OffsetDateTime,
        now_ms: i64,
    ) {
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
        let (ip, user_agent) = match introspected_by {
            None => (
                client.ip.map(|address| address.to_string()),
                client.to_client_info().user_agent,
            ),
            Some(asker) => (None, Some(format!("introspection by {asker}"))),
        };
        self.usage().note(TokenUse {
            access_id: token.owner.access_id,
            at: now,
            ip,
            user_agent,
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
        if token.token_disabled {
            return Ok(Err((RobotAuthFailure::TokenDisabled, Some(token.owner.clone()))));
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
