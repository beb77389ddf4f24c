//! Robot accounts of an organization.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use robots_api_types::{CreateRobotRequest, List, PermissionsView, RobotView, UpdateRobotRequest};
use robots_service::{ManageRobots, NewRobotInput, ReadRobots, RobotUpdate};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::auth::{ApiUser, UserSession};
use crate::error::ApiResult;
use crate::extract::{JsonBody, ListParams};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_robots, create_robot))
        .routes(routes!(get_robot, update_robot, delete_robot))
        .routes(routes!(disable_robot))
        .routes(routes!(enable_robot))
        .routes(routes!(robot_permissions))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots",
    tag = "robots",
    params(crate::openapi::shapes::OrgPath, crate::openapi::shapes::ListQuery),
    responses((status = 200, description = "OK", body = List<RobotView>), crate::openapi::shapes::Failure)
)]
async fn list_robots(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
    params: ListParams,
) -> ApiResult<Json<List<RobotView>>> {
    let at = state.service().authorize::<ReadRobots>(&caller, &org).await?;
    let page = state
        .service()
        .list_robots(&at, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(views::page(
        page,
        |r| r.name.to_string(),
        |r| views::robot(at.org().name.as_str(), r),
    )))
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/robots",
    tag = "robots",
    params(crate::openapi::shapes::OrgPath),
    request_body = CreateRobotRequest,
    responses((status = 201, description = "Created", body = RobotView), crate::openapi::shapes::Failure)
)]
async fn create_robot(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<RobotView>)> {
    let at = state.service().authorize::<ManageRobots>(&caller, &org).await?;
    let request: CreateRobotRequest = body.parse()?;
    let input = NewRobotInput {
        name: &request.name,
        description: request.description.as_deref().unwrap_or_default(),
        teams: &[],
    };
    let robot = state.service().create_robot(&at, input).await?;
    Ok((StatusCode::CREATED, Json(views::robot(at.org().name.as_str(), robot))))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots/{robot}",
    tag = "robots",
    params(crate::openapi::shapes::RobotPath),
    responses((status = 200, description = "OK", body = RobotView), crate::openapi::shapes::Failure)
)]
async fn get_robot(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot)): Path<(String, String)>,
) -> ApiResult<Json<RobotView>> {
    let at = state.service().authorize::<ReadRobots>(&caller, &org).await?;
    let robot = state.service().robot(&at, &robot).await?;
    Ok(Json(views::robot(at.org().name.as_str(), robot)))
}

#[utoipa::path(
    patch,
    path = "/v1/orgs/{org}/robots/{robot}",
    tag = "robots",
    params(crate::openapi::shapes::RobotPath),
    request_body = UpdateRobotRequest,
    responses((status = 200, description = "OK", body = RobotView), crate::openapi::shapes::Failure)
)]
async fn update_robot(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Json<RobotView>> {
    let at = state.service().authorize::<ManageRobots>(&caller, &org).await?;
    let request: UpdateRobotRequest = body.parse()?;
    let updated = state
        .service()
        .update_robot(
            &at,
            &robot,
            RobotUpdate {
                name: request.name.as_deref(),
                description: request.description.as_deref(),
                self_rotate: request.self_rotate,
            },
        )
        .await?;
    Ok(Json(views::robot(at.org().name.as_str(), updated)))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/robots/{robot}",
    tag = "robots",
    params(crate::openapi::shapes::RobotPath),
    responses((status = 204, description = "Deleted, with its tokens"), crate::openapi::shapes::Failure)
)]
async fn delete_robot(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageRobots>(&caller, &org).await?;
    state.service().delete_robot(&at, &robot).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_disabled(
    state: &AppState,
    caller: &UserSession,
    org: &str,
    robot: &str,
    disable: bool,
) -> ApiResult<Json<RobotView>> {
    let at = state.service().authorize::<ManageRobots>(caller, org).await?;
    let updated = state.service().set_robot_disabled(&at, robot, disable).await?;
    Ok(Json(views::robot(at.org().name.as_str(), updated)))
}

/// Disables a robot: its tokens are refused until it is enabled; nothing is deleted.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/robots/{robot}/disable",
    tag = "robots",
    params(crate::openapi::shapes::RobotPath),
    responses((status = 200, description = "Disabled: its tokens are refused until it is enabled", body = RobotView), crate::openapi::shapes::Failure)
)]
async fn disable_robot(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot)): Path<(String, String)>,
) -> ApiResult<Json<RobotView>> {
    set_disabled(&state, &caller, &org, &robot, true).await
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/robots/{robot}/enable",
    tag = "robots",
    params(crate::openapi::shapes::RobotPath),
    responses((status = 200, description = "OK", body = RobotView), crate::openapi::shapes::Failure)
)]
async fn enable_robot(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot)): Path<(String, String)>,
) -> ApiResult<Json<RobotView>> {
    set_disabled(&state, &caller, &org, &robot, false).await
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots/{robot}/permissions",
    tag = "robots",
    params(crate::openapi::shapes::RobotPath),
    responses((status = 200, description = "What the robot may do, and through which teams", body = PermissionsView), crate::openapi::shapes::Failure)
)]
async fn robot_permissions(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot)): Path<(String, String)>,
) -> ApiResult<Json<PermissionsView>> {
    let at = state.service().authorize::<ReadRobots>(&caller, &org).await?;
    let permissions = state.service().robot_permissions(&at, &robot).await?;
    Ok(Json(views::permissions(at.org().name.as_str(), permissions)))
}
