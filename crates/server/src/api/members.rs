//! Members of an organization and their roles.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use robots_core::policy::OrgAction;
use robots_core::{Name, Role};
use serde::Deserialize;

use super::views::{List, MemberView};
use super::{Scope, authorize_org};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, ListParams};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/orgs/{org}/members", get(list_members)).route(
        "/v1/orgs/{org}/members/{username}",
        put(set_member).delete(remove_member),
    )
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SetMemberRequest {
    role: Role,
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/members",
    tag = "orgs",
    params(crate::api::openapi::OrgPath, crate::api::openapi::ListQuery),
    responses((status = 200, description = "OK", body = crate::api::views::List<crate::api::views::MemberView>), crate::api::openapi::Failure)
)]
async fn list_members(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(org): Path<String>,
    params: ListParams,
) -> ApiResult<Json<List<MemberView>>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::Read, Scope::Org).await?;
    let page = state
        .store()
        .list_members(org.id, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(List::from_page(
        page,
        |m| m.username.to_string(),
        MemberView::from,
    )))
}

/// Adds a member (201) or changes their role (200).
#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/members/{username}",
    tag = "orgs",
    params(crate::api::openapi::OrgPath, ("username" = String, Path, description = "The user's name", example = "admin")),
    request_body = SetMemberRequest,
    responses((status = 200, description = "Role changed", body = crate::api::views::MemberView), (status = 201, description = "Member added", body = crate::api::views::MemberView), crate::api::openapi::Failure)
)]
async fn set_member(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, username)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<MemberView>)> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageMembers, Scope::Org).await?;
    let request: SetMemberRequest = body.parse()?;
    let username = Name::parse(&username)
        .map_err(|_| ApiError::not_found("there is no user with that name").with_field("username"))?;
    let (member, created) = state.set_member_as(&caller, &org, &username, request.role).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(member.into())))
}

/// Removes a member; members may remove themselves (leave).
#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/members/{username}",
    tag = "orgs",
    params(crate::api::openapi::OrgPath, ("username" = String, Path, description = "The user's name", example = "admin")),
    responses((status = 204, description = "Removed (or left)"), crate::api::openapi::Failure)
)]
async fn remove_member(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, username)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let action = if username == caller.user.name.as_str() {
        OrgAction::Leave
    } else {
        OrgAction::ManageMembers
    };
    let (org, _) = authorize_org(&state, &caller, &org, action, Scope::Org).await?;
    let not_member = || ApiError::not_found(format!("{username} is not a member of {}", org.name));
    let name = Name::parse(&username).map_err(|_| not_member())?;
    if !state.remove_member_as(&caller, &org, &name).await? {
        return Err(not_member());
    }
    Ok(StatusCode::NO_CONTENT)
}
