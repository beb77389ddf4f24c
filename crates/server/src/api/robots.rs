//! Robot accounts of an organization.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use robots_core::policy::OrgAction;
use robots_core::{Name, text};
use serde::Deserialize;

use super::views::{List, RobotView};
use super::{Scope, authorize_org, find_robot};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, ListParams};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orgs/{org}/robots", get(list_robots).post(create_robot))
        .route(
            "/v1/orgs/{org}/robots/{robot}",
            get(get_robot).patch(update_robot).delete(delete_robot),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRobotRequest {
    name: Name,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateRobotRequest {
    #[serde(default)]
    name: Option<Name>,
    #[serde(default)]
    description: Option<String>,
}

fn description(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(|text| text::bounded_text(text, text::MAX_DESCRIPTION_CHARS))
        .transpose()
        .map_err(|error| ApiError::invalid_field("description", error))
}

async fn list_robots(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(org): Path<String>,
    params: ListParams,
) -> ApiResult<Json<List<RobotView>>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::Read, Scope::Robots).await?;
    let page = state
        .store()
        .list_robots(org.id, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(List::from_page(
        page,
        |r| r.name.to_string(),
        |r| RobotView::new(org.name.as_str(), r),
    )))
}

async fn create_robot(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(org): Path<String>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<RobotView>)> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageRobots, Scope::Robots).await?;
    let request: CreateRobotRequest = body.parse()?;
    let description = description(request.description.as_deref())?.unwrap_or_default();
    let robot = state
        .create_robot_as(&caller, &org, &request.name, &description, &[])
        .await?;
    Ok((StatusCode::CREATED, Json(RobotView::new(org.name.as_str(), robot))))
}

async fn get_robot(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot)): Path<(String, String)>,
) -> ApiResult<Json<RobotView>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::Read, Scope::Robots).await?;
    let robot = find_robot(&state, &org, &robot).await?;
    Ok(Json(RobotView::new(org.name.as_str(), robot)))
}

async fn update_robot(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Json<RobotView>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageRobots, Scope::Robots).await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let request: UpdateRobotRequest = body.parse()?;
    let description = description(request.description.as_deref())?;
    let updated = state
        .update_robot_as(&caller, &org, &robot, request.name.as_ref(), description.as_deref())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{} has no robot account named {:?}", org.name, robot.name)))?;
    Ok(Json(RobotView::new(org.name.as_str(), updated)))
}

async fn delete_robot(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageRobots, Scope::Robots).await?;
    let robot = find_robot(&state, &org, &robot).await?;
    state.delete_robot_as(&caller, &org, &robot).await?;
    Ok(StatusCode::NO_CONTENT)
}
