//! Robot tokens: created (the only time the secret is shown), listed,
//! rotated without downtime, deleted. Deleting one stops it at once; the
//! organization's policy bounds how long they may live.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use robots_core::Name;
use robots_core::duration::parse_duration;
use robots_core::policy::OrgAction;
use robots_store::{Org, Robot, StoreError, TokenPolicy};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::views::{CreatedTokenView, List, TokenView};
use super::{Scope, authorize_org, find_robot, find_robot_ref};
use crate::audit::{Actor, Change};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, JsonBody, ListParams, RawBody};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orgs/{org}/tokens", get(list_expiring))
        .route(
            "/v1/orgs/{org}/robots/{robot}/tokens",
            get(list_tokens).post(create_token),
        )
        .route(
            "/v1/orgs/{org}/robots/{robot}/tokens/{access_id}",
            get(get_token).delete(delete_token),
        )
        .route(
            "/v1/orgs/{org}/robots/{robot}/tokens/{access_id}/rotate",
            post(rotate_token),
        )
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateTokenRequest {
    name: Name,
    #[serde(default, with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    /// A lifetime from now, instead of `expires_at`: `30d`, `12h`.
    #[serde(default)]
    #[schema(pattern = "^([0-9]+[smhdw])+$", example = "30d")]
    expires_in: Option<String>,
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
struct ExpiringQuery {
    /// Only tokens expiring within this long (e.g. `7d`).
    expiring_within: Option<String>,
}

fn expiring_before(query: &ExpiringQuery, now: OffsetDateTime) -> Result<Option<OffsetDateTime>, ApiError> {
    query
        .expiring_within
        .as_deref()
        .map(|text| {
            parse_duration(text).map(|within| now + within).map_err(|error| {
                ApiError::bad_request("invalid_query", error.to_string()).with_field("expiring_within")
            })
        })
        .transpose()
}

/// When a new token expires: `expires_at` or `expires_in` (not both),
/// checked against the organization's policy.
fn expiry(
    field_at: Option<OffsetDateTime>,
    field_in: Option<&str>,
    policy: TokenPolicy,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, ApiError> {
    let expires_at = match (field_at, field_in) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "expires_in",
                "give expires_at or expires_in, not both",
            ));
        }
        (Some(at), None) => Some(at),
        (None, Some(text)) => {
            let lifetime = parse_duration(text).map_err(|error| ApiError::invalid_field("expires_in", error))?;
            if lifetime.is_zero() {
                return Err(ApiError::invalid_field("expires_in", "must be longer than 0s"));
            }
            Some(now + lifetime)
        }
        (None, None) => None,
    };
    if expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::invalid_field("expires_at", "must be in the future"));
    }
    if policy.expiry_required && expires_at.is_none() {
        return Err(ApiError::invalid_field(
            "expires_at",
            "this organization requires every token to expire: give expires_at or expires_in",
        ));
    }
    if let Some(max) = policy.max_lifetime {
        match expires_at {
            Some(at) if at > now + max => {
                return Err(ApiError::invalid_field(
                    "expires_at",
                    format!(
                        "this organization allows tokens to live at most {}",
                        robots_core::duration::format_duration(max)
                    ),
                ));
            }
            None => {
                return Err(ApiError::invalid_field(
                    "expires_at",
                    format!(
                        "this organization allows tokens to live at most {}: give expires_at or expires_in",
                        robots_core::duration::format_duration(max)
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(expires_at)
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots/{robot}/tokens",
    tag = "tokens",
    params(crate::api::openapi::RobotPath, ExpiringQuery, crate::api::openapi::ListQuery),
    responses((status = 200, description = "OK", body = crate::api::views::List<crate::api::views::TokenView>), crate::api::openapi::Failure)
)]
async fn list_tokens(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<ExpiringQuery>,
    params: ListParams,
) -> ApiResult<Json<List<TokenView>>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::Read, Scope::Robots).await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let now = state.now();
    let before = expiring_before(&query, now)?;
    let page = state
        .store()
        .list_tokens(robot.id, before, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(List::from_page(
        page,
        |t| t.page_key(),
        |t| TokenView::new(t, now),
    )))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ExpiringTokenView {
    robot: String,
    #[serde(flatten)]
    token: TokenView,
}

/// Tokens of the whole organization expiring within `expiring_within`
/// (default 7 days), soonest first: what needs attention.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/tokens",
    tag = "tokens",
    params(crate::api::openapi::OrgPath, ExpiringQuery),
    responses((status = 200, description = "Tokens of every robot expiring within `expiring_within`, soonest first", body = crate::api::views::List<ExpiringTokenView>), crate::api::openapi::Failure)
)]
async fn list_expiring(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(org): Path<String>,
    ApiQuery(query): ApiQuery<ExpiringQuery>,
) -> ApiResult<Json<List<ExpiringTokenView>>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::Read, Scope::Robots).await?;
    let now = state.now();
    let before = expiring_before(&query, now)?.unwrap_or(now + super::views::EXPIRING_SOON);
    let tokens = state.store().list_expiring_tokens(org.id, before).await?;
    Ok(Json(List {
        items: tokens
            .into_iter()
            .map(|(robot, token)| ExpiringTokenView {
                robot: robot.into(),
                token: TokenView::new(token, now),
            })
            .collect(),
        next_cursor: None,
    }))
}

