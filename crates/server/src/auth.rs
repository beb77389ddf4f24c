//! Who is calling: credentials from the `Authorization` header, resolved to
//! a user session or a robot.
//!
//! - `Authorization: Bearer rsn_…`: a user's session (from `POST /v1/sessions`).
//! - `Authorization: Bearer rpat_…`: a user's personal access token.
//! - `Authorization: Bearer rbt_…`: a robot token.
//! - `Authorization: Basic base64(access_id:rbt_…)`: a robot token with its Access ID.
//!
//! Handlers state what they accept by their extractor: [`Caller`] (anyone
//! authenticated), [`ApiUser`] (users, with a session or a personal access
//! token: the routes automation may use, where the service checks the
//! token's scopes), [`CurrentUser`] (users with a session only: personal
//! access tokens get 403 `session_required`, robots `robot_forbidden`) or
//! [`OptionalUser`] (anonymous allowed). A route takes a personal access
//! token only by saying so.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use robots_core::{SecretKind, SecretToken};
use robots_service::ClientInfo;
pub use robots_service::{UserSession, Via};

use crate::error::ApiError;
use crate::state::AppState;
use crate::verify::{RobotAuthFailure, RobotCredential};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    User(Box<UserSession>),
    Robot(std::sync::Arc<crate::cache::VerifiedToken>),
}

/// Credentials as found in a request, before anything is looked up.
#[derive(Debug)]
pub enum Presented {
    Session(SecretToken),
    PersonalToken(SecretToken),
    Robot(RobotCredential),
}

/// Reads the `Authorization` header. `Ok(None)`: no credentials at all;
/// `Err`: credentials that cannot be valid (logged with their reason).
pub fn presented_credentials(headers: &HeaderMap) -> Result<Option<Presented>, RobotAuthFailure> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    // Read as bytes: each part is checked for its own shape below, so a
    // pass over the whole header to make it text first would be wasted work
    // on every verification.
    let (scheme, rest) = split_at(value.as_bytes(), b' ').ok_or(RobotAuthFailure::Malformed)?;
    let rest = rest.trim_ascii();
    if scheme.eq_ignore_ascii_case(b"bearer") {
        let rest = std::str::from_utf8(rest).map_err(|_| RobotAuthFailure::Malformed)?;
        if rest.starts_with(SecretKind::Session.prefix()) {
            let token = SecretToken::parse_kind(SecretKind::Session, rest).map_err(|_| RobotAuthFailure::Malformed)?;
            return Ok(Some(Presented::Session(token)));
        }
        if rest.starts_with(SecretKind::PersonalToken.prefix()) {
            let token =
                SecretToken::parse_kind(SecretKind::PersonalToken, rest).map_err(|_| RobotAuthFailure::Malformed)?;
            return Ok(Some(Presented::PersonalToken(token)));
        }
        return RobotCredential::from_token(rest).map(|credential| Some(Presented::Robot(credential)));
    }
    if scheme.eq_ignore_ascii_case(b"basic") {
        // An Access ID, a colon and a token fit in 128 bytes; decode on the stack.
        let mut buffer = [0u8; 128];
        let length = STANDARD
            .decode_slice(rest, &mut buffer)
            .map_err(|_| RobotAuthFailure::Malformed)?;
        let (username, password) = split_at(&buffer[..length], b':').ok_or(RobotAuthFailure::Malformed)?;
        return RobotCredential::from_basic(username, password).map(|c| Some(Presented::Robot(c)));
    }
    Err(RobotAuthFailure::Malformed)
}

/// Logs an `Authorization` header that could not be read: a token whose
/// checksum fails (mistyped, truncated, made up) or a header of no known
/// shape. Refused before any lookup, so it costs no more than that.
pub fn log_malformed(reason: RobotAuthFailure, client: Option<std::net::IpAddr>) {
    tracing::info!(reason = reason.as_str(), client = ?client, "robot authentication failed: malformed token");
}

