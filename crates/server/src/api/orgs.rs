//! Organizations: created by any user, who becomes their first admin.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use robots_api_types::{CreateOrgRequest, List, OrgView, UpdateOrgRequest};
use robots_core::Role;
use robots_service::{DeleteOrg, ManageMembers, OrgUpdate, PolicyInput, Read};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::auth::ApiUser;
use crate::error::ApiResult;
use crate::extract::{JsonBody, ListParams};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_orgs, create_org))
        .routes(routes!(get_org, update_org, delete_org))
}

#[utoipa::path(
    get,
    path = "/v1/orgs",
    tag = "orgs",
    params(crate::openapi::shapes::ListQuery),
    responses((status = 200, description = "The caller's organizations", body = List<OrgView>), crate::openapi::shapes::Failure)
)]
async fn list_orgs(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    params: ListParams,
) -> ApiResult<Json<List<OrgView>>> {
    let page = state
        .service()
        .list_orgs(&caller, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(views::page(
        page,
        |m| m.org.name.to_string(),
        |m| views::org(m.org, m.role),
    )))
}

#[utoipa::path(
    post,
    path = "/v1/orgs",
    tag = "orgs",
    request_body = CreateOrgRequest,
    responses((status = 201, description = "The new organization; the caller is its admin", body = OrgView), crate::openapi::shapes::Failure)
)]
async fn create_org(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    let request: CreateOrgRequest = body.parse()?;
    let org = state
        .service()
        .create_org(
            &caller,
            &request.name,
            request.display_name.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::org(org, Role::Admin))))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}",
    tag = "orgs",
    params(crate::openapi::shapes::OrgPath),
    responses((status = 200, description = "OK", body = OrgView), crate::openapi::shapes::Failure)
)]
async fn get_org(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
) -> ApiResult<Json<OrgView>> {
    let at = state.service().authorize::<Read>(&caller, &org).await?;
    Ok(Json(views::org(at.org().clone(), at.role())))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}",
    tag = "orgs",
    params(crate::openapi::shapes::OrgPath),
    responses((status = 204, description = "Deleted, with its robots and tokens"), crate::openapi::shapes::Failure)
)]
async fn delete_org(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<DeleteOrg>(&caller, &org).await?;
    state.service().delete_org(&at).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    patch,
    path = "/v1/orgs/{org}",
    tag = "orgs",
    params(crate::openapi::shapes::OrgPath),
    request_body = UpdateOrgRequest,
    responses((status = 200, description = "OK", body = OrgView), crate::openapi::shapes::Failure)
)]
async fn update_org(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<OrgView>> {
    let at = state.service().authorize::<ManageMembers>(&caller, &org).await?;
    let request: UpdateOrgRequest = body.parse()?;
    let update = OrgUpdate {
        display_name: request.display_name.as_deref(),
        token_policy: request.token_policy.as_ref().map(|policy| PolicyInput {
            max_lifetime: policy.max_lifetime.as_deref(),
            expiry_required: policy.expiry_required,
            forbid_personal_tokens: !policy.personal_tokens_allowed,
            disable_unused_after: policy.disable_unused_after.as_deref(),
        }),
    };
    let (updated, role) = state.service().update_org(&at, update).await?;
    Ok(Json(views::org(updated, role)))
}
