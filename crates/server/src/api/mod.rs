//! The REST API under `/v1`. Each module owns one resource and exports a
//! `router()`; they are merged here. Handlers parse the request, call the
//! service (`robots_service`), which authorizes, validates and records,
//! and render its answer.

pub(crate) mod audit;
pub(crate) mod federation;
mod instance;
mod members;
mod orgs;
mod personal_tokens;
mod repositories;
mod robots;
pub(crate) mod sessions;
mod setup;
mod teams;
pub(crate) mod tokens;
pub(crate) mod users;
pub mod views;
mod webhooks;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(setup::router())
        .merge(sessions::router())
        .merge(users::router())
        .merge(instance::router())
        .merge(personal_tokens::router())
        .merge(orgs::router())
        .merge(members::router())
        .merge(robots::router())
        .merge(tokens::router())
        .merge(teams::router())
        .merge(repositories::router())
        .merge(audit::router())
        .merge(webhooks::router())
        .merge(federation::router())
}