/// The bytes before and after the first `separator`.
fn split_at(bytes: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&byte| byte == separator)?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

impl AppState {
    /// Resolves a session token to its user, if the session is live.
    pub async fn resolve_session(
        &self,
        token: &SecretToken,
        client: ClientInfo,
        via: Via,
    ) -> Result<Option<UserSession>, ApiError> {
        let hash = token.hash();
        let now = self.now();
        // Cached like verification answers: a logout bumps the generation
        // (here and, through NOTIFY, on every replica), expiry is checked here.
        let store = self.store();
        let read = async { Ok::<_, ApiError>(store.find_session(&hash, now).await?.map(Arc::new)) };
        let sessions = &self.verify_cache().sessions;
        let session = store
            .remembered(sessions, hash.as_bytes()[0], *hash.as_bytes(), read)
            .await?;
        Ok(session.filter(|session| session.1 > now).map(|session| UserSession {
            user: session.0.clone(),
            session: hash,
            expires_at: session.1,
            client,
            via,
            personal_token: None,
        }))
    }

    /// Resolves whatever the request presents; `Ok(None)` when it presents nothing.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Option<Caller>, ApiError> {
        let presented = presented_credentials(&parts.headers).map_err(|reason| {
            let client = self.request_client(&parts.headers, &parts.extensions);
            log_malformed(reason, client.ip);
            ApiError::unauthenticated()
        })?;
        match presented {
            None => Ok(None),
            Some(Presented::Session(token)) => {
                let client = self.client_info(&parts.headers, &parts.extensions);
                let via = Via::of_api_request(&client);
                match self.resolve_session(&token, client, via).await? {
                    Some(session) => Ok(Some(Caller::User(Box::new(session)))),
                    None => {
                        tracing::info!("unknown or expired session");
                        Err(ApiError::unauthenticated())
                    }
                }
            }
            Some(Presented::PersonalToken(token)) => {
                let client = self.client_info(&parts.headers, &parts.extensions);
                let via = Via::of_api_request(&client);
                match self
                    .service()
                    .authenticate_personal_token(&token.hash(), client, via)
                    .await?
                {
                    Some(session) => Ok(Some(Caller::User(Box::new(session)))),
                    None => {
                        tracing::info!("unknown, revoked or expired personal access token");
                        Err(ApiError::unauthenticated())
                    }
                }
            }
            Some(Presented::Robot(credential)) => {
                let client = self.request_client(&parts.headers, &parts.extensions);
                let owner = self
                    .verify_robot(&credential, client, credential.api_verifier())
                    .await?;
                Ok(Some(Caller::Robot(owner)))
            }
        }
    }
}

/// Where the request came from, as an extractor (never fails).
impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(state.client_info(&parts.headers, &parts.extensions))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.authenticate(parts).await?.ok_or_else(ApiError::unauthenticated)
    }
}

/// A logged-in user; personal access tokens are refused with 403
/// `session_required`, robots with 403 `robot_forbidden`.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub UserSession);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ApiUser(session) = ApiUser::from_request_parts(parts, state).await?;
        session.require_session("be used here")?;
        Ok(Self(session))
    }
}

/// A user, logged in or with a personal access token (whose scopes the
/// service checks); robots are refused with 403 `robot_forbidden`.
#[derive(Debug, Clone)]
pub struct ApiUser(pub UserSession);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::User(session) => Ok(Self(*session)),
            Caller::Robot(_) => Err(ApiError::robot_forbidden()),
        }
    }
}

/// A logged-in user or nobody; robots are still refused.
#[derive(Debug, Clone)]
pub struct OptionalUser(pub Option<UserSession>);

impl FromRequestParts<AppState> for OptionalUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match state.authenticate(parts).await? {
            None => Ok(Self(None)),
            Some(Caller::User(session)) => {
                session.require_session("be used here")?;
                Ok(Self(Some(*session)))
            }
            Some(Caller::Robot(_)) => Err(ApiError::robot_forbidden()),
        }
    }
}
