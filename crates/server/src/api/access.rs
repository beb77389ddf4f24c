//! Teams, repositories, grants, and what a robot may do.
//!
//! Admins of an organization change all of it; members read it; robots never
//! reach it (they are refused before any handler runs).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::routed_at;
use robots_api_types::{
    CreateRepositoryRequest, CreateTeamRequest, GrantRequest, GrantView, List, PermissionsView, RepositoryView,
    TeamView, UpdateTeamRequest,
};
use robots_service::{ManageAccess, Read};
use robots_store::MemberKind;

use super::views;
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{JsonBody, ListParams};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::default()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(add_user, remove_user))
        .routes(routes!(add_robot, remove_robot))
        .routes(routes!(list_repositories, create_repository))
        .routes(routes!(robot_permissions));
    // Repository paths contain `/`: a wildcard, which OpenAPI cannot say.
    let router = routed_at(
        router,
        "/v1/orgs/{org}/teams/{team}/grants/{*repository}",
        routes!(set_grant, revoke_grant),
    );
    routed_at(
        router,
        "/v1/orgs/{org}/repositories/{*repository}",
        routes!(get_repository, delete_repository),
    )
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/teams",
    tag = "access",
    params(crate::api::openapi::OrgPath, crate::api::openapi::ListQuery),
    responses((status = 200, description = "OK", body = List<TeamView>), crate::api::openapi::Failure)
)]
async fn list_teams(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
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
    params(crate::api::openapi::OrgPath),
    request_body = CreateTeamRequest,
    responses((status = 201, description = "Created", body = TeamView), crate::api::openapi::Failure)
)]
async fn create_team(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
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
    params(crate::api::openapi::TeamPath),
    responses((status = 200, description = "The team with its members and grants", body = TeamView), crate::api::openapi::Failure)
)]
async fn get_team(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
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
    params(crate::api::openapi::TeamPath),
    request_body = UpdateTeamRequest,
    responses((status = 200, description = "OK", body = TeamView), crate::api::openapi::Failure)
)]
async fn update_team(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
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
    params(crate::api::openapi::TeamPath),
    responses((status = 204, description = "Deleted, with its grants"), crate::api::openapi::Failure)
)]
async fn delete_team(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
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
    params(crate::api::openapi::TeamPath, ("username" = String, Path, description = "The user's name", example = "admin")),
    responses((status = 200, description = "Already a member"), (status = 201, description = "Added"), crate::api::openapi::Failure)
)]
async fn add_user(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
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
    params(crate::api::openapi::TeamPath, ("username" = String, Path, description = "The user's name", example = "admin")),
    responses((status = 204, description = "Removed"), crate::api::openapi::Failure)
)]
async fn remove_user(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
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
    params(crate::api::openapi::TeamPath, ("robot" = String, Path, description = "The robot account's name", example = "deployer")),
    responses((status = 200, description = "Already a member"), (status = 201, description = "Added"), crate::api::openapi::Failure)
)]
async fn add_robot(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
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
    params(crate::api::openapi::TeamPath, ("robot" = String, Path, description = "The robot account's name", example = "deployer")),
    responses((status = 204, description = "Removed"), crate::api::openapi::Failure)
)]
async fn remove_robot(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
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
    params(crate::api::openapi::TeamPath, ("repository" = String, Path, description = "The repository's path inside the organization", example = "apps/web")),
    request_body = GrantRequest,
    responses((status = 200, description = "Permission changed", body = GrantView), (status = 201, description = "Granted", body = GrantView), crate::api::openapi::Failure)
)]
async fn set_grant(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
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
    params(crate::api::openapi::TeamPath, ("repository" = String, Path, description = "The repository's path inside the organization", example = "apps/web")),
    responses((status = 204, description = "Revoked"), crate::api::openapi::Failure)
)]
async fn revoke_grant(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, team, repository)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    state.service().revoke_grant(&at, &team, &repository).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/repositories",
    tag = "access",
    params(crate::api::openapi::OrgPath, crate::api::openapi::ListQuery),
    responses((status = 200, description = "OK", body = List<RepositoryView>), crate::api::openapi::Failure)
)]
async fn list_repositories(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(org): Path<String>,
    params: ListParams,
) -> ApiResult<Json<List<RepositoryView>>> {
    let at = state.service().authorize::<Read>(&caller, &org).await?;
    let page = state
        .service()
        .list_repositories(&at, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(views::page(
        page,
        |r| r.name.to_string(),
        |r| views::repository(at.org().name.as_str(), r),
    )))
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/repositories",
    tag = "access",
    params(crate::api::openapi::OrgPath),
    request_body = CreateRepositoryRequest,
    responses((status = 201, description = "Created", body = RepositoryView), crate::api::openapi::Failure)
)]
async fn create_repository(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(org): Path<String>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<RepositoryView>)> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    let request: CreateRepositoryRequest = body.parse()?;
    let repository = state.service().create_repository(&at, &request.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(views::repository(at.org().name.as_str(), repository)),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/repositories/{repository}",
    tag = "access",
    params(crate::api::openapi::RepositoryPath),
    responses((status = 200, description = "The repository, its grants and everyone who reaches it", body = RepositoryView), crate::api::openapi::Failure)
)]
async fn get_repository(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, repository)): Path<(String, String)>,
) -> ApiResult<Json<RepositoryView>> {
    let at = state.service().authorize::<Read>(&caller, &org).await?;
    let (repository, grants, access) = state.service().repository_detail(&at, &repository).await?;
    let org = at.org().name.as_str();
    let mut view = views::repository(org, repository);
    view.grants = Some(grants.into_iter().map(|g| views::grant(org, g)).collect());
    view.access = Some(access.into_iter().map(views::access).collect());
    Ok(Json(view))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/repositories/{repository}",
    tag = "access",
    params(crate::api::openapi::RepositoryPath),
    responses((status = 204, description = "Deleted, with its grants"), crate::api::openapi::Failure)
)]
async fn delete_repository(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, repository)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    state.service().delete_repository(&at, &repository).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots/{robot}/permissions",
    tag = "robots",
    params(crate::api::openapi::RobotPath),
    responses((status = 200, description = "What the robot may do, and through which teams", body = PermissionsView), crate::api::openapi::Failure)
)]
async fn robot_permissions(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot)): Path<(String, String)>,
) -> ApiResult<Json<PermissionsView>> {
    let at = state.service().authorize::<Read>(&caller, &org).await?;
    let permissions = state.service().robot_permissions(&at, &robot).await?;
    Ok(Json(views::permissions(at.org().name.as_str(), permissions)))
}
