//! Members of an organization and their roles.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use robots_api_types::{List, MemberView, SetMemberRequest};
use robots_service::{Leave, ManageMembers, Read};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::auth::ApiUser;
use crate::error::ApiResult;
use crate::extract::{JsonBody, ListParams};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_members))
        .routes(routes!(set_member, remove_member))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/members",
    tag = "orgs",
    params(crate::openapi::shapes::OrgPath, crate::openapi::shapes::ListQuery),
    responses((status = 200, description = "OK", body = List<MemberView>), crate::openapi::shapes::Failure)
)]
async fn list_members(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
    params: ListParams,
) -> ApiResult<Json<List<MemberView>>> {
    let at = state.service().authorize::<Read>(&caller, &org).await?;
    let page = state
        .service()
        .list_members(&at, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(views::page(page, |m| m.username.to_string(), views::member)))
}

/// Adds a member (201) or changes their role (200).
#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/members/{username}",
    tag = "orgs",
    params(crate::openapi::shapes::OrgPath, ("username" = String, Path, description = "The user's name", example = "admin")),
    request_body = SetMemberRequest,
    responses((status = 200, description = "Role changed", body = MemberView), (status = 201, description = "Member added", body = MemberView), crate::openapi::shapes::Failure)
)]
async fn set_member(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, username)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<MemberView>)> {
    let at = state.service().authorize::<ManageMembers>(&caller, &org).await?;
    let request: SetMemberRequest = body.parse()?;
    let change = state.service().set_member(&at, &username, request.role).await?;
    let status = if change.added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(views::member(change.member))))
}

/// Removes a member; members may remove themselves (leave).
#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/members/{username}",
    tag = "orgs",
    params(crate::openapi::shapes::OrgPath, ("username" = String, Path, description = "The user's name", example = "admin")),
    responses((status = 204, description = "Removed (or left)"), crate::openapi::shapes::Failure)
)]
async fn remove_member(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, username)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<Leave>(&caller, &org).await?;
    state.service().remove_member(&at, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}