/// A `201` with the one body that carries a secret, never cached.
fn secret_response<T: Serialize>(body: T) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/robots/{robot}/tokens",
    tag = "tokens",
    params(crate::api::openapi::RobotPath),
    request_body = CreateTokenRequest,
    responses((status = 201, description = "The token, shown this once", body = crate::api::views::CreatedTokenView), crate::api::openapi::Failure)
)]
async fn create_token(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Response> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageRobots, Scope::Robots).await?;
    let robot = find_robot_ref(&state, &org, &robot).await?;
    let request: CreateTokenRequest = body.parse()?;
    let expires_at = expiry(
        request.expires_at,
        request.expires_in.as_deref(),
        org.token_policy,
        state.now(),
    )?;
    let created = state
        .create_token_as(&caller, &org, &robot, &request.name, expires_at)
        .await?;
    Ok(secret_response(CreatedTokenView {
        access_id: created.access_id,
        name: created.name.into(),
        token: created.secret,
        created_at: created.created_at,
        expires_at: created.expires_at,
    }))
}

impl AppState {
    /// Audits and announces a deleted token.
    pub(crate) async fn token_deleted(
        &self,
        caller: &crate::auth::UserSession,
        org: &Org,
        robot: &Robot,
        access_id: Uuid,
    ) {
        tracing::info!(org = %org.name, robot = %robot.name, access_id = %access_id, by = %caller.user.name, "robot token deleted");
        let detail = json!({"robot": robot.name, "access_id": access_id});
        self.audit(
            Actor::User(caller),
            Change::new(Some(org.id), "token.deleted", format!("token {access_id}")).detail(detail.clone()),
        )
        .await;
        self.notify(org, "token.deleted", detail).await;
    }
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots/{robot}/tokens/{access_id}",
    tag = "tokens",
    params(crate::api::openapi::TokenPath),
    responses((status = 200, description = "OK", body = crate::api::views::TokenView), crate::api::openapi::Failure)
)]
async fn get_token(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ApiResult<Json<TokenView>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::Read, Scope::Robots).await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let token = find_token(&state, &robot, &access_id).await?;
    Ok(Json(TokenView::new(token, state.now())))
}

async fn find_token(state: &AppState, robot: &Robot, access_id: &str) -> Result<robots_store::TokenInfo, ApiError> {
    let not_found = || ApiError::not_found(format!("robot {} has no token with Access ID {access_id}", robot.name));
    let id = Uuid::try_parse(access_id).map_err(|_| not_found())?;
    state.store().get_token(robot.id, id).await?.ok_or_else(not_found)
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/robots/{robot}/tokens/{access_id}",
    tag = "tokens",
    params(crate::api::openapi::TokenPath),
    responses((status = 204, description = "Deleted: refused from the next request on"), crate::api::openapi::Failure)
)]
async fn delete_token(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageRobots, Scope::Robots).await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let token = find_token(&state, &robot, &access_id).await?;
    if !state.delete_token_as(&caller, &org, &robot, token.access_id).await? {
        return Err(ApiError::not_found(format!(
            "robot {} has no token with Access ID {access_id}",
            robot.name
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    /// How long the old token keeps working: `24h` (the default), `0s`.
    #[serde(default)]
    #[schema(pattern = "^([0-9]+[smhdw])+$", example = "24h")]
    grace_period: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    #[schema(pattern = "^([0-9]+[smhdw])+$", example = "30d")]
    expires_in: Option<String>,
}

/// Default grace period of a rotation: long enough to update every pipeline.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RotatedView {
    /// The new token, shown this once.
    successor: CreatedTokenView,
    /// The old token, which keeps working until its `expires_at`.
    rotating_out: TokenView,
}

/// Rotates a token without downtime: a successor (shown once) takes its
/// name, and the old token keeps working for the grace period, then stops
/// by itself.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/robots/{robot}/tokens/{access_id}/rotate",
    tag = "tokens",
    params(crate::api::openapi::TokenPath),
    request_body(content = Option<RotateRequest>, description = "Optional: no body rotates with the defaults"),
    responses((status = 201, description = "The successor, shown this once, and the token rotating out", body = RotatedView), crate::api::openapi::Failure)
)]
async fn rotate_token(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageRobots, Scope::Robots).await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let old = find_token(&state, &robot, &access_id).await?;
    let request: RotateRequest = JsonBody::parse_optional(body)?;
    let grace = match request.grace_period.as_deref() {
        None => DEFAULT_GRACE_PERIOD,
        Some(text) => parse_duration(text).map_err(|error| ApiError::invalid_field("grace_period", error))?,
    };
    let now = state.now();
    let expires_at = expiry(request.expires_at, request.expires_in.as_deref(), org.token_policy, now)?;
    let (rotating_out, new, secret) = match state
        .rotate_token_as(&caller, &org, &robot, &old, grace, expires_at)
        .await
    {
        Ok(Some(rotated)) => rotated,
        Ok(None) => {
            return Err(ApiError::not_found(format!(
                "robot {} has no token with Access ID {access_id}",
                robot.name
            )));
        }
        Err(StoreError::TokenAlreadyRotated) => {
            return Err(ApiError::conflict(
                "already_rotated",
                "this token was rotated already: rotate its successor instead",
            ));
        }
        Err(other) => return Err(other.into()),
    };
    Ok(secret_response(RotatedView {
        successor: CreatedTokenView {
            access_id: new.access_id,
            name: new.name.clone().into(),
            token: secret,
            created_at: new.created_at,
            expires_at: new.expires_at,
        },
        rotating_out: TokenView::new(rotating_out, now),
    }))
}
