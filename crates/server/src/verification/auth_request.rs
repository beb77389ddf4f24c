//! nginx `auth_request`: `GET /v1/auth`.
//!
//! nginx forwards the original request's headers; we answer 200 for valid
//! robot credentials (with who it is in `X-Robot-*` headers for
//! `auth_request_set`), 401 with a challenge otherwise, and, when the
//! location asks about a repository (`?repository=acme/web&action=push`),
//! 403 when the robot lacks that permission. Any other status would be an
//! error to nginx, so a store failure is a 500 and nothing else.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use robots_core::access::{RepoAction, RepoPath, may};
use serde::Deserialize;

use super::robot_from_headers;
use crate::error::ApiError;
use crate::state::{AppState, ClientInfo};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/auth", get(check))
}

#[derive(Deserialize)]
struct CheckQuery {
    repository: Option<String>,
    action: Option<String>,
}

async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CheckQuery>,
    client: ClientInfo,
) -> Response {
    let wanted = match (&query.repository, &query.action) {
        (None, None) => None,
        (Some(repository), action) => {
            let action = action.as_deref().unwrap_or("pull");
            let Some(action) = RepoAction::parse(action) else {
                return ApiError::bad_request("invalid_query", "action must be pull, push or delete")
                    .with_field("action")
                    .into_response();
            };
            let Some((org, path)) = RepoPath::split_full_name(repository) else {
                return ApiError::bad_request("invalid_query", "repository must be org/path, e.g. acme/apps/web")
                    .with_field("repository")
                    .into_response();
            };
            Some((org, path, action))
        }
        (None, Some(_)) => {
            return ApiError::bad_request("invalid_query", "action needs a repository")
                .with_field("repository")
                .into_response();
        }
    };
    let owner = match robot_from_headers(&state, &headers, &client).await {
        Ok(owner) => owner,
        Err(_) => return ApiError::unauthenticated().into_response(),
    };
    if let Some((org, path, action)) = wanted {
        let allowed = org == owner.org_name
            && match state.robot_access(owner.robot_id).await {
                Ok(snapshot) => may(&snapshot, owner.org_id, &path, action),
                Err(error) => return error.into_response(),
            };
        if !allowed {
            tracing::info!(robot = %owner.robot_name, org = %owner.org_name, repository = %format!("{org}/{path}"), action = action.as_str(), "auth_request: permission missing");
            return ApiError::forbidden(format!(
                "robot {}/{} may not {} {org}/{path}",
                owner.org_name,
                owner.robot_name,
                action.as_str()
            ))
            .into_response();
        }
    }
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    for (name, value) in owner.identity_headers() {
        headers.insert(name.clone(), value.clone());
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
