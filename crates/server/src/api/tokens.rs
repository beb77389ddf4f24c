//! Robot tokens: created (the only time the secret is shown), listed,
//! deleted. Deleting one stops it at once.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use robots_core::policy::OrgAction;
use robots_core::{Name, SecretKind, SecretToken};
use robots_store::NewToken;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::views::{CreatedTokenView, List, TokenView};
use super::{Scope, authorize_org, find_robot};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, ListParams};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/orgs/{org}/robots/{robot}/tokens",
            get(list_tokens).post(create_token),
        )
        .route(
            "/v1/orgs/{org}/robots/{robot}/tokens/{access_id}",
            get(get_token).delete(delete_token),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTokenRequest {
    name: Name,
    #[serde(default, with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
}

async fn list_tokens(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot)): Path<(String, String)>,
    params: ListParams,
) -> ApiResult<Json<List<TokenView>>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::Read, Scope::Robots).await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let page = state
        .store()
        .list_tokens(robot.id, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(List::from_page(page, |t| t.name.as_str(), TokenView::from)))
}

async fn create_token(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Response> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageRobots, Scope::Robots).await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let request: CreateTokenRequest = body.parse()?;
    let now = state.now();
    if request.expires_at.is_some_and(|expiry| expiry <= now) {
        return Err(ApiError::invalid_field("expires_at", "must be in the future"));
    }
    let secret = SecretToken::generate(SecretKind::RobotToken);
    let token = state
        .store()
        .create_token(
            &NewToken {
                access_id: Uuid::new_v4(),
                robot_id: robot.id,
                name: &request.name,
                secret_hash: &secret.hash(),
                created_by: caller.user.id,
                expires_at: request.expires_at,
            },
            now,
        )
        .await?;
    tracing::info!(
        org = %org.name, robot = %robot.name, token = %token.name, access_id = %token.access_id,
        by = %caller.user.name, "robot token created"
    );
    let body = CreatedTokenView {
        access_id: token.access_id,
        name: token.name.into(),
        token: secret,
        created_at: token.created_at,
        expires_at: token.expires_at,
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    // Belt and braces: every API response is no-store, this one above all.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn get_token(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ApiResult<Json<TokenView>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::Read, Scope::Robots).await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let not_found = || ApiError::not_found(format!("robot {} has no token with Access ID {access_id}", robot.name));
    let id = Uuid::try_parse(&access_id).map_err(|_| not_found())?;
    let token = state.store().get_token(robot.id, id).await?.ok_or_else(not_found)?;
    Ok(Json(token.into()))
}

async fn delete_token(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageRobots, Scope::Robots).await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let not_found = || ApiError::not_found(format!("robot {} has no token with Access ID {access_id}", robot.name));
    let id = Uuid::try_parse(&access_id).map_err(|_| not_found())?;
    if !state.store().delete_token(robot.id, id).await? {
        return Err(not_found());
    }
    tracing::info!(org = %org.name, robot = %robot.name, access_id = %id, by = %caller.user.name, "robot token deleted");
    Ok(StatusCode::NO_CONTENT)
}
