//! Teams, repositories, grants, and what a robot may do.
//!
//! Admins of an organization change all of it; members read it; robots never
//! reach it (they are refused before any handler runs).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use robots_core::Name;
use robots_core::access::{Permission, RepoPath};
use robots_service::{ManageAccess, Read, RobotPermissions};
use robots_store::{MemberKind, RepoAccess, Repository, Team, TeamGrant, TeamMember};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::views::List;
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{JsonBody, ListParams};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orgs/{org}/teams", get(list_teams).post(create_team))
        .route(
            "/v1/orgs/{org}/teams/{team}",
            get(get_team).patch(update_team).delete(delete_team),
        )
        .route(
            "/v1/orgs/{org}/teams/{team}/users/{username}",
            put(add_user).delete(remove_user),
        )
        .route(
            "/v1/orgs/{org}/teams/{team}/robots/{robot}",
            put(add_robot).delete(remove_robot),
        )
        .route(
            "/v1/orgs/{org}/teams/{team}/grants/{*repository}",
            put(set_grant).delete(revoke_grant),
        )
        .route(
            "/v1/orgs/{org}/repositories",
            get(list_repositories).post(create_repository),
        )
        .route(
            "/v1/orgs/{org}/repositories/{*repository}",
            get(get_repository).delete(delete_repository),
        )
        .route("/v1/orgs/{org}/robots/{robot}/permissions", get(robot_permissions))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TeamView {
    pub id: Uuid,
    pub org: String,
    pub name: String,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub user_count: i64,
    pub robot_count: i64,
    pub grant_count: i64,
    /// Present when one team is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<MemberView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<GrantView>>,
}

impl TeamView {
    fn new(org: &str, team: Team) -> Self {
        Self {
            id: team.id,
            org: org.to_owned(),
            name: team.name.into(),
            description: team.description,
            created_at: team.created_at,
            user_count: team.user_count,
            robot_count: team.robot_count,
            grant_count: team.grant_count,
            members: None,
            grants: None,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    /// `user` or `robot`.
    pub kind: &'static str,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

impl From<TeamMember> for MemberView {
    fn from(member: TeamMember) -> Self {
        Self {
            kind: member.kind.as_str(),
            name: member.name.into(),
            added_at: member.added_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantView {
    pub team: String,
    /// The repository's path inside the organization.
    pub repository: String,
    /// `org/path`, as registries name it.
    pub full_name: String,
    pub permission: Permission,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
}

impl GrantView {
    fn new(org: &str, grant: TeamGrant) -> Self {
        Self {
            team: grant.team.into(),
            full_name: format!("{org}/{}", grant.repository),
            repository: grant.repository.into(),
            permission: grant.permission,
            granted_at: grant.granted_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RepositoryView {
    pub id: Uuid,
    pub org: String,
    pub name: String,
    pub full_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
    /// Present when one repository is read: the grants on it…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<GrantView>>,
    /// …and everyone who reaches it through them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<Vec<AccessView>>,
}

impl RepositoryView {
    fn new(org: &str, repository: Repository) -> Self {
        Self {
            id: repository.id,
            org: org.to_owned(),
            full_name: format!("{org}/{}", repository.name),
            name: repository.name.into(),
            created_at: repository.created_at,
            created_by: repository.created_by.map(Into::into),
            grants: None,
            access: None,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessView {
    pub kind: &'static str,
    pub name: String,
    pub permission: Permission,
    pub team: String,
}

impl From<RepoAccess> for AccessView {
    fn from(access: RepoAccess) -> Self {
        Self {
            kind: access.kind.as_str(),
            name: access.name.into(),
            permission: access.permission,
            team: access.team.into(),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateTeamRequest {
    name: Name,
    #[serde(default)]
    #[schema(
        max_length = 512,
        pattern = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
    )]
    description: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateTeamRequest {
    #[serde(default)]
    name: Option<Name>,
    #[serde(default)]
    #[schema(
        max_length = 512,
        pattern = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
    )]
    description: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/teams",
    tag = "access",
    params(crate::api::openapi::OrgPath, crate::api::openapi::ListQuery),
    responses((status = 200, description = "OK", body = crate::api::views::List<TeamView>), crate::api::openapi::Failure)
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
    Ok(Json(List::from_page(
        page,
        |t| t.name.to_string(),
        |t| TeamView::new(at.org().name.as_str(), t),
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
        .create_team(
            &at,
            request.name.as_str(),
            request.description.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(TeamView::new(at.org().name.as_str(), team))))
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
    let mut view = TeamView::new(org, detail.team);
    view.members = Some(detail.members.into_iter().map(MemberView::from).collect());
    view.grants = Some(detail.grants.into_iter().map(|g| GrantView::new(org, g)).collect());
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
        .update_team(
            &at,
            &team,
            request.name.as_ref().map(Name::as_str),
            request.description.as_deref(),
        )
        .await?;
    Ok(Json(TeamView::new(at.org().name.as_str(), updated)))
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct GrantRequest {
    permission: Permission,
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
        Json(GrantView::new(at.org().name.as_str(), grant)),
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateRepositoryRequest {
    name: RepoPath,
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/repositories",
    tag = "access",
    params(crate::api::openapi::OrgPath, crate::api::openapi::ListQuery),
    responses((status = 200, description = "OK", body = crate::api::views::List<RepositoryView>), crate::api::openapi::Failure)
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
    Ok(Json(List::from_page(
        page,
        |r| r.name.to_string(),
        |r| RepositoryView::new(at.org().name.as_str(), r),
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
    let repository = state.service().create_repository(&at, request.name.as_str()).await?;
    Ok((
        StatusCode::CREATED,
        Json(RepositoryView::new(at.org().name.as_str(), repository)),
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
    let mut view = RepositoryView::new(org, repository);
    view.grants = Some(grants.into_iter().map(|g| GrantView::new(org, g)).collect());
    view.access = Some(access.into_iter().map(AccessView::from).collect());
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PermissionsView {
    pub robot: String,
    pub org: String,
    /// The teams it belongs to.
    pub teams: Vec<String>,
    /// One entry per repository it can reach.
    pub items: Vec<EffectiveView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EffectiveView {
    pub repository: String,
    pub full_name: String,
    pub permission: Permission,
    pub actions: Vec<robots_core::access::RepoAction>,
    pub via: Vec<ViaView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ViaView {
    pub team: String,
    pub permission: Permission,
}

impl PermissionsView {
    pub fn new(org: &str, permissions: RobotPermissions) -> Self {
        Self {
            robot: permissions.robot.name.to_string(),
            org: org.to_owned(),
            teams: permissions.teams.into_iter().map(Into::into).collect(),
            items: permissions
                .effective
                .into_iter()
                .map(|effective| EffectiveView {
                    full_name: format!("{org}/{}", effective.repository),
                    repository: effective.repository.into(),
                    permission: effective.permission,
                    actions: effective.permission.actions(),
                    via: effective
                        .via
                        .into_iter()
                        .map(|via| ViaView {
                            team: via.team.into(),
                            permission: via.permission,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
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
    Ok(Json(PermissionsView::new(at.org().name.as_str(), permissions)))
}
