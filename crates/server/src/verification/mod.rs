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
mod protocol;
pub(crate) mod registry;

pub use protocol::{form_pairs, read_fields};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    router_for(&state.config().registry_token_path)
}

/// The routes, with the registry's token service at `registry_token_path`.
pub fn router_for(registry_token_path: &str) -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(registry::router(registry_token_path))
        .merge(auth_request::router())
        .merge(introspect::router())
        .merge(oauth::router())
        .merge(keys::router())
}
