//! nginx `auth_request`: `GET /v1/auth`.
//!
//! nginx forwards the original request's headers; we answer 200 for valid
//! robot credentials (with who it is in `X-Robot-*` headers for
//! `auth_request_set`), 401 with a challenge otherwise, and, when the
//! location asks about a repository (`?repository=acme/web&action=push`),
//! 403 when the robot lacks that permission. Any other status would be an
//! error to nginx, so a store failure is a 500 and nothing else.

use robots_api_types::ErrorCode;
use std::borrow::Cow;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use robots_core::access::{RepoAction, RepoPath, may};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::protocol::{read_fields, robot_credential};
use crate::error::ApiError;
use crate::metrics::Verifier;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(check))
}

/// Borrowed from the query when nothing in it is percent-encoded, as it
/// never is in a well-formed repository name: no copies per request.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CheckQuery<'a> {
    repository: Option<Cow<'a, str>>,
    action: Option<Cow<'a, str>>,
}

/// The permission a location asks about: a repository (`org/path`, valid)
/// and an action.
struct Wanted<'a> {
    repository: Cow<'a, str>,
    action: RepoAction,
}

impl Wanted<'_> {
    /// The organization and the path (validated when the query was read).
    fn org_and_path(&self) -> (&str, &str) {
        self.repository.split_once('/').unwrap_or((&self.repository, ""))
    }
}

fn wanted_permission(query: Option<&str>) -> Result<Option<Wanted<'_>>, ApiError> {
    let Some(query) = query else {
        return Ok(None);
    };
    let query = read_query(query).map_err(|error| {
        ApiError::bad_request(ErrorCode::InvalidQuery, format!("could not read the query: {error}"))
    })?;
    match query {
        CheckQuery {
            repository: None,
            action: None,
        } => Ok(None),
        CheckQuery {
            repository: Some(repository),
            action,
        } => {
            let action = action.as_deref().unwrap_or("pull");
            let action = RepoAction::parse(action).ok_or_else(|| {
                ApiError::bad_request(ErrorCode::InvalidQuery, "action must be pull, push or delete")
                    .with_field("action")
            })?;
            if RepoPath::check_full_name(&repository).is_none() {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidQuery,
                    "repository must be org/path, e.g. acme/apps/web",
                )
                .with_field("repository"));
            }
            Ok(Some(Wanted { repository, action }))
        }
        CheckQuery {
            repository: None,
            action: Some(_),
        } => Err(ApiError::bad_request(ErrorCode::InvalidQuery, "action needs a repository").with_field("repository")),
    }
}

/// Reads the query without copies when nothing in it is encoded.
fn read_query(query: &str) -> Result<CheckQuery<'_>, String> {
    let [repository, action] = read_fields(query.as_bytes(), ["repository", "action"])?;
    Ok(CheckQuery { repository, action })
}

// Every protected request behind nginx passes through here, so the handler
// borrows from the request rather than extracting (cloning) its headers.
#[utoipa::path(
    get,
    path = "/v1/auth",
    tag = "verification",
    params(CheckQuery),
    security(("robot" = []), ("robot_bearer" = [])),
    responses((status = 200, description = "Valid robot credentials (and the permission, when asked); who it is in `X-Robot-Id`, `X-Robot-Name`, `X-Robot-Org`, `X-Access-Id`"), (status = 401, description = "No valid robot credentials", body = robots_api_types::ErrorBody), (status = 403, description = "Valid, without the permission asked about", body = robots_api_types::ErrorBody), (status = 400, description = "A malformed query", body = robots_api_types::ErrorBody), (status = 429, description = "Too many failures", body = robots_api_types::ErrorBody), (status = 503, description = "The database is out of reach just now; see Retry-After", body = robots_api_types::ErrorBody))
)]
async fn check(State(state): State<AppState>, request: Request) -> Response {
    let wanted = match wanted_permission(request.uri().query()) {
        Ok(wanted) => wanted,
        Err(error) => return error.into_response(),
    };
    let client = state.request_client(request.headers(), request.extensions());
    let Ok(credential) = robot_credential(request.headers(), client) else {
        return ApiError::unauthenticated().into_response();
    };
    // nginx treats any answer but 2xx, 401 and 403 as its own error, so a
    // rate-limited client is told 401 here (with the same Retry-After).
    let verified = state.verify_robot(&credential, client, Verifier::AuthRequest).await;
    let owner = match verified {
        Ok(owner) => owner,
        // The database out of reach: 503, never a 401 that clients would
        // take for wrong credentials.
        Err(unavailable) if unavailable.status().is_server_error() => return unavailable.into_response(),
        Err(refusal) => {
            return ApiError::unauthenticated()
                .with_retry_after(refusal.retry_after())
                .into_response();
        }
    };
    if let Some(wanted) = wanted {
        let (org, path) = wanted.org_and_path();
        let action = wanted.action;
        let allowed = org == owner.org_name.as_str()
            && match state.robot_access(owner.robot_id).await {
                Ok(snapshot) => may(&snapshot, owner.org_id, path, action),
                Err(error) => return error.into_response(),
            };
        if !allowed {
            state
                .metrics()
                .authenticated(Verifier::AuthRequest, crate::metrics::Outcome::Forbidden);
            let repository = &wanted.repository;
            tracing::info!(robot = %owner.robot_name, org = %owner.org_name, %repository, action = action.as_str(), "auth_request: permission missing");
            return ApiError::forbidden(format!(
                "robot {}/{} may not {} {repository}",
                owner.org_name,
                owner.robot_name,
                action.as_str()
            ))
            .into_response();
        }
    }
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.reserve(8);
    for (name, value) in owner.identity_headers() {
        headers.insert(name.clone(), value.clone());
    }
    // `Cache-Control: no-store` comes from the common layers, as on every answer.
    response
}
