//! Organizations: created by any user, who becomes their first admin.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use robots_core::{Name, Role};
use robots_service::{DeleteOrg, Read};
use serde::Deserialize;

use super::views::{List, OrgView};
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{JsonBody, ListParams};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orgs", get(list_orgs).post(create_org))
        .route("/v1/orgs/{org}", get(get_org).delete(delete_org))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateOrgRequest {
    name: Name,
    #[serde(default)]
    #[schema(
        max_length = 100,
        pattern = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
    )]
    display_name: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/orgs",
    tag = "orgs",
    params(crate::api::openapi::ListQuery),
    responses((status = 200, description = "The caller's organizations", body = crate::api::views::List<crate::api::views::OrgView>), crate::api::openapi::Failure)
)]
async fn list_orgs(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    params: ListParams,
) -> ApiResult<Json<List<OrgView>>> {
    let page = state
        .service()
        .list_orgs(&caller, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(List::from_page(
        page,
        |m| m.org.name.to_string(),
        |m| OrgView::new(m.org, m.role),
    )))
}

#[utoipa::path(
    post,
    path = "/v1/orgs",
    tag = "orgs",
    request_body = CreateOrgRequest,
    responses((status = 201, description = "The new organization; the caller is its admin", body = crate::api::views::OrgView), crate::api::openapi::Failure)
)]
async fn create_org(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    let request: CreateOrgRequest = body.parse()?;
    let org = state
        .service()
        .create_org(
            &caller,
            request.name.as_str(),
            request.display_name.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(OrgView::new(org, Role::Admin))))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}",
    tag = "orgs",
    params(crate::api::openapi::OrgPath),
    responses((status = 200, description = "OK", body = crate::api::views::OrgView), crate::api::openapi::Failure)
)]
async fn get_org(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(org): Path<String>,
) -> ApiResult<Json<OrgView>> {
    let at = state.service().authorize::<Read>(&caller, &org).await?;
    Ok(Json(OrgView::new(at.org().clone(), at.role())))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}",
    tag = "orgs",
    params(crate::api::openapi::OrgPath),
    responses((status = 204, description = "Deleted, with its robots and tokens"), crate::api::openapi::Failure)
)]
async fn delete_org(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(org): Path<String>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<DeleteOrg>(&caller, &org).await?;
    state.service().delete_org(&at).await?;
    Ok(StatusCode::NO_CONTENT)
}
