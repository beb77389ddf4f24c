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

pub(crate) mod auth_request;
pub(crate) mod exchange;
pub(crate) mod introspect;
pub(crate) mod keys;
pub(crate) mod oauth;
pub(crate) mod registry;

use axum::Router;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::auth::{Presented, presented_credentials};
use crate::error::ApiError;
use crate::state::AppState;
use crate::verify::RobotCredential;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(registry::router(&state.config().registry_token_path))
        .merge(auth_request::router())
        .merge(introspect::router())
        .merge(oauth::router())
        .merge(keys::router())
}

/// The robot credential in the request's `Authorization` header (Basic or
/// Bearer), or why there is none (`None`: no credentials at all), for
/// [`AppState::verify_robot`].
fn robot_credential(headers: &HeaderMap) -> Result<RobotCredential, Option<ApiError>> {
    match presented_credentials(headers) {
        Ok(None) => Err(None),
        Ok(Some(Presented::Robot(credential))) => Ok(credential),
        Ok(Some(Presented::Session(_))) | Err(_) => {
            tracing::info!("verification endpoint called without robot credentials");
            Err(Some(ApiError::unauthenticated()))
        }
    }
}

/// Reads an `application/x-www-form-urlencoded` body. Taking the request
/// whole, rather than extracting headers and form separately, spares the
/// verification endpoints a copy of every header. The error is a message
/// for the client.
async fn read_form<T: DeserializeOwned>(request: Request, limit: usize) -> (Parts, Result<T, String>) {
    let (parts, body) = request.into_parts();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| {
            media_type
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return (
            parts,
            Err("send the request as application/x-www-form-urlencoded".to_owned()),
        );
    }
    let form = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            serde_urlencoded::from_bytes(&bytes).map_err(|error| format!("the form could not be read: {error}"))
        }
        Err(_) => Err(format!("the form is larger than {limit} bytes")),
    };
    (parts, form)
}

/// A JSON answer built ahead (and kept) as bytes.
fn json_body(body: axum::body::Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Seconds since the epoch, as JWT claims want them (integers).
fn epoch_seconds(at: time::OffsetDateTime) -> i64 {
    at.unix_timestamp()
}
