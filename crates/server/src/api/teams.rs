//! Teams: their people and robots, and their grants on repositories.
//! Admins of an organization change them; members read them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use robots_api_types::{CreateTeamRequest, GrantRequest, GrantView, List, TeamView, UpdateTeamRequest};
use robots_service::{ManageAccess, Read};
use robots_store::MemberKind;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::auth::ApiUser;
use crate::error::ApiResult;
use crate::extract::{JsonBody, ListParams};
use crate::openapi::shapes::routed_at;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/teams",
    tag = "access",
    params(crate::openapi::shapes::OrgPath, crate::openapi::shapes::ListQuery),
    responses((status = 200, description = "OK", body = List<TeamView>), crate::openapi::shapes::Failure)
)]
async fn list_teams(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
    params: ListParams,
) -> ApiResult<Json<List<TeamView>>> {
    let at = state.service().authorize::<Read>(&caller, &org).await?;
    let page = state
        .service()
        .list_teams(&at, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(views::page(
        page,
        |t| t.name.to_string(),
        |t| views::team(at.org().name.as_str(), t),
    )))
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/teams",
    tag = "access",
    params(crate::openapi::shapes::OrgPath),
    request_body = CreateTeamRequest,
    responses((status = 201, description = "Created", body = TeamView), crate::openapi::shapes::Failure)
)]
async fn create_team(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<TeamView>)> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    let request: CreateTeamRequest = body.parse()?;
    let team = state
        .service()
        .create_team(&at, &request.name, request.description.as_deref().unwrap_or_default())
        .await?;
    Ok((StatusCode::CREATED, Json(views::team(at.org().name.as_str(), team))))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/teams/{team}",
    tag = "access",
    params(crate::openapi::shapes::TeamPath),
    responses((status = 200, description = "The team with its members and grants", body = TeamView), crate::openapi::shapes::Failure)
)]
async fn get_team(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, team)): Path<(String, String)>,
) -> ApiResult<Json<TeamView>> {
    let at = state.service().authorize::<Read>(&caller, &org).await?;
    let detail = state.service().team_detail(&at, &team).await?;
    let org = at.org().name.as_str();
    let mut view = views::team(org, detail.team);
    view.members = Some(detail.members.into_iter().map(views::team_member).collect());
    view.grants = Some(detail.grants.into_iter().map(|g| views::grant(org, g)).collect());
    Ok(Json(view))
}

#[utoipa::path(
    patch,
    path = "/v1/orgs/{org}/teams/{team}",
    tag = "access",
    params(crate::openapi::shapes::TeamPath),
    request_body = UpdateTeamRequest,
    responses((status = 200, description = "OK", body = TeamView), crate::openapi::shapes::Failure)
)]
async fn update_team(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, team)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Json<TeamView>> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    let request: UpdateTeamRequest = body.parse()?;
    let updated = state
        .service()
        .update_team(&at, &team, request.name.as_deref(), request.description.as_deref())
        .await?;
    Ok(Json(views::team(at.org().name.as_str(), updated)))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/teams/{team}",
    tag = "access",
    params(crate::openapi::shapes::TeamPath),
    responses((status = 204, description = "Deleted, with its grants"), crate::openapi::shapes::Failure)
)]
async fn delete_team(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, team)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    state.service().delete_team(&at, &team).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn created_or_ok(created: bool) -> StatusCode {
    if created { StatusCode::CREATED } else { StatusCode::OK }
}

#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/teams/{team}/users/{username}",
    tag = "access",
    params(crate::openapi::shapes::TeamPath, ("username" = String, Path, description = "The user's name", example = "admin")),
    responses((status = 200, description = "Already a member"), (status = 201, description = "Added"), crate::openapi::shapes::Failure)
)]
async fn add_user(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, team, username)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    let added = state
        .service()
        .add_team_member(&at, &team, MemberKind::User, &username)
        .await?;
    Ok(created_or_ok(added))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/teams/{team}/users/{username}",
    tag = "access",
    params(crate::openapi::shapes::TeamPath, ("username" = String, Path, description = "The user's name", example = "admin")),
    responses((status = 204, description = "Removed"), crate::openapi::shapes::Failure)
)]
async fn remove_user(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, team, username)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    state
        .service()
        .remove_team_member(&at, &team, MemberKind::User, &username)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/teams/{team}/robots/{robot}",
    tag = "access",
    params(crate::openapi::shapes::TeamPath, ("robot" = String, Path, description = "The robot account's name", example = "deployer")),
    responses((status = 200, description = "Already a member"), (status = 201, description = "Added"), crate::openapi::shapes::Failure)
)]
async fn add_robot(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, team, robot)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    let added = state
        .service()
        .add_team_member(&at, &team, MemberKind::Robot, &robot)
        .await?;
    Ok(created_or_ok(added))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/teams/{team}/robots/{robot}",
    tag = "access",
    params(crate::openapi::shapes::TeamPath, ("robot" = String, Path, description = "The robot account's name", example = "deployer")),
    responses((status = 204, description = "Removed"), crate::openapi::shapes::Failure)
)]
async fn remove_robot(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, team, robot)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    state
        .service()
        .remove_team_member(&at, &team, MemberKind::Robot, &robot)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/teams/{team}/grants/{repository}",
    tag = "access",
    params(crate::openapi::shapes::TeamPath, ("repository" = String, Path, description = "The repository's path inside the organization", example = "apps/web")),
    request_body = GrantRequest,
    responses((status = 200, description = "Permission changed", body = GrantView), (status = 201, description = "Granted", body = GrantView), crate::openapi::shapes::Failure)
)]
async fn set_grant(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, team, repository)): Path<(String, String, String)>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<GrantView>)> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    let request: GrantRequest = body.parse()?;
    let (grant, created) = state
        .service()
        .set_grant(&at, &team, &repository, request.permission)
        .await?;
    Ok((
        created_or_ok(created),
        Json(views::grant(at.org().name.as_str(), grant)),
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/teams/{team}/grants/{repository}",
    tag = "access",
    params(crate::openapi::shapes::TeamPath, ("repository" = String, Path, description = "The repository's path inside the organization", example = "apps/web")),
    responses((status = 204, description = "Revoked"), crate::openapi::shapes::Failure)
)]
async fn revoke_grant(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, team, repository)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    state.service().revoke_grant(&at, &team, &repository).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::default()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(add_user, remove_user))
        .routes(routes!(add_robot, remove_robot));
    // Repository paths contain `/`: a wildcard, which OpenAPI cannot write.
    routed_at(
        router,
        "/v1/orgs/{org}/teams/{team}/grants/{*repository}",
        routes!(set_grant, revoke_grant),
    )
}
