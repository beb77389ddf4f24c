//! The REST API under `/v1`. Each module owns one resource and exports a
//! `router()`; they are merged here. Handlers parse the request, call the
//! service (`robots_service`), which authorizes, validates and records,
//! and render its answer.

pub(crate) mod access;
pub(crate) mod federation;
pub(crate) mod lifecycle;
mod members;
pub mod openapi;
mod orgs;
mod robots;
pub(crate) mod sessions;
mod setup;
pub(crate) mod tokens;
pub(crate) mod users;
pub mod views;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(setup::router())
        .merge(sessions::router())
        .merge(users::router())
        .merge(orgs::router())
        .merge(members::router())
        .merge(robots::router())
        .merge(tokens::router())
        .merge(access::router())
        .merge(lifecycle::router())
        .merge(federation::router())
}
