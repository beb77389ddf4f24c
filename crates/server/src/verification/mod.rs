//! How other systems check robot credentials, each in the protocol it
//! already speaks:
//!
//! - `registry`: the Docker registry v2 token service (`GET /v2/token`).
//! - `auth_request`: nginx `auth_request` (`GET /v1/auth`).
//! - `introspect`: RFC 7662 token introspection (`POST /v1/introspect`).
//! - `oauth`: RFC 6749 client credentials (`POST /v1/oauth/token`), with the
//!   JWKS and discovery documents that let services verify offline.
//! - `keys`: the signing keys' certificates, and their rotation.
//!
//! All of them verify through [`crate::verify`], so a deleted, expired or
//! malformed token is refused the same way everywhere.

mod auth_request;
mod introspect;
mod keys;
mod oauth;
mod registry;

use axum::Router;
use axum::http::HeaderMap;

use crate::auth::{Presented, presented_credentials};
use crate::error::ApiError;
use crate::state::{AppState, ClientInfo};

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(registry::router(&state.config().registry_token_path))
        .merge(auth_request::router())
        .merge(introspect::router())
        .merge(oauth::router())
        .merge(keys::router())
}

/// The robot behind the request's `Authorization` header (Basic or Bearer),
/// or the reason there is none (`None`: no credentials at all).
async fn robot_from_headers(
    state: &AppState,
    headers: &HeaderMap,
    client: &ClientInfo,
) -> Result<std::sync::Arc<crate::verify::VerifiedToken>, Option<ApiError>> {
    match presented_credentials(headers) {
        Ok(None) => Err(None),
        Ok(Some(Presented::Robot(credential))) => state.verify_robot(&credential, client).await.map_err(Some),
        Ok(Some(Presented::Session(_))) | Err(_) => {
            tracing::info!("verification endpoint called without robot credentials");
            Err(Some(ApiError::unauthenticated()))
        }
    }
}

/// Seconds since the epoch, as JWT claims want them (integers).
fn epoch_seconds(at: time::OffsetDateTime) -> i64 {
    at.unix_timestamp()
}
